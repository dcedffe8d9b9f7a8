// Small K (SIMD builds): four rows per vector instead of four classes per vector.
//
// With K = 10 a row is two and a half vectors, so the per-row work (reductions across
// lanes, a log, the label fix-up) would cost as much as the exps. Here lane j of every
// vector belongs to row r+j: four rows are transposed 4×4 into scratch (K column vectors),
// so max, sums, exps, the per-row loss (log included) and the gradient are plain lane-wise
// operations, and each row's numbers never depend on which lane or group it landed in (a
// short last group repeats its last row in the spare lanes). The math is that of xent.ts;
// the per-row loss is evaluated in f32 lanes (every term is ≥ 0, so it keeps a few ulp)
// and summed in f64, group by group in row order. Softcap takes the row-wise kernel.
//
// Up to K = 64: each lane then sums at most 64 terms in f32, as the row-wise kernel does
// between its f64 folds, so the accuracy is the same (~2–3·10⁻⁷ relative on a row loss).
// It beat the row-wise kernel up to K = 128 (K = 33: 2.3 → 1.3 ns/logit; K = 100: 1.37 →
// 1.17), but past 64 the longer f32 sums and the f32 log doubled the worst row error.

import { expMinus4k, expConstant, log1p4, madd } from './exp';
import { rowExpSumMinusOneExact, CONFIDENT_SUM } from './rows';

// @ts-ignore: decorator
@inline export const SMALL_K: i32 = 64;

// @ts-ignore: decorator
@inline export function lane(v: v128, j: i32): f32 {
  // extract_lane takes a constant index.
  if (j == 0) return f32x4.extract_lane(v, 0);
  if (j == 1) return f32x4.extract_lane(v, 1);
  if (j == 2) return f32x4.extract_lane(v, 2);
  return f32x4.extract_lane(v, 3);
}

/** Stores the first `count` lanes of v at ptr, ptr + 4, … */
// @ts-ignore: decorator
@inline export function storeLanes(ptr: usize, v: v128, count: i32): void {
  if (count == 4) {
    v128.store(ptr, v);
    return;
  }
  store<f32>(ptr, f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(ptr, f32x4.extract_lane(v, 1), 4);
  if (count > 2) store<f32>(ptr, f32x4.extract_lane(v, 2), 8);
}

/** Column o (bytes) of rows p0…p3 as one vector: lane j from row j. */
// @ts-ignore: decorator
@inline export function gatherColumn(p0: usize, p1: usize, p2: usize, p3: usize, o: usize): v128 {
  let v = f32x4.splat(load<f32>(p0 + o));
  v = f32x4.replace_lane(v, 1, load<f32>(p1 + o));
  v = f32x4.replace_lane(v, 2, load<f32>(p2 + o));
  return f32x4.replace_lane(v, 3, load<f32>(p3 + o));
}

/**
 * The 4×4 block at column o (bytes) of rows p0…p3 transposed into four column vectors stored
 * at at, at + 16, …; returns pmax(mv, the four columns). Each row vector is loaded once.
 */
// @ts-ignore: decorator
@inline export function transposeMax(p0: usize, p1: usize, p2: usize, p3: usize, o: usize, at: usize, mv: v128): v128 {
  const a = v128.load(p0 + o);
  const b = v128.load(p1 + o);
  const c = v128.load(p2 + o);
  const d = v128.load(p3 + o);
  const ab01 = i32x4.shuffle(a, b, 0, 4, 1, 5);
  const ab23 = i32x4.shuffle(a, b, 2, 6, 3, 7);
  const cd01 = i32x4.shuffle(c, d, 0, 4, 1, 5);
  const cd23 = i32x4.shuffle(c, d, 2, 6, 3, 7);
  const c0 = i32x4.shuffle(ab01, cd01, 0, 1, 4, 5);
  const c1 = i32x4.shuffle(ab01, cd01, 2, 3, 6, 7);
  const c2 = i32x4.shuffle(ab23, cd23, 0, 1, 4, 5);
  const c3 = i32x4.shuffle(ab23, cd23, 2, 3, 6, 7);
  v128.store(at, c0);
  v128.store(at, c1, 16);
  v128.store(at, c2, 32);
  v128.store(at, c3, 48);
  return f32x4.pmax(mv, f32x4.pmax(f32x4.pmax(c0, c1), f32x4.pmax(c2, c3)));
}

/**
 * Columns o and o + 4 (bytes) of rows p0…p3 as two vectors stored at at and at + 16, their
 * pmax returned: one 8-byte load per row and two shuffles, where two gatherColumn calls take
 * eight loads and six lane inserts (the K mod 4 tail of 2 or 3 columns).
 */
// @ts-ignore: decorator
@inline export function gatherTwoColumns(p0: usize, p1: usize, p2: usize, p3: usize, o: usize, at: usize): v128 {
  const v01 = v128.load64_lane(p1 + o, v128.load64_zero(p0 + o), 1); // a0 a1 b0 b1
  const v23 = v128.load64_lane(p3 + o, v128.load64_zero(p2 + o), 1); // c0 c1 d0 d1
  const first = i32x4.shuffle(v01, v23, 0, 2, 4, 6);
  const second = i32x4.shuffle(v01, v23, 1, 3, 5, 7);
  v128.store(at, first);
  v128.store(at, second, 16);
  return f32x4.pmax(first, second);
}

/**
 * sum + the first `count` lanes of the group's row losses, in f64. A full group adds its
 * rows in pairs, (l0 + l2) + (l1 + l3): one addition to `sum` per group instead of a chain of
 * four. Chunks hold whole groups (bridge.ts), so chunking does not change the result.
 */
// @ts-ignore: decorator
@inline export function addRowLosses(sum: f64, loss: v128, count: i32): f64 {
  if (count == 4) {
    const pair = f64x2.add(f64x2.promote_low_f32x4(loss), f64x2.promote_low_f32x4(i32x4.shuffle(loss, loss, 2, 3, 2, 3)));
    return sum + (f64x2.extract_lane(pair, 0) + f64x2.extract_lane(pair, 1));
  }
  sum += <f64>f32x4.extract_lane(loss, 0);
  if (count > 1) sum += <f64>f32x4.extract_lane(loss, 1);
  if (count > 2) sum += <f64>f32x4.extract_lane(loss, 2);
  return sum;
}

/**
 * Four gradient column vectors g0…g3 (lane j = row j, classes c…c+3) transposed back and
 * stored at byte offset o of rows q0…q3. Spare lanes of a short group alias the last row
 * with dummy values: q3 is stored first, so the real lane of that row, stored after, wins.
 */
// @ts-ignore: decorator
@inline export function storeRows(q0: usize, q1: usize, q2: usize, q3: usize, o: usize, g0: v128, g1: v128, g2: v128, g3: v128): void {
  const ab01 = i32x4.shuffle(g0, g1, 0, 4, 1, 5);
  const ab23 = i32x4.shuffle(g0, g1, 2, 6, 3, 7);
  const cd01 = i32x4.shuffle(g2, g3, 0, 4, 1, 5);
  const cd23 = i32x4.shuffle(g2, g3, 2, 6, 3, 7);
  v128.store(q3 + o, i32x4.shuffle(ab23, cd23, 2, 3, 6, 7));
  v128.store(q2 + o, i32x4.shuffle(ab23, cd23, 0, 1, 4, 5));
  v128.store(q1 + o, i32x4.shuffle(ab01, cd01, 2, 3, 6, 7));
  v128.store(q0 + o, i32x4.shuffle(ab01, cd01, 0, 1, 4, 5));
}

/**
 * Two tail columns a, b (lane j = row j) stored at byte offset o of rows q0…q3 as one 8-byte
 * piece per row, q3 first (as storeRows).
 */
// @ts-ignore: decorator
@inline export function storeRowsPair(q0: usize, q1: usize, q2: usize, q3: usize, o: usize, a: v128, b: v128): void {
  const low = i32x4.shuffle(a, b, 0, 4, 1, 5); // rows 0 and 1
  const high = i32x4.shuffle(a, b, 2, 6, 3, 7); // rows 2 and 3
  v128.store64_lane(q3 + o, high, 1);
  v128.store64_lane(q2 + o, high, 0);
  v128.store64_lane(q1 + o, low, 1);
  v128.store64_lane(q0 + o, low, 0);
}

/** The tail column v (lane j = row j) stored at byte offset o of rows q0…q3, q3 first. */
// @ts-ignore: decorator
@inline export function storeRowsTail(q0: usize, q1: usize, q2: usize, q3: usize, o: usize, v: v128): void {
  store<f32>(q3 + o, f32x4.extract_lane(v, 3));
  store<f32>(q2 + o, f32x4.extract_lane(v, 2));
  store<f32>(q1 + o, f32x4.extract_lane(v, 1));
  store<f32>(q0 + o, f32x4.extract_lane(v, 0));
}

/**
 * Pass 2 of one group: e = exp(x − m) for the K column vectors at cols (stored in place when
 * keepExps), S − 1 of their sum to `out` and, when gaps, the sum of the (weighted) gaps to
 * `gapOut` (S − 1 also returned). As in rows.ts, the max's exp (exactly 1) stays out of the
 * sum, so that a confident row's S − 1 keeps its tiny part: each lane keeps its largest exp
 * so far apart (top) and sums the smaller one of top and the new exp. After the last column
 * top is the max's exact 1 and the sum holds every other exp, ties included (a tie of the max
 * adds its 1, which is what S − 1 = (the others) + (ties − 1) asks). Two operations per column
 * (pmin, pmax) where a mask of x ≠ 0 and a count of the ties took three, and two registers fewer.
 * A NaN exp goes into the sum (pmin's first operand wins when a comparison is false). Two
 * columns per iteration; the sums still add them one after the other.
 */
// @ts-ignore: decorator
@inline export function expColumns(
  cols: usize, K: i32, mv: v128, w: usize, out: usize, gapOut: usize,
  keepExps: bool, gaps: bool, weighted: bool, centered: bool,
  E0: v128, E1: v128, E2: v128, E3: v128, E4: v128, E5: v128, E6: v128, E7: v128, E8: v128, E9: v128,
): v128 {
  let ev = f32x4.splat(0);
  let top = ev; // exps are ≥ 0: the first column's goes to top, a 0 to the sum
  let sv = ev;
  let k = 0;
  for (; k + 2 <= K; k += 2) {
    const at = cols + (<usize>k << 4);
    // centered: the columns hold x already (softsmall.ts), and x − 0 would be one more operation.
    const x0 = centered ? v128.load(at) : f32x4.sub(v128.load(at), mv);
    const x1 = centered ? v128.load(at, 16) : f32x4.sub(v128.load(at, 16), mv);
    const e0 = expMinus4k(x0, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
    const e1 = expMinus4k(x1, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
    if (keepExps) {
      v128.store(at, e0);
      v128.store(at, e1, 16);
    }
    // pmin(e, top) = top < e ? top : e, so a NaN e is summed; pmax(top, e) keeps top then.
    ev = f32x4.add(ev, f32x4.pmin(e0, top));
    top = f32x4.pmax(top, e0);
    ev = f32x4.add(ev, f32x4.pmin(e1, top));
    top = f32x4.pmax(top, e1);
    if (gaps) {
      if (weighted) {
        sv = madd(x0, f32x4.splat(load<f32>(w + (<usize>k << 2))), sv);
        sv = madd(x1, f32x4.splat(load<f32>(w + (<usize>k << 2), 4)), sv);
      } else {
        sv = f32x4.add(f32x4.add(sv, x0), x1);
      }
    }
  }
  if (k < K) {
    const at = cols + (<usize>k << 4);
    const x = centered ? v128.load(at) : f32x4.sub(v128.load(at), mv);
    const e = expMinus4k(x, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
    if (keepExps) v128.store(at, e);
    ev = f32x4.add(ev, f32x4.pmin(e, top));
    top = f32x4.pmax(top, e);
    if (gaps) sv = weighted ? madd(x, f32x4.splat(load<f32>(w + (<usize>k << 2))), sv) : f32x4.add(sv, x);
  }
  // top is exactly 1 where the max is finite (its gap is 0); a NaN or ±∞ max made the sum NaN.
  const sMinusOne = f32x4.add(ev, f32x4.sub(top, f32x4.splat(1)));
  v128.store(out, sMinusOne);
  v128.store(gapOut, sv);
  return sMinusOne;
}

/**
 * After stage 1 of a block: the S − 1 lanes (at sums, one vector per group, maxima at
 * maxes) of confident rows, below CONFIDENT_SUM, replaced by rowExpSumMinusOneExact over
 * the row's logits (still intact: the gradient is written in stage 3). A loop of its own:
 * inside stage 2 the rare calls would make V8 keep that loop's vectors in memory.
 */
export function exactIfConfident(sums: usize, maxes: usize, groups: i32, block: i32, rows: i32, logits: usize, K: i32, scale: f32): void {
  const rowBytes = <usize>K << 2;
  for (let g = 0; g < groups; g++) {
    const at = sums + (<usize>g << 4);
    const low = f32x4.lt(v128.load(at), f32x4.splat(CONFIDENT_SUM));
    if (!v128.any_true(low)) continue;
    const r = block + (g << 2);
    for (let j = 0; j < 4 && r + j < rows; j++) {
      const lane = at + (<usize>j << 2);
      if (load<f32>(lane) < CONFIDENT_SUM) {
        store<f32>(lane, <f32>rowExpSumMinusOneExact(logits + <usize>(r + j) * rowBytes, K, load<f32>(maxes + (<usize>g << 4) + (<usize>j << 2)), scale));
      }
    }
  }
}

/**
 * Pass 2 of one group (expColumns) with the flags as compile-time constants: each combination
 * its own loop. Returns the lanes' S − 1, as expColumns does.
 */
// @ts-ignore: decorator
@inline export function expGroup(
  cols: usize, K: i32, mv: v128, weight: usize, out: usize, gapOut: usize, keepExps: bool, smoothed: bool,
  E0: v128, E1: v128, E2: v128, E3: v128, E4: v128, E5: v128, E6: v128, E7: v128, E8: v128, E9: v128,
): v128 {
  if (keepExps) {
    if (!smoothed) return expColumns(cols, K, mv, 0, out, gapOut, true, false, false, false, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
    else if (weight) return expColumns(cols, K, mv, weight, out, gapOut, true, true, true, false, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
    return expColumns(cols, K, mv, 0, out, gapOut, true, true, false, false, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
  } else {
    if (!smoothed) return expColumns(cols, K, mv, 0, out, gapOut, false, false, false, false, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
    else if (weight) return expColumns(cols, K, mv, weight, out, gapOut, false, true, true, false, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
    return expColumns(cols, K, mv, 0, out, gapOut, false, true, false, false, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
  }
}

/** The class weights at byte offsets c0…c3, one per lane. */
// @ts-ignore: decorator
@inline export function gatherWeights(weight: usize, c0: usize, c1: usize, c2: usize, c3: usize): v128 {
  let wy = f32x4.splat(load<f32>(weight + c0));
  wy = f32x4.replace_lane(wy, 1, load<f32>(weight + c1));
  wy = f32x4.replace_lane(wy, 2, load<f32>(weight + c2));
  return f32x4.replace_lane(wy, 3, load<f32>(weight + c3));
}

/**
 * Stage 2 of one group, four rows at once in f32 (every loss term is ≥ 0, so f32 keeps the row
 * loss to a few ulp): returns the rows' losses (0 for ignored rows), stores the first `count`
 * lse lanes at lseAt (unless 0) and, when alphaAt ≠ 0, the gradient's alpha and label term.
 */
// @ts-ignore: decorator
@inline export function groupLoss(
  mv: v128, sv: v128, sMinusOne: v128, zy: v128, wy: v128, ignored: v128,
  keepV: v128, spreadV: v128, weightSumV: v128, zLossV: v128, scaleV: v128, smoothed: bool, zLossOn: bool,
  lseAt: usize, count: i32, alphaAt: usize, fixAt: usize,
): v128 {
  const logS = log1p4(sMinusOne);
  const lse = f32x4.add(mv, logS);
  if (lseAt) storeLanes(lseAt, lse, count);
  // (1−ε)·w_y·(log S + m − z_y) + (ε/K)·(W·log S − Σ_k w_k·(z_k − m)) + zLoss·lse²
  let loss = f32x4.mul(f32x4.mul(keepV, wy), f32x4.add(logS, f32x4.sub(mv, zy)));
  if (smoothed) loss = madd(spreadV, f32x4.sub(f32x4.mul(weightSumV, logS), sv), loss);
  if (zLossOn) loss = madd(f32x4.mul(zLossV, lse), lse, loss);
  loss = v128.andnot(loss, ignored);
  if (alphaAt) {
    // alpha = A/S·scale with A = (1−ε)·w_y + (ε/K)·W + 2·zLoss·lse; fix = (1−ε)·w_y·scale.
    let A = madd(keepV, wy, f32x4.mul(spreadV, weightSumV));
    if (zLossOn) A = madd(f32x4.mul(zLossV, f32x4.splat(2)), lse, A);
    const S = f32x4.add(sMinusOne, f32x4.splat(1));
    v128.store(alphaAt, v128.andnot(f32x4.mul(f32x4.div(A, S), scaleV), ignored));
    v128.store(fixAt, v128.andnot(f32x4.mul(f32x4.mul(keepV, wy), scaleV), ignored));
  }
  return loss;
}

/**
 * Rows are taken in blocks of blockGroups(K) groups of four, in three stages per block: (1)
 * transpose, max and exps per group; (2) the per-row loss for every group of the block;
 * (3) the gradient per group. Stage 2 is a chain of dependent steps (a log, a division)
 * per group; run back to back for independent groups, they overlap in the CPU instead of
 * stalling between the passes of one group.
 *
 * Scratch: G·K column vectors, then G vectors each of m, S, the gap sum, alpha and the label
 * term, G = blockGroups(K): 16·G·(K + 5) bytes, at most 18 KiB (must match scratchBytes in
 * src/wasm/bridge.ts). Fewer groups per block for larger K keep a block's columns in L1.
 */
// @ts-ignore: decorator
@inline export function blockGroups(K: i32): i32 {
  return K <= 32 ? 32 : 16;
}

export function xentSmall(
  logits: usize, grad: usize, labels: usize, rows: i32, K: i32,
  smoothing: f64, scale: f64, ignoreIndex: i32,
  weight: usize, weightSum: f64, zLoss: f64,
  scratch: usize, losses: usize, lseOut: usize, sumIn: f64,
): f64 {
  let sum = sumIn;
  const eps = smoothing;
  const epsOverK = eps / <f64>K;
  const rowBytes = <usize>K << 2;
  const beta = <f32>(epsOverK * scale);
  const smoothed = eps > 0;
  const groupBytes = <usize>K << 4;
  const G = blockGroups(K);
  const maxes = scratch + <usize>G * groupBytes;
  const sums = maxes + (<usize>G << 4);
  const gapSums = sums + (<usize>G << 4);
  const alphaAt = gapSums + (<usize>G << 4);
  const fixAt = alphaAt + (<usize>G << 4);
  for (let block = 0; block < rows; block += G << 2) {
    const groups = min(G, (rows - block + 3) >> 2);
    // Stage 1: per group, pass 1 (transpose, max) and pass 2 (exps, sums).
    const E0 = expConstant(0), E1 = expConstant(1), E2 = expConstant(2), E3 = expConstant(3), E4 = expConstant(4);
    const E5 = expConstant(5), E6 = expConstant(6), E7 = expConstant(7), E8 = expConstant(8), E9 = expConstant(9);
    for (let g = 0; g < groups; g++) {
      const r = block + (g << 2);
      const last = min(rows - 1, r + 3);
      const cols = scratch + <usize>g * groupBytes;
      // Row pointers of the four lanes (spare lanes repeat the last row).
      const p0 = logits + <usize>r * rowBytes;
      let p1: usize, p2: usize, p3: usize;
      if (last == r + 3) {
        p1 = p0 + rowBytes;
        p2 = p1 + rowBytes;
        p3 = p2 + rowBytes;
      } else {
        p1 = logits + <usize>min(r + 1, last) * rowBytes;
        p2 = logits + <usize>min(r + 2, last) * rowBytes;
        p3 = logits + <usize>last * rowBytes;
      }
      // Pass 1: 4×4 transposes of row vectors (single gathers for the K mod 4 tail), max.
      let mv = f32x4.splat(-Infinity);
      let k = 0;
      for (; k + 4 <= K; k += 4) mv = transposeMax(p0, p1, p2, p3, <usize>k << 2, cols + (<usize>k << 4), mv);
      if (k + 2 <= K) {
        mv = f32x4.pmax(mv, gatherTwoColumns(p0, p1, p2, p3, <usize>k << 2, cols + (<usize>k << 4)));
        k += 2;
      }
      if (k < K) {
        const v = gatherColumn(p0, p1, p2, p3, <usize>k << 2);
        v128.store(cols + (<usize>k << 4), v);
        mv = f32x4.pmax(mv, v);
      }
      v128.store(maxes + (<usize>g << 4), mv);
    }
    let confident = i32x4.splat(0);
    for (let g = 0; g < groups; g++) {
      const cols = scratch + <usize>g * groupBytes;
      const mv = v128.load(maxes + (<usize>g << 4));
      // Pass 2: exps in place (when the gradient is wanted), sums of the exps and, when
      // ε > 0, of the (weighted) gaps z_k − m, which are ≤ 0 and so sum without cancellation.
      // The flags are loop-invariant: each combination is its own loop (constants after inlining).
      const sMinusOne = expGroup(cols, K, mv, weight, sums + (<usize>g << 4), gapSums + (<usize>g << 4), grad != 0, smoothed, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
      confident = v128.or(confident, f32x4.lt(sMinusOne, f32x4.splat(CONFIDENT_SUM)));
    }
    // Confident rows: S − 1 from the exact pass over their logits (a block without one skips
    // the loop that looks for them).
    if (v128.any_true(confident)) exactIfConfident(sums, maxes, groups, block, rows, logits, K, 1);
    // Stage 2: per group, four rows at once in f32 (every loss term is ≥ 0, so f32 keeps the
    // row loss to a few ulp): lse, loss, and the gradient's alpha and label term.
    const keepV = f32x4.splat(<f32>(1 - eps));
    const spreadV = f32x4.splat(<f32>epsOverK);
    const weightSumV = f32x4.splat(<f32>weightSum);
    const zLossV = f32x4.splat(<f32>zLoss);
    const scaleV = f32x4.splat(<f32>scale);
    for (let g = 0; g < groups; g++) {
      const r = block + (g << 2);
      const last = min(rows - 1, r + 3);
      const count = last - r + 1;
      const mv = v128.load(maxes + (<usize>g << 4));
      const sv = v128.load(gapSums + (<usize>g << 4));
      const sMinusOne = v128.load(sums + (<usize>g << 4));
      // The labels (spare lanes repeat the last row's) and the rows of the four lanes.
      const q0 = logits + <usize>r * rowBytes;
      let live: v128;
      let q1: usize, q2: usize, q3: usize;
      if (count == 4) {
        // A whole group (all but maybe the call's last): one load, rows a row apart.
        live = v128.load(labels + (<usize>r << 2));
        q1 = q0 + rowBytes;
        q2 = q1 + rowBytes;
        q3 = q2 + rowBytes;
      } else {
        live = i32x4.splat(load<i32>(labels + (<usize>r << 2)));
        live = i32x4.replace_lane(live, 1, load<i32>(labels + (<usize>min(r + 1, last) << 2)));
        live = i32x4.replace_lane(live, 2, load<i32>(labels + (<usize>min(r + 2, last) << 2)));
        live = i32x4.replace_lane(live, 3, load<i32>(labels + (<usize>last << 2)));
        q1 = logits + <usize>min(r + 1, last) * rowBytes;
        q2 = logits + <usize>min(r + 2, last) * rowBytes;
        q3 = logits + <usize>last * rowBytes;
      }
      const ignored = i32x4.eq(live, i32x4.splat(ignoreIndex));
      // z_y and w_y per lane (an ignored row reads class 0: its values are masked out): the
      // byte offsets 4·y, 0 where ignored, in one vector.
      const offsets = i32x4.shl(v128.andnot(live, ignored), 2);
      const c0 = <usize>i32x4.extract_lane(offsets, 0);
      const c1 = <usize>i32x4.extract_lane(offsets, 1);
      const c2 = <usize>i32x4.extract_lane(offsets, 2);
      const c3 = <usize>i32x4.extract_lane(offsets, 3);
      let zy = f32x4.splat(load<f32>(q0 + c0));
      zy = f32x4.replace_lane(zy, 1, load<f32>(q1 + c1));
      zy = f32x4.replace_lane(zy, 2, load<f32>(q2 + c2));
      zy = f32x4.replace_lane(zy, 3, load<f32>(q3 + c3));
      const wy = weight ? gatherWeights(weight, c0, c1, c2, c3) : f32x4.splat(1);
      const loss = groupLoss(
        mv, sv, sMinusOne, zy, wy, ignored, keepV, spreadV, weightSumV, zLossV, scaleV, smoothed, zLoss != 0,
        lseOut ? lseOut + (<usize>r << 2) : 0, count, grad ? alphaAt + (<usize>g << 4) : 0, fixAt + (<usize>g << 4),
      );
      if (losses) storeLanes(losses + (<usize>r << 2), loss, count);
      sum = addRowLosses(sum, loss, count);
    }
    if (!grad) continue;
    // Stage 3: per group, g = e·alpha − beta·w_k lane-wise, back to the rows through 4×4
    // transposes (single scatters for the tail), then the label's term −fix at [k = y].
    // Ignored rows (alpha = 0 but beta·w_k ≠ 0) are zeroed instead.
    const bv = f32x4.splat(-beta);
    for (let g = 0; g < groups; g++) {
      const r = block + (g << 2);
      const last = min(rows - 1, r + 3);
      const count = last - r + 1;
      const cols = scratch + <usize>g * groupBytes;
      const alphas = v128.load(alphaAt + (<usize>g << 4));
      const fixes = v128.load(fixAt + (<usize>g << 4));
      const q0 = grad + <usize>r * rowBytes;
      let q1: usize, q2: usize, q3: usize;
      if (count == 4) {
        q1 = q0 + rowBytes;
        q2 = q1 + rowBytes;
        q3 = q2 + rowBytes;
      } else {
        q1 = grad + <usize>min(r + 1, last) * rowBytes;
        q2 = grad + <usize>min(r + 2, last) * rowBytes;
        q3 = grad + <usize>last * rowBytes;
      }
      // Spare lanes alias the last row with dummy values: lane 3 is stored first, so the
      // real lane of that row, stored after it, wins.
      const weighted = weight != 0 && smoothed;
      let c = 0;
      for (; c + 4 <= K; c += 4) {
        const at = cols + (<usize>c << 4);
        const o = <usize>c << 2;
        let b0 = bv, b1 = bv, b2 = bv, b3 = bv;
        if (weighted) {
          b0 = f32x4.mul(bv, f32x4.splat(load<f32>(weight + o)));
          b1 = f32x4.mul(bv, f32x4.splat(load<f32>(weight + o, 4)));
          b2 = f32x4.mul(bv, f32x4.splat(load<f32>(weight + o, 8)));
          b3 = f32x4.mul(bv, f32x4.splat(load<f32>(weight + o, 12)));
        }
        // Four gradient columns, transposed in registers into four row pieces.
        storeRows(q0, q1, q2, q3, o,
          madd(v128.load(at), alphas, b0), madd(v128.load(at, 16), alphas, b1),
          madd(v128.load(at, 32), alphas, b2), madd(v128.load(at, 48), alphas, b3));
      }
      if (c + 2 <= K) {
        const o = <usize>c << 2;
        const at = cols + (<usize>c << 4);
        const b0 = weighted ? f32x4.mul(bv, f32x4.splat(load<f32>(weight + o))) : bv;
        const b1 = weighted ? f32x4.mul(bv, f32x4.splat(load<f32>(weight + o, 4))) : bv;
        storeRowsPair(q0, q1, q2, q3, o, madd(v128.load(at), alphas, b0), madd(v128.load(at, 16), alphas, b1));
        c += 2;
      }
      if (c < K) {
        const o = <usize>c << 2;
        const b = weighted ? f32x4.mul(bv, f32x4.splat(load<f32>(weight + o))) : bv;
        storeRowsTail(q0, q1, q2, q3, o, madd(v128.load(cols + (<usize>c << 4)), alphas, b));
      }
      for (let j = 0; j < count; j++) {
        const row = r + j;
        const y = load<i32>(labels + (<usize>row << 2));
        const q = grad + <usize>row * rowBytes;
        if (y == ignoreIndex) {
          memory.fill(q, 0, rowBytes);
        } else {
          const gy = q + (<usize>y << 2);
          store<f32>(gy, load<f32>(gy) - lane(fixes, j));
        }
      }
    }
  }
  return sum;
}
