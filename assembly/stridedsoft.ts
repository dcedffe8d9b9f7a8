// Soft targets with the class axis not last, small K (SIMD builds): softsmall.ts's softSmall
// with the four lanes' columns loaded straight from the [outers][K][width] layout (strided.ts)
// instead of transposed from rows, as strided.ts's stridedSmall does for small.ts's class-label
// kernel. Logits and targets share the layout; the gradient is stored into it the same way.
//
// Lane j of a group is position r + j (row r + j of the transposed call). Four positions of
// one outer are contiguous: class k of all four is one vector load at o0 + k·4·width. A group
// across an outer's end, or the short last group (its spare lanes repeat its last position,
// as softSmall's repeat its last row), is loaded lane by lane.
//
// Every step after the loads is softSmall's, lane for lane, in the same order — the max over
// the columns in its grouping (four classes, then a pair, then one: pmax is not commutative
// for ±0 and NaN), the B and X folds every 8 columns, expColumns, the exact pass for confident
// rows (over the row gathered into contiguous scratch, as softSmall reads it), the f32 loss,
// alpha, and the gradient column by column — so each row's loss, lse and gradient have
// softSmall's bits, and the row losses are summed onto sumIn group by group as softSmall sums
// them (addRowLosses), so the sum has the transposed call's bits too (chunks start on
// multiples of four positions, src/layout.ts stridedChunk).
//
// Scratch: softSmall's (16·G·(2K + 5) bytes, G = blockGroups(K)) at `scratch`; at `extra` the G
// groups' lane offsets (16·G bytes), then one row of K floats for the exact pass.

import { madd } from './exp';
import { blockGroups, storeRowsTail } from './small';
import { softColumnSums, softExps, softLosses } from './softsmall';
import { exactIfConfident, groupOffsets, loadColumns, startGroups } from './columns';

/**
 * softSmall (softsmall.ts) for logits, targets and grad (0 or the logits) laid out
 * [outers][K][width], K ≤ 64, four positions or more in the call. Returns sumIn + the row
 * losses, as softSmall does; writes every row's loss (losses is required).
 */
export function stridedSoftSmall(
  logits: usize, targets: usize, grad: usize, outers: i32, K: i32, width: i32,
  smoothing: f64, scale: f64, weight: usize, temperature: f64,
  losses: usize, lseOut: usize, sumIn: f64, scratch: usize, extra: usize,
): f64 {
  let sum = sumIn;
  const rows = outers * width;
  const stride = <usize>width << 2;
  const groupBytes = <usize>K << 4;
  const G = blockGroups(K);
  const zCols = scratch;
  const uCols = zCols + <usize>G * groupBytes;
  const maxes = uCols + <usize>G * groupBytes;
  const sums = maxes + (<usize>G << 4);
  const bSums = sums + (<usize>G << 4);
  const xSums = bSums + (<usize>G << 4);
  const alphaAt = xSums + (<usize>G << 4);
  const offsets = extra;
  const exactRow = extra + (<usize>G << 4);
  const invT = 1 / temperature;
  const keepV = f32x4.splat(<f32>(1 - smoothing));
  const spreadV = f32x4.splat(<f32>(smoothing / <f64>K));
  const invTV = f32x4.splat(<f32>invT);
  for (let block = 0; block < rows; block += G << 2) {
    const groups = min(G, (rows - block + 3) >> 2);
    // Stage 1a: per group, the logit columns (loaded with stride) and their max, then the u
    // columns, x, B and X as softSmall (columns.ts: the offsets, the loads, pmax's grouping).
    startGroups(block, width);
    for (let g = 0; g < groups; g++) {
      const zc = zCols + <usize>g * groupBytes;
      const uc = uCols + <usize>g * groupBytes;
      const ov = groupOffsets(block + (g << 2), rows, K, width, offsets + (<usize>g << 4));
      const mv = loadColumns(logits, ov, stride, K, zc, true);
      loadColumns(targets, ov, stride, K, uc, true);
      v128.store(maxes + (<usize>g << 4), mv);
      softColumnSums(zc, uc, K, mv, weight, keepV, spreadV, invTV, bSums + (<usize>g << 4), xSums + (<usize>g << 4));
    }
    // Stage 1b: as softSmall.
    const confident = softExps(zCols, groupBytes, K, groups, sums, alphaAt, grad != 0);
    // Confident rows: S − 1 from the exact pass over the row's logits (still intact: the
    // gradient is written in stage 3), gathered into one contiguous row first.
    if (v128.any_true(confident)) exactIfConfident(sums, maxes, offsets, groups, block, rows, logits, K, stride, exactRow, <f32>invT);
    // Stage 2: as softSmall.
    const gradScaleV = f32x4.splat(<f32>(scale * invT));
    sum = softLosses(sum, block, rows, groups, sums, bSums, xSums, maxes, alphaAt, invTV, gradScaleV, lseOut, losses, grad != 0);
    if (!grad) continue;
    // Stage 3: g = e·alpha − u·scale/T per column, stored with stride (no transpose back);
    // spare lanes alias the last position, stored before its real lane (storeRowsTail).
    const betaV = f32x4.neg(gradScaleV);
    for (let g = 0; g < groups; g++) {
      const zc = zCols + <usize>g * groupBytes;
      const uc = uCols + <usize>g * groupBytes;
      const alphas = v128.load(alphaAt + (<usize>g << 4));
      const ov = v128.load(offsets + (<usize>g << 4));
      const q0 = grad + <usize>i32x4.extract_lane(ov, 0);
      const q1 = grad + <usize>i32x4.extract_lane(ov, 1);
      const q2 = grad + <usize>i32x4.extract_lane(ov, 2);
      const q3 = grad + <usize>i32x4.extract_lane(ov, 3);
      if (q3 - q0 == 12) {
        let to = q0;
        for (let c = 0; c < K; c++) {
          v128.store(to, madd(v128.load(zc + (<usize>c << 4)), alphas, f32x4.mul(v128.load(uc + (<usize>c << 4)), betaV)));
          to += stride;
        }
      } else {
        for (let c = 0; c < K; c++) {
          storeRowsTail(q0, q1, q2, q3, <usize>c * stride, madd(v128.load(zc + (<usize>c << 4)), alphas, f32x4.mul(v128.load(uc + (<usize>c << 4)), betaV)));
        }
      }
    }
  }
  return sum;
}
