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
import { CONFIDENT_SUM, rowExpSumMinusOneExact } from './rows';
import { addRowLosses, blockGroups, expColumns, gatherColumn, storeLanes, storeRowsTail } from './small';

/** Byte offset of position p's class 0 in a [outers][K][width] block. */
// @ts-ignore: decorator
@inline function offsetOf(p: i32, K: i32, width: i32): usize {
  const o = p / width;
  return (<usize>o * <usize>K * <usize>width + <usize>(p - o * width)) << 2;
}

/**
 * Class k of the group's four positions as one vector (lane j from position j): one load when
 * they are contiguous (p1…p3 then unused), else one load per lane.
 */
// @ts-ignore: decorator
@inline function column(p0: usize, p1: usize, p2: usize, p3: usize, o: usize, contiguous: bool): v128 {
  return contiguous ? v128.load(p0 + o) : gatherColumn(p0, p1, p2, p3, o);
}

/**
 * The K columns of the group's positions (at p0…p3, classes `stride` bytes apart) stored at
 * cols, their pmax returned in softSmall's grouping (transposeMax per four classes, then
 * gatherTwoColumns' pair, then the last one). The targets' max is unused and compiles away.
 */
// @ts-ignore: decorator
@inline function loadColumns(p0: usize, p1: usize, p2: usize, p3: usize, stride: usize, K: i32, cols: usize, contiguous: bool): v128 {
  let mv = f32x4.splat(-Infinity);
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    const o = <usize>k * stride;
    const c0 = column(p0, p1, p2, p3, o, contiguous);
    const c1 = column(p0, p1, p2, p3, o + stride, contiguous);
    const c2 = column(p0, p1, p2, p3, o + 2 * stride, contiguous);
    const c3 = column(p0, p1, p2, p3, o + 3 * stride, contiguous);
    const to = cols + (<usize>k << 4);
    v128.store(to, c0);
    v128.store(to, c1, 16);
    v128.store(to, c2, 32);
    v128.store(to, c3, 48);
    mv = f32x4.pmax(mv, f32x4.pmax(f32x4.pmax(c0, c1), f32x4.pmax(c2, c3)));
  }
  if (k + 2 <= K) {
    const o = <usize>k * stride;
    const first = column(p0, p1, p2, p3, o, contiguous);
    const second = column(p0, p1, p2, p3, o + stride, contiguous);
    v128.store(cols + (<usize>k << 4), first);
    v128.store(cols + (<usize>k << 4), second, 16);
    mv = f32x4.pmax(mv, f32x4.pmax(first, second));
    k += 2;
  }
  if (k < K) {
    const v = column(p0, p1, p2, p3, <usize>k * stride, contiguous);
    v128.store(cols + (<usize>k << 4), v);
    mv = f32x4.pmax(mv, v);
  }
  return mv;
}

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
    // columns, x, B and X as softSmall. The block's first position as (outer, inner index),
    // advanced four at a time (a division per group costs a tenth of the kernel at K = 21).
    let outer = block / width;
    let i = block - outer * width;
    for (let g = 0; g < groups; g++) {
      const r = block + (g << 2);
      const last = min(rows - 1, r + 3);
      const zc = zCols + <usize>g * groupBytes;
      const uc = uCols + <usize>g * groupBytes;
      let o0: usize, o1: usize, o2: usize, o3: usize;
      if (i + 3 < width && r + 3 < rows) {
        o0 = (<usize>outer * <usize>K * <usize>width + <usize>i) << 2;
        o1 = o0 + 4;
        o2 = o0 + 8;
        o3 = o0 + 12;
      } else {
        o0 = offsetOf(r, K, width);
        o1 = offsetOf(min(r + 1, last), K, width);
        o2 = offsetOf(min(r + 2, last), K, width);
        o3 = offsetOf(last, K, width);
      }
      i += 4;
      if (i >= width) {
        outer = (r + 4) / width;
        i = r + 4 - outer * width;
      }
      let ov = i32x4.splat(<i32>o0);
      ov = i32x4.replace_lane(ov, 1, <i32>o1);
      ov = i32x4.replace_lane(ov, 2, <i32>o2);
      ov = i32x4.replace_lane(ov, 3, <i32>o3);
      v128.store(offsets + (<usize>g << 4), ov);
      let mv: v128;
      if (o3 - o0 == 12) {
        mv = loadColumns(logits + o0, 0, 0, 0, stride, K, zc, true);
        loadColumns(targets + o0, 0, 0, 0, stride, K, uc, true);
      } else {
        mv = loadColumns(logits + o0, logits + o1, logits + o2, logits + o3, stride, K, zc, false);
        loadColumns(targets + o0, targets + o1, targets + o2, targets + o3, stride, K, uc, false);
      }
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

/**
 * small.ts's exactIfConfident for the strided layout: each confident lane's S − 1 (below
 * CONFIDENT_SUM) replaced by rowExpSumMinusOneExact over its position's logits, copied into
 * the contiguous row at exactRow (the exact pass's lanes run along the row, as in softSmall).
 */
function exactIfConfident(
  sums: usize, maxes: usize, offsets: usize, groups: i32, block: i32, rows: i32,
  logits: usize, K: i32, stride: usize, exactRow: usize, scale: f32,
): void {
  for (let g = 0; g < groups; g++) {
    const at = sums + (<usize>g << 4);
    if (!v128.any_true(f32x4.lt(v128.load(at), f32x4.splat(CONFIDENT_SUM)))) continue;
    const r = block + (g << 2);
    for (let j = 0; j < 4 && r + j < rows; j++) {
      const laneAt = at + (<usize>j << 2);
      if (load<f32>(laneAt) < CONFIDENT_SUM) {
        const from = logits + <usize>load<i32>(offsets + (<usize>g << 4) + (<usize>j << 2));
        for (let k = 0; k < K; k++) store<f32>(exactRow + (<usize>k << 2), load<f32>(from + <usize>k * stride));
        store<f32>(laneAt, <f32>rowExpSumMinusOneExact(exactRow, K, load<f32>(maxes + (<usize>g << 4) + (<usize>j << 2)), scale));
      }
    }
  }
}
