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

import { expConstant, log1p4, madd } from './exp';
import { CONFIDENT_SUM } from './rows';
import { addRowLosses, blockGroups, expColumns, storeLanes, storeRowsTail } from './small';
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
  const zero = f32x4.splat(0);
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
      // B and X as softSmall: f64 pairs of lanes, folded from f32 every 8 columns.
      let b01 = f64x2.splat(0), b23 = f64x2.splat(0), x01 = f64x2.splat(0), x23 = f64x2.splat(0);
      for (let k = 0; k < K; ) {
        const end = min(K, k + 8);
        let bv = zero;
        let xv = zero;
        for (; k < end; k++) {
          const zAt = zc + (<usize>k << 4);
          const uAt = uc + (<usize>k << 4);
          let u = madd(v128.load(uAt), keepV, spreadV);
          if (weight) u = f32x4.mul(u, f32x4.splat(load<f32>(weight + (<usize>k << 2))));
          const x = f32x4.mul(f32x4.sub(v128.load(zAt), mv), invTV);
          v128.store(uAt, u);
          v128.store(zAt, x);
          bv = f32x4.add(bv, u);
          // u·x where u ≠ 0, else 0 (0·−∞ would be NaN).
          xv = f32x4.add(xv, v128.and(f32x4.mul(u, x), f32x4.ne(u, zero)));
        }
        b01 = f64x2.add(b01, f64x2.promote_low_f32x4(bv));
        b23 = f64x2.add(b23, f64x2.promote_low_f32x4(i32x4.shuffle(bv, bv, 2, 3, 2, 3)));
        x01 = f64x2.add(x01, f64x2.promote_low_f32x4(xv));
        x23 = f64x2.add(x23, f64x2.promote_low_f32x4(i32x4.shuffle(xv, xv, 2, 3, 2, 3)));
      }
      v128.store(bSums + (<usize>g << 4), i32x4.shuffle(f32x4.demote_f64x2_zero(b01), f32x4.demote_f64x2_zero(b23), 0, 1, 4, 5));
      v128.store(xSums + (<usize>g << 4), i32x4.shuffle(f32x4.demote_f64x2_zero(x01), f32x4.demote_f64x2_zero(x23), 0, 1, 4, 5));
    }
    // Stage 1b: as softSmall.
    const E0 = expConstant(0), E1 = expConstant(1), E2 = expConstant(2), E3 = expConstant(3), E4 = expConstant(4);
    const E5 = expConstant(5), E6 = expConstant(6), E7 = expConstant(7), E8 = expConstant(8), E9 = expConstant(9);
    let confident = i32x4.splat(0);
    for (let g = 0; g < groups; g++) {
      const zc = zCols + <usize>g * groupBytes;
      const out = sums + (<usize>g << 4);
      const unused = alphaAt + (<usize>g << 4); // no gap sum here; alpha is written after
      const sMinusOne = grad
        ? expColumns(zc, K, zero, 0, out, unused, true, false, false, true, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9)
        : expColumns(zc, K, zero, 0, out, unused, false, false, false, true, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
      confident = v128.or(confident, f32x4.lt(sMinusOne, f32x4.splat(CONFIDENT_SUM)));
    }
    // Confident rows: S − 1 from the exact pass over the row's logits (still intact: the
    // gradient is written in stage 3), gathered into one contiguous row first.
    if (v128.any_true(confident)) exactIfConfident(sums, maxes, offsets, groups, block, rows, logits, K, stride, exactRow, <f32>invT);
    // Stage 2: as softSmall.
    const gradScaleV = f32x4.splat(<f32>(scale * invT));
    for (let g = 0; g < groups; g++) {
      const r = block + (g << 2);
      const count = min(rows - 1, r + 3) - r + 1;
      const sMinusOne = v128.load(sums + (<usize>g << 4));
      const B = v128.load(bSums + (<usize>g << 4));
      const logS = log1p4(sMinusOne);
      if (lseOut) storeLanes(lseOut + (<usize>r << 2), madd(v128.load(maxes + (<usize>g << 4)), invTV, logS), count);
      const loss = f32x4.sub(f32x4.mul(B, logS), v128.load(xSums + (<usize>g << 4)));
      storeLanes(losses + (<usize>r << 2), loss, count);
      sum = addRowLosses(sum, loss, count);
      if (grad) v128.store(alphaAt + (<usize>g << 4), f32x4.mul(f32x4.div(B, f32x4.add(sMinusOne, f32x4.splat(1))), gradScaleV));
    }
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
