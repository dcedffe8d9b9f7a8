// exp(x) for x ≤ 0, in float32: XNNPACK's "rr2_p5" scheme.
//
// 1. n = round(x·log2 e): adding a magic bias 1.5·2^23 + 127 rounds x·log2 e to an
//    integer and leaves n + 127 in the low mantissa bits;
// 2. s = 2^n: shift those bits into the exponent field;
// 3. t = x − n·ln2, with ln2 split hi/lo (Cody–Waite) so the reduction is exact to f32;
// 4. exp(t) on [−ln2/2, ln2/2] by a degree-5 minimax polynomial: exp(x) = s + s·t·p(t);
// 5. lanes below −87.34 (where 2^n would be subnormal) are exactly 0; this also turns −∞
//    (whose reduction gives NaN) into 0, while NaN inputs stay NaN. The relaxed-SIMD build
//    instead clamps x to ≥ −88 first (max(x, −88): one operation, where the compare and the
//    mask on the result take two): there n = −127, so n + 127 = 0 and s = 2^n shifts to
//    exactly +0, and so does s + s·t·p; lanes in (−88, −87.34) give a subnormal or 0. On the
//    plain SIMD build the clamp, one step more on the chain of dependent operations, made
//    the row-wise exp pass 2 % slower (bench/ab.mjs), so it keeps the mask.
// Max relative error 1.85e-7 (2.3 ulp) over every float in [−87.34, 0]. The scalar and the
// plain SIMD versions do the same operations in the same order, so they agree bit for bit;
// the relaxed-SIMD build fuses the multiply-adds and is a little more accurate.

// @ts-ignore: decorator
@inline const MAGIC_BIAS: f32 = 12583039.0; // 0x1.8000FEp23
// @ts-ignore: decorator
@inline const LOG2E: f32 = 1.44269502; // 0x1.715476p+0
// @ts-ignore: decorator
@inline const MINUS_LN2_HI: f32 = -0.693145752; // -0x1.62E400p-1
// @ts-ignore: decorator
@inline const MINUS_LN2_LO: f32 = -1.42860677e-6; // -0x1.7F7D1Cp-20
// @ts-ignore: decorator
@inline const C5: f32 = 0.00828929059; // 0x1.0F9F9Cp-7
// @ts-ignore: decorator
@inline const C4: f32 = 0.0418978222; // 0x1.573A1Ap-5
// @ts-ignore: decorator
@inline const C3: f32 = 0.166676521; // 0x1.555A80p-3
// @ts-ignore: decorator
@inline const C2: f32 = 0.499991506; // 0x1.FFFDC6p-2
// @ts-ignore: decorator
@inline const C1: f32 = 9.99999702e-1; // 0x1.FFFFF6p-1
// @ts-ignore: decorator
@inline const DENORM_CUTOFF: f32 = -87.3365402; // -0x1.5D589Ep6
// The relaxed build's clamp: where round(x·log2 e) = −127, 2^n is +0 (see step 5).
// @ts-ignore: decorator
@inline const EXP_FLOOR_INPUT: f32 = -88;
// @ts-ignore: decorator
@inline const EXP_LOW: f32 = ASC_FEATURE_RELAXED_SIMD ? EXP_FLOOR_INPUT : DENORM_CUTOFF;

/** exp(x) for x ≤ 0 (scalar). */
// @ts-ignore: decorator
@inline export function expMinus(x: f32): f32 {
  return expMinusK(x, LOG2E, MAGIC_BIAS, MINUS_LN2_HI, MINUS_LN2_LO, C5, C4, C3, C2, C1, DENORM_CUTOFF);
}

// The scalar exp's constants in a memory table, for hot loops that load them into locals once
// before the loop (`const S0 = expScalarConstant(0)` … `S9`) and call expMinusK. V8 builds an
// f32 constant from an immediate at each use (two instructions: a move to a general register
// and one to an xmm register), and in the scalar build's exp pass, where ten of them meet a
// dozen live values, it did so for every one on every element; loaded values stay in
// registers or are read from their stack slot as the operand itself.
const SCALAR_TABLE = memory.data<f32>([LOG2E, MAGIC_BIAS, MINUS_LN2_HI, MINUS_LN2_LO, C5, C4, C3, C2, C1, DENORM_CUTOFF]);

/** Constant i (0…9) of the scalar exp: see expMinusK. */
// @ts-ignore: decorator
@inline export function expScalarConstant(i: i32): f32 {
  return load<f32>(SCALAR_TABLE + (<usize>i << 2));
}

/**
 * expMinus with its ten constants S0…S9 = expScalarConstant(0…9) passed in (hoisted by the
 * caller out of its loop): the same operations in the same order, so the same bits.
 */
// @ts-ignore: decorator
@inline export function expMinusK(
  x: f32, S0: f32, S1: f32, S2: f32, S3: f32, S4: f32, S5: f32, S6: f32, S7: f32, S8: f32, S9: f32,
): f32 {
  let n = x * S0 + S1;
  const s = reinterpret<f32>(reinterpret<u32>(n) << 23);
  n -= S1;
  let t = n * S2 + x;
  t = n * S3 + t;
  let p = S4 * t + S5;
  p = p * t + S6;
  p = p * t + S7;
  p = p * t + S8;
  t *= s;
  const f = t * p + s;
  return x < S9 ? 0 : f;
}

/** a·b + c: fused on the relaxed-SIMD build, two roundings elsewhere. */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// The vector constants, four lanes each, in a memory table. Hot loops load them into
// locals once, before the loop (`const E0 = expConstant(0)` … `E9`), and call expMinus4k:
// V8 then keeps them in registers, 16 % faster than a v128.const (rebuilt from immediates on
// every iteration) or a load per use. Other callers use expMinus4, which loads per use.
const TABLE = memory.data<f32>([
  MAGIC_BIAS, MAGIC_BIAS, MAGIC_BIAS, MAGIC_BIAS,
  LOG2E, LOG2E, LOG2E, LOG2E,
  MINUS_LN2_HI, MINUS_LN2_HI, MINUS_LN2_HI, MINUS_LN2_HI,
  MINUS_LN2_LO, MINUS_LN2_LO, MINUS_LN2_LO, MINUS_LN2_LO,
  C5, C5, C5, C5,
  C4, C4, C4, C4,
  C3, C3, C3, C3,
  C2, C2, C2, C2,
  C1, C1, C1, C1,
  EXP_LOW, EXP_LOW, EXP_LOW, EXP_LOW,
], 16);

/** Constant i (0…9) of the exp, as a vector: see expMinus4k. */
// @ts-ignore: decorator
@inline export function expConstant(i: i32): v128 {
  return v128.load(TABLE + (<usize>i << 4));
}

/**
 * exp(x) for four lanes x ≤ 0, with the ten constants E0…E9 = expConstant(0…9) passed in
 * (hoisted by the caller out of its loop).
 */
// @ts-ignore: decorator
@inline export function expMinus4k(
  value: v128, E0: v128, E1: v128, E2: v128, E3: v128, E4: v128, E5: v128, E6: v128, E7: v128, E8: v128, E9: v128,
): v128 {
  // Relaxed: pmax(a, b) = a < b ? b : a, −88 where value < −88, else value (NaN included).
  const x = ASC_FEATURE_RELAXED_SIMD ? f32x4.pmax(value, E9) : value;
  let n = madd(x, E1, E0);
  const s = i32x4.shl(n, 23);
  n = f32x4.sub(n, E0);
  let t = madd(n, E2, x);
  t = madd(n, E3, t);
  let p = madd(E4, t, E5);
  p = madd(p, t, E6);
  p = madd(p, t, E7);
  p = madd(p, t, E8);
  t = f32x4.mul(t, s);
  const f = madd(t, p, s);
  if (ASC_FEATURE_RELAXED_SIMD) return f;
  // Lanes below the cutoff (and −∞) become exactly 0; NaN compares false and stays NaN.
  return v128.andnot(f, f32x4.lt(x, E9));
}

/**
 * a where the lanes of the comparison mask m are set, else b: bitselect (three operations
 * in V8 on x64), one blend on the relaxed-SIMD build.
 */
// @ts-ignore: decorator
@inline export function laneSelect(a: v128, b: v128, m: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.relaxed_laneselect(a, b, m);
  return v128.bitselect(a, b, m);
}

/** exp(x) for four lanes x ≤ 0, loading its constants where it is used. */
// @ts-ignore: decorator
@inline export function expMinus4(x: v128): v128 {
  return expMinus4k(x, expConstant(0), expConstant(1), expConstant(2), expConstant(3), expConstant(4),
    expConstant(5), expConstant(6), expConstant(7), expConstant(8), expConstant(9));
}

/**
 * The exp floor for the benchmark: x ← exp(x − 1) over n floats at ptr, in place.
 * One vector expf per element is the least work any softmax must do.
 */
export function expFloor(ptr: usize, n: i32): void {
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    const one = f32x4.splat(1);
    const E0 = expConstant(0), E1 = expConstant(1), E2 = expConstant(2), E3 = expConstant(3), E4 = expConstant(4);
    const E5 = expConstant(5), E6 = expConstant(6), E7 = expConstant(7), E8 = expConstant(8), E9 = expConstant(9);
    // Unrolled like the kernels' exp pass (rows.ts), so that the floor is no easier to beat.
    for (; k + 8 <= n; k += 8) {
      const at = ptr + (<usize>k << 2);
      v128.store(at, expMinus4k(f32x4.sub(v128.load(at), one), E0, E1, E2, E3, E4, E5, E6, E7, E8, E9));
      v128.store(at, expMinus4k(f32x4.sub(v128.load(at, 16), one), E0, E1, E2, E3, E4, E5, E6, E7, E8, E9), 16);
    }
    for (; k + 4 <= n; k += 4) {
      const at = ptr + (<usize>k << 2);
      v128.store(at, expMinus4k(f32x4.sub(v128.load(at), one), E0, E1, E2, E3, E4, E5, E6, E7, E8, E9));
    }
  }
  for (; k < n; k++) {
    const at = ptr + (<usize>k << 2);
    store<f32>(at, expMinus(load<f32>(at) - 1));
  }
}

/** The memory floor for the benchmark: copy n floats from src to dst. */
export function copyFloor(dst: usize, src: usize, n: i32): void {
  memory.copy(dst, src, <usize>n << 2);
}

// log(x) for four lanes x = 1 + u ≥ 1 (sums of exps, whose largest term is exactly 1). x = 2^e·f
// with f in [√½, √2), log x = e·ln 2 + log f, ln 2 split hi/lo, and log f = 2·atanh(s) with
// s = (f − 1)/(f + 1) in ±0.1716: 2s + 2s·w·R(w), w = s², R a degree-2 fit to
// (atanh(s)/s − 1)/w (relative error 8e-10). One division and three coefficients instead of
// Cephes' nine-term polynomial: 12 fewer operations on the small-K kernel's per-row path.
// Max error 1.95 ulp over x in [1, 40000] (against float64, simulated in float32); NaN lanes
// stay NaN.
// @ts-ignore: decorator
@inline const LOG_R0: f32 = 0.33333388192002134;
// @ts-ignore: decorator
@inline const LOG_R1: f32 = 0.19988770672247258;
// @ts-ignore: decorator
@inline const LOG_R2: f32 = 0.1493586649275714;
// @ts-ignore: decorator
@inline const SQRT_HALF: f32 = 0.707106781186547524;

// log1p4's constants, four lanes each, in memory tables: V8 builds a v128.const from an
// immediate at every use (three instructions), where a load from the table is one. On the
// small-K kernels' per-group path its eleven constants were a tenth of the group's work.
const LOG_FLOATS = memory.data<f32>([
  1, 1, 1, 1,
  SQRT_HALF, SQRT_HALF, SQRT_HALF, SQRT_HALF,
  2 * SQRT_HALF, 2 * SQRT_HALF, 2 * SQRT_HALF, 2 * SQRT_HALF,
  LOG_R2, LOG_R2, LOG_R2, LOG_R2,
  LOG_R1, LOG_R1, LOG_R1, LOG_R1,
  LOG_R0, LOG_R0, LOG_R0, LOG_R0,
  0.693359375, 0.693359375, 0.693359375, 0.693359375, // ln 2, high part
  -2.12194440e-4, -2.12194440e-4, -2.12194440e-4, -2.12194440e-4, // ln 2, low part
], 16);
const LOG_INTS = memory.data<i32>([
  126, 126, 126, 126,
  0x007FFFFF, 0x007FFFFF, 0x007FFFFF, 0x007FFFFF,
  0x3F000000, 0x3F000000, 0x3F000000, 0x3F000000,
], 16);

// @ts-ignore: decorator
@inline function logFloat(i: i32): v128 {
  return v128.load(LOG_FLOATS + (<usize>i << 4));
}

// @ts-ignore: decorator
@inline function logInt(i: i32): v128 {
  return v128.load(LOG_INTS + (<usize>i << 4));
}

/**
 * log(1 + u) for four lanes u ≥ 0: log S from S − 1, the sum of exps kept apart from the
 * max's exact 1. Where 1 + u < √2 (so e = 0 and f = 1 + u), the numerator of s is u itself
 * rather than f − 1 from the rounded 1 + u, so that a tiny u keeps every digit (log1p(u) ≈
 * u); the denominator f + 1 is within an ulp either way. Other lanes take the path above.
 */
// @ts-ignore: decorator
@inline export function log1p4(u: v128): v128 {
  const one = logFloat(0);
  const x = f32x4.add(u, one);
  // f in [0.5, 1) and its exponent e, then renormalised to [√½, √2).
  let e = i32x4.sub(i32x4.shr_u(x, 23), logInt(0)); // − 126
  let f = v128.or(v128.and(x, logInt(1)), logInt(2));
  const below = f32x4.lt(f, logFloat(1)); // f < √½
  e = i32x4.add(e, below); // the mask is −1 where f < √½
  f = f32x4.add(f, v128.and(f, below));
  // x < 2·√½ exactly where e = 0 and f = x (x/2 < √½ above, the same rounding). The test
  // is x ≥ 2·√½, false for NaN: a NaN u then goes into s itself, and so into the result.
  const far = f32x4.ge(x, logFloat(2));
  const s = f32x4.div(laneSelect(f32x4.sub(f, one), u, far), f32x4.add(f, one));
  const w = f32x4.mul(s, s);
  const R = madd(madd(logFloat(3), w, logFloat(4)), w, logFloat(5));
  const s2 = f32x4.add(s, s);
  const logF = madd(f32x4.mul(s2, w), R, s2);
  const ef = f32x4.convert_i32x4_s(e);
  return madd(ef, logFloat(6), madd(ef, logFloat(7), logF));
}
