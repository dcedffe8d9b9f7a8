// Soft targets for small K (SIMD builds): softRows' math (see soft.ts) with four rows per
// vector, as small.ts does for class labels. Knowledge distillation and mixup often run on
// 10 or 100 classes, where the row-wise kernel spends more on per-row work than on exps.
//
// Per block of G = blockGroups(K) groups of four rows, in three stages:
//   1. per group: logits transposed 4×4 into column vectors (max m), then targets
//      transposed into u = w·((1−ε)·t + ε/K) columns while the logit columns are rewritten
//      as x = (z − m)/T ≤ 0, with B = Σ u and X = Σ u·x (a term with u = 0 is 0, even
//      against a −∞ logit); then e = exp(x) over the columns (kept when the gradient is
//      wanted) and S − 1 (the exact 1s of the x = 0 counted apart, as in small.ts);
//   2. per group, lane-wise in f32 (loss = B·log S − X is a sum of terms ≥ 0): log S =
//      log1p(S − 1), lse
//      = m/T + log S, the loss, and the gradient's alpha = B/S·scale/T;
//   3. per group: g = e·alpha − u·scale/T, transposed back into the rows.
// Each row's numbers do not depend on its lane or group (a short last group repeats its
// last row); row losses are summed in f64 in row order, group by group as in small.ts.
// Scratch: 16·G·(2K + 5) bytes (must match scratchBytes in src/wasm/bridge.ts).

import { expConstant, log1p4, madd } from './exp';
import { CONFIDENT_SUM } from './rows';
import { addRowLosses, blockGroups, exactIfConfident, expColumns, gatherColumn, gatherTwoColumns, storeLanes, storeRows, storeRowsPair, storeRowsTail, transposeMax } from './small';

/**
 * Transposes the 4×4 block at column o (bytes) of rows p0…p3 into four column vectors at at
 * (small.ts transposeMax; its unused max compiles away).
 */
// @ts-ignore: decorator
@inline export function transposeBlock(p0: usize, p1: usize, p2: usize, p3: usize, o: usize, at: usize): void {
  transposeMax(p0, p1, p2, p3, o, at, f32x4.splat(0));
}

/**
 * Stage 1a's second half for one group (softSmall; stridedsoft.ts too): the target columns at
 * uc become u = w·((1−ε)·t + ε/K) and the logit columns at zc x = (z − m)/T ≤ 0, in place, with
 * B = Σ u and X = Σ u·x (a term with u = 0 is 0, even against a −∞ logit) stored as four f32
 * lanes at bAt and xAt: in f64 pairs of lanes, folded from f32 every 8 columns, so that the
 * soft loss B·log S − X keeps the row-wise kernel's accuracy up to K = 64.
 */
// @ts-ignore: decorator
@inline export function softColumnSums(
  zc: usize, uc: usize, K: i32, mv: v128, weight: usize, keepV: v128, spreadV: v128, invTV: v128, bAt: usize, xAt: usize,
): void {
  const zero = f32x4.splat(0);
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
  v128.store(bAt, i32x4.shuffle(f32x4.demote_f64x2_zero(b01), f32x4.demote_f64x2_zero(b23), 0, 1, 4, 5));
  v128.store(xAt, i32x4.shuffle(f32x4.demote_f64x2_zero(x01), f32x4.demote_f64x2_zero(x23), 0, 1, 4, 5));
}

/**
 * Stage 1b for a block's groups: e = exp(x) over each group's columns (x ≤ 0 already; kept
 * with `grad`) and S − 1 at sums (the exact 1s of the x = 0 counted apart, as in small.ts).
 * Returns the lanes whose S − 1 is below CONFIDENT_SUM (any set: the exact pass is due).
 */
// @ts-ignore: decorator
@inline export function softExps(zCols: usize, groupBytes: usize, K: i32, groups: i32, sums: usize, alphaAt: usize, grad: bool): v128 {
  const zero = f32x4.splat(0);
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
  return confident;
}

/**
 * Stage 2 for a block's groups, four rows at once, lane-wise in f32: log S = log1p(S − 1),
 * lse = m/T + log S, the loss B·log S − X (stored where losses ≠ 0) added to sum in row order
 * (addRowLosses), and with `grad` the gradient's alpha = B/S·scale/T. Returns the sum.
 */
// @ts-ignore: decorator
@inline export function softLosses(
  sum: f64, block: i32, rows: i32, groups: i32, sums: usize, bSums: usize, xSums: usize, maxes: usize, alphaAt: usize,
  invTV: v128, gradScaleV: v128, lseOut: usize, losses: usize, grad: bool,
): f64 {
  for (let g = 0; g < groups; g++) {
    const r = block + (g << 2);
    const count = min(rows - 1, r + 3) - r + 1;
    const sMinusOne = v128.load(sums + (<usize>g << 4));
    const B = v128.load(bSums + (<usize>g << 4));
    const logS = log1p4(sMinusOne);
    if (lseOut) storeLanes(lseOut + (<usize>r << 2), madd(v128.load(maxes + (<usize>g << 4)), invTV, logS), count);
    const loss = f32x4.sub(f32x4.mul(B, logS), v128.load(xSums + (<usize>g << 4)));
    if (losses) storeLanes(losses + (<usize>r << 2), loss, count);
    sum = addRowLosses(sum, loss, count);
    if (grad) v128.store(alphaAt + (<usize>g << 4), f32x4.mul(f32x4.div(B, f32x4.add(sMinusOne, f32x4.splat(1))), gradScaleV));
  }
  return sum;
}

export function softSmall(
  logits: usize, targets: usize, grad: usize, rows: i32, K: i32,
  smoothing: f64, scale: f64, weight: usize, temperature: f64,
  losses: usize, lseOut: usize, sumIn: f64, scratch: usize,
): f64 {
  let sum = sumIn;
  const rowBytes = <usize>K << 2;
  const groupBytes = <usize>K << 4;
  const G = blockGroups(K);
  const zCols = scratch;
  const uCols = zCols + <usize>G * groupBytes;
  const maxes = uCols + <usize>G * groupBytes;
  const sums = maxes + (<usize>G << 4);
  const bSums = sums + (<usize>G << 4);
  const xSums = bSums + (<usize>G << 4);
  const alphaAt = xSums + (<usize>G << 4);
  const invT = 1 / temperature;
  const keepV = f32x4.splat(<f32>(1 - smoothing));
  const spreadV = f32x4.splat(<f32>(smoothing / <f64>K));
  const invTV = f32x4.splat(<f32>invT);
  for (let block = 0; block < rows; block += G << 2) {
    const groups = min(G, (rows - block + 3) >> 2);
    // Stage 1a: per group, the logit columns and their max, then the u columns, x, B and X.
    for (let g = 0; g < groups; g++) {
      const r = block + (g << 2);
      const last = min(rows - 1, r + 3);
      const zc = zCols + <usize>g * groupBytes;
      const uc = uCols + <usize>g * groupBytes;
      const o1 = <usize>min(r + 1, last) * rowBytes;
      const o2 = <usize>min(r + 2, last) * rowBytes;
      const o0 = <usize>r * rowBytes;
      const o3 = <usize>last * rowBytes;
      let mv = f32x4.splat(-Infinity);
      let k = 0;
      for (; k + 4 <= K; k += 4) {
        mv = transposeMax(logits + o0, logits + o1, logits + o2, logits + o3, <usize>k << 2, zc + (<usize>k << 4), mv);
      }
      if (k + 2 <= K) {
        mv = f32x4.pmax(mv, gatherTwoColumns(logits + o0, logits + o1, logits + o2, logits + o3, <usize>k << 2, zc + (<usize>k << 4)));
        k += 2;
      }
      if (k < K) {
        const v = gatherColumn(logits + o0, logits + o1, logits + o2, logits + o3, <usize>k << 2);
        v128.store(zc + (<usize>k << 4), v);
        mv = f32x4.pmax(mv, v);
      }
      v128.store(maxes + (<usize>g << 4), mv);
      k = 0;
      for (; k + 4 <= K; k += 4) {
        transposeBlock(targets + o0, targets + o1, targets + o2, targets + o3, <usize>k << 2, uc + (<usize>k << 4));
      }
      if (k + 2 <= K) {
        gatherTwoColumns(targets + o0, targets + o1, targets + o2, targets + o3, <usize>k << 2, uc + (<usize>k << 4));
        k += 2;
      }
      if (k < K) {
        v128.store(uc + (<usize>k << 4), gatherColumn(targets + o0, targets + o1, targets + o2, targets + o3, <usize>k << 2));
      }
      softColumnSums(zc, uc, K, mv, weight, keepV, spreadV, invTV, bSums + (<usize>g << 4), xSums + (<usize>g << 4));
    }
    // Stage 1b: e = exp(x) over the columns (x ≤ 0 already), S − 1.
    const confident = softExps(zCols, groupBytes, K, groups, sums, alphaAt, grad != 0);
    // Confident rows: S − 1 from the exact pass over their logits (small.ts).
    if (v128.any_true(confident)) exactIfConfident(sums, maxes, groups, block, rows, logits, K, <f32>invT);
    // Stage 2: per group, four rows at once: log S, lse, loss, alpha.
    const gradScaleV = f32x4.splat(<f32>(scale * invT));
    sum = softLosses(sum, block, rows, groups, sums, bSums, xSums, maxes, alphaAt, invTV, gradScaleV, lseOut, losses, grad != 0);
    if (!grad) continue;
    // Stage 3: g = e·alpha − u·scale/T, back to the rows (storeRows: spare lanes alias the
    // last row, stored before its real lane).
    const betaV = f32x4.neg(gradScaleV);
    for (let g = 0; g < groups; g++) {
      const r = block + (g << 2);
      const last = min(rows - 1, r + 3);
      const zc = zCols + <usize>g * groupBytes;
      const uc = uCols + <usize>g * groupBytes;
      const alphas = v128.load(alphaAt + (<usize>g << 4));
      const q0 = grad + <usize>r * rowBytes;
      const q1 = grad + <usize>min(r + 1, last) * rowBytes;
      const q2 = grad + <usize>min(r + 2, last) * rowBytes;
      const q3 = grad + <usize>last * rowBytes;
      let c = 0;
      for (; c + 4 <= K; c += 4) {
        const eAt = zc + (<usize>c << 4);
        const uAt = uc + (<usize>c << 4);
        const o = <usize>c << 2;
        storeRows(q0, q1, q2, q3, o,
          madd(v128.load(eAt), alphas, f32x4.mul(v128.load(uAt), betaV)),
          madd(v128.load(eAt, 16), alphas, f32x4.mul(v128.load(uAt, 16), betaV)),
          madd(v128.load(eAt, 32), alphas, f32x4.mul(v128.load(uAt, 32), betaV)),
          madd(v128.load(eAt, 48), alphas, f32x4.mul(v128.load(uAt, 48), betaV)));
      }
      if (c + 2 <= K) {
        const eAt = zc + (<usize>c << 4);
        const uAt = uc + (<usize>c << 4);
        storeRowsPair(q0, q1, q2, q3, <usize>c << 2,
          madd(v128.load(eAt), alphas, f32x4.mul(v128.load(uAt), betaV)),
          madd(v128.load(eAt, 16), alphas, f32x4.mul(v128.load(uAt, 16), betaV)));
        c += 2;
      }
      if (c < K) {
        const o = <usize>c << 2;
        storeRowsTail(q0, q1, q2, q3, o, madd(v128.load(zc + (<usize>c << 4)), alphas, f32x4.mul(v128.load(uc + (<usize>c << 4)), betaV)));
      }
    }
  }
  return sum;
}
