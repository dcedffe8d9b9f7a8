// Row primitives shared by the kernels (xent.ts for class labels, soft.ts for
// probability targets). Each walks one row of K floats once; SIMD builds take
// four lanes at a time and finish the K mod 4 tail in scalar code.
//
// Sums are accumulated in f32 lanes over blocks of BLOCK elements and folded into
// f64 after each block: f32 lanes keep the loop as fast as the exp, the f64 fold
// keeps the error of a 128 000-class row near one f32 rounding per block.

import { expMinus, expMinus4k, expConstant, madd } from './exp';

// @ts-ignore: decorator
@inline const BLOCK: i32 = 256;

/** The second result of rowExpSum (wasm has no cheap tuple return here). */
export let secondSum: f64 = 0;

// @ts-ignore: decorator
@inline function at(ptr: usize, k: i32): usize {
  return ptr + (<usize>k << 2);
}

// @ts-ignore: decorator
@inline function horizontalMax(v: v128): f32 {
  const a = f32x4.pmax(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  const b = f32x4.pmax(a, i32x4.shuffle(a, a, 1, 0, 3, 2));
  return f32x4.extract_lane(b, 0);
}

// @ts-ignore: decorator
@inline function horizontalSum(v: v128): f64 {
  return <f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1) +
    <f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3);
}

/** max_k z_k (pmax: a NaN lane may be skipped; the exp pass turns it into a NaN sum anyway). */
export function rowMax(z: usize, K: i32): f32 {
  let m: f32 = -Infinity;
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    if (K >= 8) {
      let m0 = v128.load(z);
      let m1 = v128.load(z, 16);
      for (k = 8; k + 8 <= K; k += 8) {
        m0 = f32x4.pmax(m0, v128.load(at(z, k)));
        m1 = f32x4.pmax(m1, v128.load(at(z, k), 16));
      }
      m = horizontalMax(f32x4.pmax(m0, m1));
    }
  }
  for (; k < K; k++) {
    const v = load<f32>(at(z, k));
    m = v > m ? v : m;
  }
  return m;
}

/**
 * Pass 2: S = Σ_k exp(z_k − m), storing each exp at e (unless e = 0), and, when `gaps` is
 * set, Σ_k w_k·(z_k − m) (w_k = 1 when w = 0) into `secondSum`.
 *
 * The smoothing term needs Σ_k (lse − z_k) = K·log S + Σ_k (m − z_k). Summing the gaps
 * z_k − m (all ≤ 0, so nothing cancels) instead of the logits themselves keeps the loss
 * exact to float32 even for large, nearly equal logits, where Σz would lose the differences.
 */
export function rowExpSum(z: usize, e: usize, K: i32, m: f32, gaps: bool, w: usize): f64 {
  if (e) {
    if (!gaps) return expLoop(z, e, K, m, 0, true, false, false);
    return w ? expLoop(z, e, K, m, w, true, true, true) : expLoop(z, e, K, m, 0, true, true, false);
  }
  if (!gaps) return expLoop(z, 0, K, m, 0, false, false, false);
  return w ? expLoop(z, 0, K, m, w, false, true, true) : expLoop(z, 0, K, m, 0, false, true, false);
}

// Compiled once per flag combination (the flags are constants after inlining), so the
// loops carry no per-element branch.
// @ts-ignore: decorator
@inline function expLoop(z: usize, e: usize, K: i32, m: f32, w: usize, keepExps: bool, gaps: bool, weighted: bool): f64 {
  let total: f64 = 0;
  let gapTotal: f64 = 0;
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    const mv = f32x4.splat(m);
    const E0 = expConstant(0), E1 = expConstant(1), E2 = expConstant(2), E3 = expConstant(3), E4 = expConstant(4);
    const E5 = expConstant(5), E6 = expConstant(6), E7 = expConstant(7), E8 = expConstant(8), E9 = expConstant(9);
    while (k + 4 <= K) {
      const end = min(K & ~3, k + BLOCK);
      let sv = f32x4.splat(0);
      let gv = f32x4.splat(0);
      // Two vectors per iteration: the loop's own bookkeeping is a sixth of its work otherwise.
      // The sums still add the vectors one after the other, so the order is unchanged.
      for (; k + 8 <= end; k += 8) {
        const x0 = f32x4.sub(v128.load(at(z, k)), mv);
        const x1 = f32x4.sub(v128.load(at(z, k), 16), mv);
        const v0 = expMinus4k(x0, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
        const v1 = expMinus4k(x1, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
        if (keepExps) {
          v128.store(at(e, k), v0);
          v128.store(at(e, k), v1, 16);
        }
        sv = f32x4.add(f32x4.add(sv, v0), v1);
        if (gaps) {
          gv = weighted ? madd(x0, v128.load(at(w, k)), gv) : f32x4.add(gv, x0);
          gv = weighted ? madd(x1, v128.load(at(w, k), 16), gv) : f32x4.add(gv, x1);
        }
      }
      for (; k < end; k += 4) {
        const x = f32x4.sub(v128.load(at(z, k)), mv);
        const v = expMinus4k(x, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
        if (keepExps) v128.store(at(e, k), v);
        sv = f32x4.add(sv, v);
        if (gaps) gv = weighted ? madd(x, v128.load(at(w, k)), gv) : f32x4.add(gv, x);
      }
      total += horizontalSum(sv);
      if (gaps) gapTotal += horizontalSum(gv);
    }
  }
  // Scalar build (and the SIMD tail): the same blocked f32 sums folded into f64.
  while (k < K) {
    const end = min(K, k + BLOCK);
    let part: f32 = 0;
    let gapPart: f32 = 0;
    for (; k < end; k++) {
      const x = load<f32>(at(z, k)) - m;
      const v = expMinus(x);
      if (keepExps) store<f32>(at(e, k), v);
      part += v;
      if (gaps) gapPart += weighted ? x * load<f32>(at(w, k)) : x;
    }
    total += <f64>part;
    gapTotal += <f64>gapPart;
  }
  secondSum = gapTotal;
  return total;
}

/**
 * Gradient pass, in place over the exps at g:
 * g_k ← (e_k·alpha − beta·w_k) · (1 − (zc_k/c)²), where w_k = 1 when w = 0 and the
 * softcap chain factor applies only when cap ≠ 0 (zc holds the capped logits).
 */
export function rowGrad(g: usize, K: i32, alpha: f32, beta: f32, w: usize, zc: usize, cap: f32): void {
  if (cap != 0) {
    if (w) gradLoop(g, K, alpha, beta, w, zc, 1 / cap, true, true);
    else gradLoop(g, K, alpha, beta, 0, zc, 1 / cap, false, true);
  } else {
    if (w) gradLoop(g, K, alpha, beta, w, 0, 0, true, false);
    else gradLoop(g, K, alpha, beta, 0, 0, 0, false, false);
  }
}

// The four variants are compiled separately (the flags are constants after inlining),
// so an option that is off costs nothing per element.
// @ts-ignore: decorator
@inline function gradLoop(
  g: usize, K: i32, alpha: f32, beta: f32, w: usize, zc: usize, invCap: f32,
  weighted: bool, capped: bool,
): void {
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    const av = f32x4.splat(alpha);
    const bv = f32x4.splat(-beta);
    const one = f32x4.splat(1);
    const ic = f32x4.splat(invCap);
    if (!weighted && !capped) {
      // The common case, four vectors per iteration (the loop is otherwise half bookkeeping).
      for (; k + 16 <= K; k += 16) {
        const p = at(g, k);
        v128.store(p, madd(v128.load(p), av, bv));
        v128.store(p, madd(v128.load(p, 16), av, bv), 16);
        v128.store(p, madd(v128.load(p, 32), av, bv), 32);
        v128.store(p, madd(v128.load(p, 48), av, bv), 48);
      }
    }
    for (; k + 4 <= K; k += 4) {
      const e = v128.load(at(g, k));
      let v = weighted
        ? madd(e, av, f32x4.mul(bv, v128.load(at(w, k))))
        : madd(e, av, bv);
      if (capped) {
        const u = f32x4.mul(v128.load(at(zc, k)), ic);
        v = f32x4.mul(v, f32x4.sub(one, f32x4.mul(u, u)));
      }
      v128.store(at(g, k), v);
    }
  }
  for (; k < K; k++) {
    let v = weighted
      ? load<f32>(at(g, k)) * alpha + (-beta) * load<f32>(at(w, k))
      : load<f32>(at(g, k)) * alpha + (-beta);
    if (capped) {
      const u = load<f32>(at(zc, k)) * invCap;
      v = v * (1 - u * u);
    }
    store<f32>(at(g, k), v);
  }
}

/** The softcap chain factor 1 − (zc/c)² of one element (the label fix-up uses it). */
// @ts-ignore: decorator
@inline export function capFactor(zc: f32, cap: f32): f32 {
  const u = zc * (1 / cap);
  return 1 - u * u;
}

// tanh for the softcap. |x| < 0.55: odd Taylor series to x^15 (error < 3e-8 relative);
// otherwise 1 − 2/(exp(2|x|) + 1) with the sign restored, computed with exp of −2|x| so
// that huge |x| gives exactly ±1 instead of ∞/∞.
// @ts-ignore: decorator
@inline const T3: f32 = -0.333333333;
// @ts-ignore: decorator
@inline const T5: f32 = 0.133333333;
// @ts-ignore: decorator
@inline const T7: f32 = -0.0539682540;
// @ts-ignore: decorator
@inline const T9: f32 = 0.0218694885;
// @ts-ignore: decorator
@inline const T11: f32 = -0.00886323552;
// @ts-ignore: decorator
@inline const T13: f32 = 0.00359212803;
// @ts-ignore: decorator
@inline const T15: f32 = -0.00145583438;
// @ts-ignore: decorator
@inline const SMALL: f32 = 0.55;

// @ts-ignore: decorator
@inline function tanhScalar(x: f32): f32 {
  const a = abs(x);
  if (a < SMALL) {
    const x2 = x * x;
    let p = T15 * x2 + T13;
    p = p * x2 + T11;
    p = p * x2 + T9;
    p = p * x2 + T7;
    p = p * x2 + T5;
    p = p * x2 + T3;
    return x + x * x2 * p;
  }
  const q = expMinus(-2 * a);
  const r: f32 = (<f32>1 - q) / (<f32>1 + q);
  return x < 0 ? -r : r;
}

// The series coefficients as vectors, loaded where used (a v128.const is rebuilt on every
// iteration): T15, T13, … T3, then SMALL.
const TANH_TABLE = memory.data<f32>([
  T15, T15, T15, T15, T13, T13, T13, T13, T11, T11, T11, T11, T9, T9, T9, T9,
  T7, T7, T7, T7, T5, T5, T5, T5, T3, T3, T3, T3, SMALL, SMALL, SMALL, SMALL,
], 16);

/**
 * tanh of four lanes, the exp constants E0…E9 passed in (hoisted by the caller). Each branch
 * is computed only when a lane needs it: a vector whose lanes are all below SMALL (logits
 * within ±0.55·c, the usual case) costs the series alone.
 */
// @ts-ignore: decorator
@inline function tanh4(
  x: v128, E0: v128, E1: v128, E2: v128, E3: v128, E4: v128, E5: v128, E6: v128, E7: v128, E8: v128, E9: v128,
): v128 {
  const a = f32x4.abs(x);
  const small = f32x4.lt(a, v128.load(TANH_TABLE, 112));
  if (i32x4.all_true(small)) return tanhSeries4(x);
  const q = expMinus4k(f32x4.sub(f32x4.neg(a), a), E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
  const one = f32x4.splat(1);
  const large = f32x4.div(f32x4.sub(one, q), f32x4.add(one, q));
  // Copy the sign of x onto the large-|x| result (its magnitude is ≥ 0).
  const signed = v128.or(large, v128.and(x, i32x4.splat(0x80000000)));
  if (!v128.any_true(small)) return signed;
  return v128.bitselect(tanhSeries4(x), signed, small);
}

/** The odd series of tanh for four lanes |x| < SMALL. */
// @ts-ignore: decorator
@inline function tanhSeries4(x: v128): v128 {
  const x2 = f32x4.mul(x, x);
  let p = madd(v128.load(TANH_TABLE), x2, v128.load(TANH_TABLE, 16));
  p = madd(p, x2, v128.load(TANH_TABLE, 32));
  p = madd(p, x2, v128.load(TANH_TABLE, 48));
  p = madd(p, x2, v128.load(TANH_TABLE, 64));
  p = madd(p, x2, v128.load(TANH_TABLE, 80));
  p = madd(p, x2, v128.load(TANH_TABLE, 96));
  return madd(f32x4.mul(x, x2), p, x);
}

/** zc_k = c·tanh(z_k/c) for one row (Gemma-2 logit soft-capping). */
export function rowSoftcap(z: usize, zc: usize, K: i32, cap: f32): void {
  const inv: f32 = 1 / cap;
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    const iv = f32x4.splat(inv);
    const cv = f32x4.splat(cap);
    const E0 = expConstant(0), E1 = expConstant(1), E2 = expConstant(2), E3 = expConstant(3), E4 = expConstant(4);
    const E5 = expConstant(5), E6 = expConstant(6), E7 = expConstant(7), E8 = expConstant(8), E9 = expConstant(9);
    for (; k + 4 <= K; k += 4) {
      const t = tanh4(f32x4.mul(v128.load(at(z, k)), iv), E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
      v128.store(at(zc, k), f32x4.mul(cv, t));
    }
  }
  for (; k < K; k++) {
    store<f32>(at(zc, k), cap * tanhScalar(load<f32>(at(z, k)) * inv));
  }
}
