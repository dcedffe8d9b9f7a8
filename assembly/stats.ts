// Per-row statistics of softmax(z/T), fused into two passes over each row: what people
// evaluate a classifier with (confidence, prediction, entropy, log p_y, rank of the label,
// the Brier score, the label-smoothed loss). One call per chunk of rows; each row's numbers
// go to per-row columns, and statsAccumulate adds them to an evaluation's sums in row order,
// so that no sum depends on how the rows were split into chunks (or, later, threads).
//
// Per row, with m = max z (NaN entries skipped), g_k = z_k − m ≤ 0, x_k = g_k/T:
//   pass 1: m, and with a label y the rank #{k: z_k > z_y} (the label's place; 0 = top);
//           then f, the lowest index with z_f = m: the prediction (a short scan that stops
//           at the max);
//   pass 2: e_k = exp(x_k) over every entry but f (whose exp is exactly 1, whose x is 0):
//             R' = Σ_{k≠f} e_k = S − 1,
//             X  = Σ_k e_k·x_k ≤ 0              (entropy),
//             Q  = Σ_{k≠f} e_k²                 (Brier, when wanted),
//             G  = Σ_k x_k ≤ 0                  (the smoothing term, when ε > 0).
//   per row, in f64: log S = log1p(R') — R' is summed apart from the max's exact 1, so a
//   confident row's log S (≈ R') keeps its digits instead of drowning in 1 + R';
//     lse        = m/T + log S
//     confidence = max p = 1/S
//     entropy    = −Σ p log p = log S − X/S              (two terms ≥ 0)
//     log p_y    = x_y − log S,   nll = log S − x_y      (two terms ≥ 0)
//     Brier      = Σ_k (p_k − [k = y])² = (Σ_{k≠y} e_k² + (Σ_{k≠y} e_k)²)/S²,
//                  with Σ_{k≠y} e_k = R' and Σ_{k≠y} e_k² = Q when y = f, else 1 + (R' − e_y)
//                  and 1 + (Q − e_y²): every term ≥ 0, where Σp² − 2p_y + 1 would cancel
//                  to nothing for a confident row;
//     smoothed   = (1−ε)·(log S − x_y) + (ε/K)·(K·log S − G)   (crossEntropy's row loss at T)
// A row whose max is not finite (±∞, or no number at all) has S = NaN, as the float64
// formulas give. Products e_k·x_k use x_k clamped to the exp's cutoff (e_k is 0 below it),
// so a −∞ logit adds 0, not 0·(−∞) = NaN.

import { expMinus, expMinus4k, expConstant, madd } from './exp';
import { logOfSum } from './rows';
import { statsSmallRows, SMALL_STATS_K } from './statssmall';

// @ts-ignore: decorator
@inline const BLOCK: i32 = 256;
// @ts-ignore: decorator
@inline const SUB_BLOCK: i32 = 64;
// @ts-ignore: decorator
@inline const CUTOFF: f32 = -87.3365402; // exps below it are 0 (0 or subnormal on the relaxed build: exp.ts)

// Results of the row passes besides their return values (wasm has no cheap tuples here).
export let passRank: i32 = 0;
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

const LANES = memory.data<i32>([0, 1, 2, 3], 16);

/**
 * Lanes j < n set (n = 1…3): the row's last, partial vector is read whole (the host leaves 16
 * bytes of slack after every region these kernels read) and the lanes past the row masked,
 * instead of a scalar tail of exps: at K = 10 the tail was a third of the row's time.
 */
// @ts-ignore: decorator
@inline function tailMask(n: i32): v128 {
  return i32x4.lt_s(v128.load(LANES), i32x4.splat(n));
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
    if (k < K) {
      // The last 1–3 entries as one vector, the lanes past the row masked out (see tailMask).
      const valid = tailMask(K - k);
      const v0 = v128.load(at(z, k));
      m0 = f32x4.pmax(m0, v128.bitselect(v0, f32x4.splat(-Infinity), valid));
      if (ranked) c0 = i32x4.sub(c0, v128.and(f32x4.gt(v0, yv), valid));
      k = K;
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

/** min(#{k: z_k > zy}, cap), stopping once the cap is reached (checked every 16 entries). */
// @ts-ignore: decorator
@inline function rankUpTo(z: usize, K: i32, zy: f32, cap: i32): i32 {
  let rank = 0;
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    const yv = f32x4.splat(zy);
    while (k + 16 <= K) {
      let c = f32x4.gt(v128.load(at(z, k)), yv);
      c = i32x4.add(c, f32x4.gt(v128.load(at(z, k), 16), yv));
      c = i32x4.add(c, f32x4.gt(v128.load(at(z, k), 32), yv));
      c = i32x4.add(c, f32x4.gt(v128.load(at(z, k), 48), yv));
      rank -= i32x4.extract_lane(c, 0) + i32x4.extract_lane(c, 1) + i32x4.extract_lane(c, 2) + i32x4.extract_lane(c, 3);
      k += 16;
      if (rank >= cap) return cap;
    }
  }
  for (; k < K; k++) if (load<f32>(at(z, k)) > zy) rank++;
  return rank < cap ? rank : cap;
}

/** The lowest index k with z_k = m (−1 when there is none: a row of NaNs). */
// @ts-ignore: decorator
@inline export function firstOf(z: usize, K: i32, m: f32): i32 {
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    const mv = f32x4.splat(m);
    // Sixteen entries per test, then the vector that holds the first hit.
    for (; k + 16 <= K; k += 16) {
      const p = at(z, k);
      const hit = v128.or(
        v128.or(f32x4.eq(v128.load(p), mv), f32x4.eq(v128.load(p, 16), mv)),
        v128.or(f32x4.eq(v128.load(p, 32), mv), f32x4.eq(v128.load(p, 48), mv)),
      );
      if (v128.any_true(hit)) break;
    }
    for (; k + 4 <= K; k += 4) {
      const top = f32x4.eq(v128.load(at(z, k)), mv);
      if (v128.any_true(top)) return k + ctz(i32x4.bitmask(top));
    }
  }
  for (; k < K; k++) if (load<f32>(at(z, k)) == m) return k;
  return -1;
}

/**
 * Pass 2 over one row (see the header), skipping the entry `first` (the max: its exp is
 * exactly 1, its x is 0): returns R' = Σ_{k≠first} e_k = S − 1 in f64 and leaves X and, when
 * asked, Q = Σ_{k≠first} e_k², G and X2 = Σ e_k·x_k² (for the temperature's second
 * derivative) in the pass* globals. x_k = (z_k − m)·invT when `scaled`, else z_k − m.
 * Other entries equal to the max add their exact 1s like any term: R' ≥ 1 then, so the f32
 * lanes lose nothing that matters. Skipping one entry (two ranges) instead of masking the
 * max in every vector saves three operations per vector on the row's hot loop.
 */
// @ts-ignore: decorator
@inline export function expStats(
  z: usize, K: i32, m: f32, first: i32, invT: f32,
  scaled: bool, squares: bool, gaps: bool, moments: bool,
): f64 {
  passR = 0;
  passX = 0;
  passQ = 0;
  passG = 0;
  passX2 = 0;
  const split = first < 0 ? K : first;
  if (ASC_FEATURE_SIMD) {
    const mv = f32x4.splat(m);
    const iv = f32x4.splat(invT);
    const E0 = expConstant(0), E1 = expConstant(1), E2 = expConstant(2), E3 = expConstant(3), E4 = expConstant(4);
    const E5 = expConstant(5), E6 = expConstant(6), E7 = expConstant(7), E8 = expConstant(8), E9 = expConstant(9);
    // The two ranges around the max through one copy of the loop (two inlined copies doubled
    // the kernels' code, and V8 compiled the bigger functions' loops worse).
    for (let part = 0; part < 2; part++) {
      const from = part == 0 ? 0 : split + 1;
      const to = part == 0 ? split : K;
      expRange4(z, from, to, mv, iv, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9, scaled, squares, gaps, moments);
    }
  } else {
    for (let part = 0; part < 2; part++) {
      expRange1(z, part == 0 ? 0 : split + 1, part == 0 ? split : K, m, invT, scaled, squares, gaps, moments);
    }
  }
  return passR;
}

export let passR: f64 = 0;

/**
 * Entries from…to of a row, four lanes at a time, into the pass* sums: f32 lanes folded into
 * f64 every BLOCK elements (R every SUB_BLOCK: log p_y of a confident row is ≈ R itself, and
 * an f32 lane summing n near-equal terms errs by up to n/2 ulp: 16 terms, < 5e-7). The last
 * 1–3 entries are one masked vector. The flags are constants after inlining: each
 * combination is its own loop with no per-element branch.
 */
// @ts-ignore: decorator
@inline function expRange4(
  z: usize, from: i32, to: i32, mv: v128, iv: v128,
  E0: v128, E1: v128, E2: v128, E3: v128, E4: v128, E5: v128, E6: v128, E7: v128, E8: v128, E9: v128,
  scaled: bool, squares: bool, gaps: bool, moments: bool,
): void {
  let k = from;
  let R: f64 = 0;
  let X: f64 = 0;
  let Q: f64 = 0;
  let G: f64 = 0;
  let X2: f64 = 0;
  while (k + 4 <= to) {
    const end = min(to, k + BLOCK);
    let xv = f32x4.splat(0);
    let qv = xv;
    let gv = xv;
    let x2v = xv;
    while (k + 4 <= end) {
      const subEnd = min(end, k + SUB_BLOCK);
      let rv = f32x4.splat(0);
      // Two vectors per iteration (the loop's bookkeeping is otherwise a large share of
      // it); the sums still add them one after the other.
      for (; k + 8 <= subEnd; k += 8) {
        const z0 = v128.load(at(z, k));
        const z1 = v128.load(at(z, k), 16);
        let x0 = f32x4.sub(z0, mv);
        let x1 = f32x4.sub(z1, mv);
        if (scaled) {
          x0 = f32x4.mul(x0, iv);
          x1 = f32x4.mul(x1, iv);
        }
        const e0 = expMinus4k(x0, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
        const e1 = expMinus4k(x1, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
        rv = f32x4.add(f32x4.add(rv, e0), e1);
        // x clamped to the cutoff (pmax(x, c) keeps a NaN x): e is 0 there, so 0·x = 0 at −∞.
        const c0 = f32x4.pmax(x0, E9);
        const c1 = f32x4.pmax(x1, E9);
        const ex0 = f32x4.mul(e0, c0);
        const ex1 = f32x4.mul(e1, c1);
        xv = f32x4.add(f32x4.add(xv, ex0), ex1);
        if (squares) qv = madd(e1, e1, madd(e0, e0, qv));
        if (gaps) gv = f32x4.add(f32x4.add(gv, x0), x1);
        if (moments) x2v = madd(ex1, c1, madd(ex0, c0, x2v));
      }
      for (; k + 4 <= subEnd; k += 4) {
        let x = f32x4.sub(v128.load(at(z, k)), mv);
        if (scaled) x = f32x4.mul(x, iv);
        const e = expMinus4k(x, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
        rv = f32x4.add(rv, e);
        const c = f32x4.pmax(x, E9);
        const ex = f32x4.mul(e, c);
        xv = f32x4.add(xv, ex);
        if (squares) qv = madd(e, e, qv);
        if (gaps) gv = f32x4.add(gv, x);
        if (moments) x2v = madd(ex, c, x2v);
      }
      R += lanes(rv);
    }
    X += lanes(xv);
    if (squares) Q += lanes(qv);
    if (gaps) G += lanes(gv);
    if (moments) X2 += lanes(x2v);
  }
  if (k < to) {
    // The last 1–3 entries as one vector, −∞ in the lanes past them (exp 0, x masked).
    const valid = tailMask(to - k);
    let x = f32x4.sub(v128.bitselect(v128.load(at(z, k)), f32x4.splat(-Infinity), valid), mv);
    if (scaled) x = f32x4.mul(x, iv);
    const e = expMinus4k(x, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
    const c = f32x4.pmax(x, E9);
    const ex = v128.and(f32x4.mul(e, c), valid);
    R += lanes(v128.and(e, valid));
    X += lanes(ex);
    if (squares) Q += lanes(v128.and(f32x4.mul(e, e), valid));
    if (gaps) G += lanes(v128.and(x, valid));
    if (moments) X2 += lanes(f32x4.mul(ex, c));
  }
  passR += R;
  passX += X;
  passQ += Q;
  passG += G;
  passX2 += X2;
}

/** The scalar build's expRange4: each term straight into f64 (a scalar f64 add costs what an f32 one does). */
// @ts-ignore: decorator
@inline function expRange1(
  z: usize, from: i32, to: i32, m: f32, invT: f32,
  scaled: bool, squares: bool, gaps: bool, moments: bool,
): void {
  let R: f64 = 0;
  let X: f64 = 0;
  let Q: f64 = 0;
  let G: f64 = 0;
  let X2: f64 = 0;
  for (let k = from; k < to; k++) {
    let x = load<f32>(at(z, k)) - m;
    if (scaled) x *= invT;
    const e = expMinus(x);
    R += <f64>e;
    const c = x < CUTOFF ? CUTOFF : x;
    const ex = <f64>(e * c);
    X += ex;
    if (squares) Q += <f64>e * <f64>e;
    if (gaps) G += <f64>x;
    if (moments) X2 += ex * <f64>c;
  }
  passR += R;
  passX += X;
  passQ += Q;
  passG += G;
  passX2 += X2;
}

/** S − 1 from pass 2's R', NaN when the max is not finite (as the float64 formulas give). */
// @ts-ignore: decorator
@inline export function restOf(R: f64, m: f32): f64 {
  return m - m == 0 ? R : NaN;
}

/**
 * The per-row statistics of `rows` rows of K logits at `logits`; labels (i32, or 0 for
 * none) give log p_y, rank, Brier and the smoothed loss, NaN (−1 for the rank) for rows
 * whose label is ignoreIndex. Each output column is written when its pointer is not 0:
 * lse, entropy, logP, brier, smoothed as f64; confidence as f32; prediction, rank as i32.
 * rankCap > 0 caps the rank there (an evaluation only asks whether rank < k). scratch: 16·K
 * bytes for K ≤ 64 (statssmall.ts), else unused.
 */
export function statsRows(
  logits: usize, labels: usize, rows: i32, K: i32,
  invT: f64, smoothing: f64, ignoreIndex: i32,
  lseOut: usize, confOut: usize, predOut: usize, entropyOut: usize,
  logPOut: usize, rankOut: usize, brierOut: usize, smoothOut: usize, rankCap: i32, scratch: usize,
): void {
  // Small K takes four rows per vector (statssmall.ts), for any number of rows: a row's
  // numbers must not depend on the batch it came in. (A function of its own: inlined into
  // the row-wise loops, it slowed them by a fifth.)
  if (ASC_FEATURE_SIMD && K <= SMALL_STATS_K) {
    statsSmallRows(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, scratch);
    return;
  }
  const scaled = invT != 1;
  const smoothed = smoothing > 0 && smoothOut != 0;
  const squares = brierOut != 0;
  if (scaled) {
    if (squares) {
      if (smoothed) statsLoop(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, rankCap, scratch, true, true, true);
      else statsLoop(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, rankCap, scratch, true, true, false);
    } else {
      statsLoop(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, rankCap, scratch, true, false, false);
    }
  } else {
    if (squares) {
      if (smoothed) statsLoop(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, rankCap, scratch, false, true, true);
      else statsLoop(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, rankCap, scratch, false, true, false);
    } else {
      statsLoop(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, rankCap, scratch, false, false, false);
    }
  }
}

// @ts-ignore: decorator
@inline function statsLoop(
  logits: usize, labels: usize, rows: i32, K: i32,
  invT: f64, smoothing: f64, ignoreIndex: i32,
  lseOut: usize, confOut: usize, predOut: usize, entropyOut: usize,
  logPOut: usize, rankOut: usize, brierOut: usize, smoothOut: usize, rankCap: i32, scratch: usize,
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
    const m = labeled && rankCap == 0 ? maxAndRank(z, K, zy, true) : maxAndRank(z, K, zy, false);
    // A capped rank (top-k counts need no more than the largest k): 0 at the max, else a
    // scan that stops at the cap — a wrong label usually has many classes above it.
    if (labeled && rankCap > 0) passRank = zy == m || zy != zy ? 0 : rankUpTo(z, K, zy, rankCap);
    const first = firstOf(z, K, m);
    const rest = restOf(expStats(z, K, m, first, invT32, scaled, squares, gaps, false), m);
    const S = 1 + rest;
    const invS = 1 / S;
    const logS = logOfSum(rest);
    const o = <usize>r << 3;
    if (lseOut) store<f64>(lseOut + o, <f64>m * invT + logS);
    if (confOut) store<f32>(confOut + (<usize>r << 2), <f32>invS);
    if (predOut) store<i32>(predOut + (<usize>r << 2), first);
    if (entropyOut) store<f64>(entropyOut + o, logS - passX * invS);
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
      // Σ_{k≠y} e_k and Σ_{k≠y} e_k²: R' and Q when y is the skipped max, else with e_y
      // swapped for the max's 1.
      let others = rest;
      let others2 = passQ;
      if (y != first) {
        // e_y as pass 2 computed it (in f32), so that R' − e_y removes exactly what it added.
        let x32 = zy - m;
        if (scaled) x32 *= invT32;
        const ey = <f64>expMinus(x32);
        others = 1 + (rest - ey);
        others2 = 1 + (others2 - ey * ey);
      }
      store<f64>(brierOut + o, (others2 + others * others) * (invS * invS));
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
  // The scalar sums in locals (stores through `sums` would be reloaded every row).
  let count = load<f64>(sums + (SUM_COUNT << 3));
  let right = load<f64>(sums + (SUM_CORRECT << 3));
  let nll = load<f64>(sums + (SUM_NLL << 3));
  let smoothed = load<f64>(sums + (SUM_SMOOTHED << 3));
  let entropy = load<f64>(sums + (SUM_ENTROPY << 3));
  let brier = load<f64>(sums + (SUM_BRIER << 3));
  let confidence = load<f64>(sums + (SUM_CONFIDENCE << 3));
  let n = 0;
  for (let r = 0; r < rows; r++) {
    const y = load<i32>(labels + (<usize>r << 2));
    if (y == ignoreIndex) continue;
    const o = <usize>r << 3;
    const c = load<f32>(confIn + (<usize>r << 2));
    const correct: f64 = load<i32>(predIn + (<usize>r << 2)) == y ? 1 : 0;
    const rank = load<i32>(rankIn + (<usize>r << 2));
    count += 1;
    right += correct;
    nll += -load<f64>(logPIn + o);
    smoothed += load<f64>(smoothIn + o);
    entropy += load<f64>(entropyIn + o);
    brier += load<f64>(brierIn + o);
    confidence += <f64>c;
    // No branch on rank < k (it would mispredict as often as the model errs); adding 0 is exact.
    for (let t = 0; t < nTopK; t++) {
      addTo(sums, SUM_TOPK + t, select<f64>(1, 0, rank < load<i32>(topK + (<usize>t << 2))));
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
  store<f64>(sums + (SUM_COUNT << 3), count);
  store<f64>(sums + (SUM_CORRECT << 3), right);
  store<f64>(sums + (SUM_NLL << 3), nll);
  store<f64>(sums + (SUM_SMOOTHED << 3), smoothed);
  store<f64>(sums + (SUM_ENTROPY << 3), entropy);
  store<f64>(sums + (SUM_BRIER << 3), brier);
  store<f64>(sums + (SUM_CONFIDENCE << 3), confidence);
  return n;
}
