// Per-row statistics of softmax(z/T), fused into two passes over each row: what people
// evaluate a classifier with (confidence, prediction, entropy, log p_y, rank of the label,
// the Brier score, the label-smoothed loss). One call per chunk of rows; each row's numbers
// go to per-row columns, and statsAccumulate adds them to an evaluation's sums in row order,
// so that no sum depends on how the rows were split into chunks (or, later, threads).
//
// Per row, with m = max z (NaN entries skipped), g_k = z_k − m ≤ 0, x_k = g_k/T:
//   pass 1: m, and with a label y the rank #{k: z_k > z_y} (the label's place; 0 = top);
//   pass 2: e_k = exp(x_k), with the entries at the max (z_k = m, where e_k is exactly 1)
//           kept apart: they are counted (ties) and the first one is the prediction (the
//           lowest index of the max); the others give
//             R  = Σ_{z_k < m} e_k             so S = Σ e = 1 + R' with R' = R + ties − 1,
//             X  = Σ_k e_k·x_k ≤ 0              (entropy; the max's terms are 0),
//             Q  = Σ_{z_k < m} e_k²            (Brier, when wanted),
//             G  = Σ_k x_k ≤ 0                  (the smoothing term, when ε > 0).
//   per row, in f64: log S = log1p(R') — R' is summed apart from the max's exact 1, so a
//   confident row's log S (≈ R') keeps its digits instead of drowning in 1 + R';
//     lse        = m/T + log S
//     confidence = max p = 1/S
//     entropy    = −Σ p log p = log S − X/S              (two terms ≥ 0)
//     log p_y    = x_y − log S,   nll = log S − x_y      (two terms ≥ 0)
//     Brier      = Σ_k (p_k − [k = y])² = (Σ_{k≠y} e_k² + (Σ_{k≠y} e_k)²)/S²,
//                  with Σ_{k≠y} e_k = R' and Σ_{k≠y} e_k² = Q + ties − 1 when z_y = m,
//                  else 1 + (R' − e_y) and 1 + (Q + ties − 1 − e_y²): every term ≥ 0,
//                  where Σp² − 2p_y + 1 would cancel to nothing for a confident row;
//     smoothed   = (1−ε)·(log S − x_y) + (ε/K)·(K·log S − G)   (crossEntropy's row loss at T)
// A row whose max is not finite (±∞, or no number at all) has S = NaN, as the float64
// formulas give. Products e_k·x_k use x_k clamped to the exp's cutoff (e_k is 0 below it),
// so a −∞ logit adds 0, not 0·(−∞) = NaN.

import { expMinus, expMinus4k, expConstant, madd } from './exp';

// @ts-ignore: decorator
@inline const BLOCK: i32 = 256;
// @ts-ignore: decorator
@inline const SUB_BLOCK: i32 = 64;
// @ts-ignore: decorator
@inline const CUTOFF: f32 = -87.3365402; // exp.ts DENORM_CUTOFF: exps below it are exactly 0

// Results of the row passes besides their return values (wasm has no cheap tuples here).
export let passRank: i32 = 0;
export let passTies: i32 = 0;
export let passFirst: i32 = -1;
export let passX: f64 = 0;
export let passQ: f64 = 0;
export let passG: f64 = 0;
export let passX2: f64 = 0;

// @ts-ignore: decorator
@inline function at(ptr: usize, k: i32): usize {
  return ptr + (<usize>k << 2);
}

// @ts-ignore: decorator
@inline function lanes(v: v128): f64 {
  const pair = f64x2.add(f64x2.promote_low_f32x4(v), f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 2, 3)));
  return f64x2.extract_lane(pair, 0) + f64x2.extract_lane(pair, 1);
}

// @ts-ignore: decorator
@inline function horizontalMax(v: v128): f32 {
  const a = f32x4.pmax(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  const b = f32x4.pmax(a, i32x4.shuffle(a, a, 1, 0, 3, 2));
  return f32x4.extract_lane(b, 0);
}

/**
 * Pass 1: max_k z_k, NaN entries skipped (pmax(acc, v) keeps acc when v is NaN), and when
 * `ranked`, #{k: z_k > zy} into passRank.
 */
// @ts-ignore: decorator
@inline export function maxAndRank(z: usize, K: i32, zy: f32, ranked: bool): f32 {
  let m: f32 = -Infinity;
  let rank = 0;
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    let m0 = f32x4.splat(-Infinity);
    let m1 = m0;
    const yv = f32x4.splat(zy);
    let c0 = i32x4.splat(0);
    let c1 = c0;
    for (; k + 8 <= K; k += 8) {
      const v0 = v128.load(at(z, k));
      const v1 = v128.load(at(z, k), 16);
      m0 = f32x4.pmax(m0, v0);
      m1 = f32x4.pmax(m1, v1);
      if (ranked) {
        // A true comparison is −1 in its lane: subtracting counts it.
        c0 = i32x4.sub(c0, f32x4.gt(v0, yv));
        c1 = i32x4.sub(c1, f32x4.gt(v1, yv));
      }
    }
    for (; k + 4 <= K; k += 4) {
      const v0 = v128.load(at(z, k));
      m0 = f32x4.pmax(m0, v0);
      if (ranked) c0 = i32x4.sub(c0, f32x4.gt(v0, yv));
    }
    m = horizontalMax(f32x4.pmax(m0, m1));
    if (ranked) {
      const c = i32x4.add(c0, c1);
      rank = i32x4.extract_lane(c, 0) + i32x4.extract_lane(c, 1) + i32x4.extract_lane(c, 2) + i32x4.extract_lane(c, 3);
    }
  }
  for (; k < K; k++) {
    const v = load<f32>(at(z, k));
    m = v > m ? v : m;
    if (ranked && v > zy) rank++;
  }
  passRank = rank;
  return m;
}

/**
 * Pass 2 over one row (see the header): returns R = Σ_{z_k < m} e_k in f64 and leaves ties,
 * the first index of the max, X, and when asked Q, G and X2 = Σ e_k·x_k² (for the
 * temperature's second derivative) in the pass* globals. x_k = (z_k − m)·invT when
 * `scaled`, else z_k − m. Sums run in f32 lanes over blocks of BLOCK elements (R of
 * SUB_BLOCK), folded into f64 after each block. The flags are constants after inlining: each combination is its
 * own loop with no per-element branch but the rare one at the max.
 */
// @ts-ignore: decorator
@inline export function expStats(
  z: usize, K: i32, m: f32, invT: f32,
  scaled: bool, squares: bool, gaps: bool, moments: bool,
): f64 {
  let R: f64 = 0;
  let X: f64 = 0;
  let Q: f64 = 0;
  let G: f64 = 0;
  let X2: f64 = 0;
  let ties = 0;
  let first = -1;
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    const mv = f32x4.splat(m);
    const iv = f32x4.splat(invT);
    const E0 = expConstant(0), E1 = expConstant(1), E2 = expConstant(2), E3 = expConstant(3), E4 = expConstant(4);
    const E5 = expConstant(5), E6 = expConstant(6), E7 = expConstant(7), E8 = expConstant(8), E9 = expConstant(9);
    const vectorEnd = K & ~3;
    while (k < vectorEnd) {
      const end = min(vectorEnd, k + BLOCK);
      let xv = f32x4.splat(0);
      let qv = xv;
      let gv = xv;
      let x2v = xv;
      while (k < end) {
        // R in shorter blocks still: log p_y of a confident row is ≈ R itself, and an f32
        // lane summing n near-equal terms errs by up to n/2 ulp (16 terms: < 5e-7).
        const subEnd = min(end, k + SUB_BLOCK);
        let rv = f32x4.splat(0);
        for (; k < subEnd; k += 4) {
          const zv = v128.load(at(z, k));
          let x = f32x4.sub(zv, mv);
          if (scaled) x = f32x4.mul(x, iv);
          const e = expMinus4k(x, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
          const top = f32x4.eq(zv, mv);
          if (v128.any_true(top)) {
            const bits = i32x4.bitmask(top);
            if (first < 0) first = k + ctz(bits);
            ties += popcnt(bits);
          }
          const em = v128.andnot(e, top);
          rv = f32x4.add(rv, em);
          // x clamped to the cutoff (pmax(x, c) keeps a NaN x): e is 0 there, so 0·x = 0 at −∞.
          const ex = f32x4.mul(em, f32x4.pmax(x, E9));
          xv = f32x4.add(xv, ex);
          if (squares) qv = madd(em, em, qv);
          if (gaps) gv = f32x4.add(gv, x);
          if (moments) x2v = madd(ex, f32x4.pmax(x, E9), x2v);
        }
        R += lanes(rv);
      }
      X += lanes(xv);
      if (squares) Q += lanes(qv);
      if (gaps) G += lanes(gv);
      if (moments) X2 += lanes(x2v);
    }
  }
  // Scalar build (and the SIMD tail): each term straight into f64 (a scalar f64 add costs
  // what an f32 one does).
  for (; k < K; k++) {
    const v = load<f32>(at(z, k));
    let x = v - m;
    if (scaled) x *= invT;
    if (gaps) G += <f64>x;
    if (v == m) {
      if (first < 0) first = k;
      ties++;
      continue;
    }
    const e = expMinus(x);
    R += <f64>e;
    const xc = x < CUTOFF ? CUTOFF : x;
    const ex = <f64>(e * xc);
    X += ex;
    if (squares) Q += <f64>e * <f64>e;
    if (moments) X2 += ex * <f64>xc;
  }
  passTies = ties;
  passFirst = first;
  passX = X;
  passQ = Q;
  passG = G;
  passX2 = X2;
  return R;
}

/** R' = S − 1 from pass 2's R and the ties at the max; NaN when the max is not finite. */
// @ts-ignore: decorator
@inline export function restOf(R: f64, ties: i32, m: f32): f64 {
  return m - m == 0 ? R + <f64>(ties - 1) : NaN;
}

/**
 * The per-row statistics of `rows` rows of K logits at `logits`; labels (i32, or 0 for
 * none) give log p_y, rank, Brier and the smoothed loss, NaN (−1 for the rank) for rows
 * whose label is ignoreIndex. Each output column is written when its pointer is not 0:
 * lse, entropy, logP, brier, smoothed as f64; confidence as f32; prediction, rank as i32.
 */
export function statsRows(
  logits: usize, labels: usize, rows: i32, K: i32,
  invT: f64, smoothing: f64, ignoreIndex: i32,
  lseOut: usize, confOut: usize, predOut: usize, entropyOut: usize,
  logPOut: usize, rankOut: usize, brierOut: usize, smoothOut: usize,
): void {
  const scaled = invT != 1;
  const smoothed = smoothing > 0 && smoothOut != 0;
  const squares = brierOut != 0;
  if (scaled) {
    if (squares) {
      if (smoothed) statsLoop(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, true, true, true);
      else statsLoop(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, true, true, false);
    } else {
      statsLoop(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, true, false, false);
    }
  } else {
    if (squares) {
      if (smoothed) statsLoop(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, false, true, true);
      else statsLoop(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, false, true, false);
    } else {
      statsLoop(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, false, false, false);
    }
  }
}

// @ts-ignore: decorator
@inline function statsLoop(
  logits: usize, labels: usize, rows: i32, K: i32,
  invT: f64, smoothing: f64, ignoreIndex: i32,
  lseOut: usize, confOut: usize, predOut: usize, entropyOut: usize,
  logPOut: usize, rankOut: usize, brierOut: usize, smoothOut: usize,
  scaled: bool, squares: bool, gaps: bool,
): void {
  const rowBytes = <usize>K << 2;
  const invT32 = <f32>invT;
  const keep = 1 - smoothing;
  const spread = smoothing / <f64>K;
  for (let r = 0; r < rows; r++) {
    const z = logits + <usize>r * rowBytes;
    const y = labels ? load<i32>(labels + (<usize>r << 2)) : ignoreIndex;
    const labeled = labels != 0 && y != ignoreIndex;
    const zy: f32 = labeled ? load<f32>(at(z, y)) : 0;
    const m = labeled ? maxAndRank(z, K, zy, true) : maxAndRank(z, K, zy, false);
    const R = expStats(z, K, m, invT32, scaled, squares, gaps, false);
    const rest = restOf(R, passTies, m);
    const S = 1 + rest;
    const logS = Math.log1p(rest);
    const o = <usize>r << 3;
    if (lseOut) store<f64>(lseOut + o, <f64>m * invT + logS);
    if (confOut) store<f32>(confOut + (<usize>r << 2), <f32>(1 / S));
    if (predOut) store<i32>(predOut + (<usize>r << 2), passFirst);
    if (entropyOut) store<f64>(entropyOut + o, logS - passX / S);
    if (!labels) continue;
    if (!labeled) {
      if (logPOut) store<f64>(logPOut + o, NaN);
      if (rankOut) store<i32>(rankOut + (<usize>r << 2), -1);
      if (brierOut) store<f64>(brierOut + o, NaN);
      if (smoothOut) store<f64>(smoothOut + o, NaN);
      continue;
    }
    // x_y in f64 from the f32 logits (exact difference), for the row's own log p_y.
    const xy = (<f64>zy - <f64>m) * invT;
    const nll = logS - xy;
    if (logPOut) store<f64>(logPOut + o, -nll);
    if (rankOut) store<i32>(rankOut + (<usize>r << 2), passRank);
    if (squares) {
      let others = rest;
      let others2 = passQ + <f64>(passTies - 1);
      if (zy != m) {
        // e_y as pass 2 computed it (in f32), so that R' − e_y removes exactly what it added.
        let x32 = zy - m;
        if (scaled) x32 *= invT32;
        const ey = <f64>expMinus(x32);
        others = 1 + (rest - ey);
        others2 = 1 + (others2 - ey * ey);
      }
      store<f64>(brierOut + o, (others2 + others * others) / (S * S));
    }
    if (smoothOut) {
      let loss = keep * nll;
      if (gaps) loss += spread * (<f64>K * logS - passG);
      store<f64>(smoothOut + o, loss);
    }
  }
}

// The running sums of an evaluation (f64; must match SUMS in src/backend.ts):
// [count, correct, Σ nll, Σ smoothed, Σ entropy, Σ Brier, Σ confidence,
//  top-k counts (nTopK), bin counts (bins), bin Σ confidence (bins), bin correct (bins)].
// @ts-ignore: decorator
@inline const SUM_COUNT: i32 = 0;
// @ts-ignore: decorator
@inline const SUM_CORRECT: i32 = 1;
// @ts-ignore: decorator
@inline const SUM_NLL: i32 = 2;
// @ts-ignore: decorator
@inline const SUM_SMOOTHED: i32 = 3;
// @ts-ignore: decorator
@inline const SUM_ENTROPY: i32 = 4;
// @ts-ignore: decorator
@inline const SUM_BRIER: i32 = 5;
// @ts-ignore: decorator
@inline const SUM_CONFIDENCE: i32 = 6;
// @ts-ignore: decorator
@inline const SUM_TOPK: i32 = 7;

// @ts-ignore: decorator
@inline function addTo(sums: usize, i: i32, value: f64): void {
  const p = sums + (<usize>i << 3);
  store<f64>(p, load<f64>(p) + value);
}

/**
 * Adds the columns of statsRows (confidence, prediction, entropy, logP, rank, Brier,
 * smoothed) of `rows` rows to the sums at `sums`, row by row in order, leaving out rows whose
 * label is ignoreIndex. Equal-width bin b of B holds confidences in (b/B, (b+1)/B] (0 in bin
 * 0, and a NaN confidence in the last bin, where sorting puts it too). For each counted row
 * writes a key to `keys` for the equal-mass bins: the confidence's f32 bits (NaN as one
 * canonical NaN, so that keys sort the same everywhere) with bit 31 set when the prediction
 * is the label. Returns the number of keys written (the rows counted).
 */
export function statsAccumulate(
  labels: usize, rows: i32, ignoreIndex: i32,
  confIn: usize, predIn: usize, entropyIn: usize, logPIn: usize, rankIn: usize, brierIn: usize, smoothIn: usize,
  sums: usize, topK: usize, nTopK: i32, bins: i32, keys: usize,
): i32 {
  const binCount = SUM_TOPK + nTopK;
  const binConfidence = binCount + bins;
  const binCorrect = binConfidence + bins;
  const B = <f64>bins;
  let n = 0;
  for (let r = 0; r < rows; r++) {
    const y = load<i32>(labels + (<usize>r << 2));
    if (y == ignoreIndex) continue;
    const o = <usize>r << 3;
    const c = load<f32>(confIn + (<usize>r << 2));
    const correct: f64 = load<i32>(predIn + (<usize>r << 2)) == y ? 1 : 0;
    const rank = load<i32>(rankIn + (<usize>r << 2));
    addTo(sums, SUM_COUNT, 1);
    addTo(sums, SUM_CORRECT, correct);
    addTo(sums, SUM_NLL, -load<f64>(logPIn + o));
    addTo(sums, SUM_SMOOTHED, load<f64>(smoothIn + o));
    addTo(sums, SUM_ENTROPY, load<f64>(entropyIn + o));
    addTo(sums, SUM_BRIER, load<f64>(brierIn + o));
    addTo(sums, SUM_CONFIDENCE, <f64>c);
    for (let t = 0; t < nTopK; t++) {
      if (rank < load<i32>(topK + (<usize>t << 2))) addTo(sums, SUM_TOPK + t, 1);
    }
    // c·B is exact in f64 (a 24-bit mantissa times an integer < 2^31).
    const scaledC = <f64>c * B;
    let b = c != c ? bins - 1 : <i32>Math.ceil(scaledC) - 1;
    b = b < 0 ? 0 : b >= bins ? bins - 1 : b;
    addTo(sums, binCount + b, 1);
    addTo(sums, binConfidence + b, <f64>c);
    addTo(sums, binCorrect + b, correct);
    const bits = c != c ? 0x7FC00000 : reinterpret<u32>(c) & 0x7FFFFFFF;
    store<u32>(keys + (<usize>n << 2), bits | (correct != 0 ? 0x80000000 : 0));
    n++;
  }
  return n;
}
