// exp(x) for x ≤ 0, in float32: XNNPACK's "rr2_p5" scheme.
//
// 1. n = round(x·log2 e): adding a magic bias 1.5·2^23 + 127 rounds x·log2 e to an
//    integer and leaves n + 127 in the low mantissa bits;
// 2. s = 2^n: shift those bits into the exponent field;
// 3. t = x − n·ln2, with ln2 split hi/lo (Cody–Waite) so the reduction is exact to f32;
// 4. exp(t) on [−ln2/2, ln2/2] by a degree-5 minimax polynomial: exp(x) = s + s·t·p(t);
// 5. lanes below −87.34 (where 2^n would be subnormal) are exactly 0; this also turns −∞
//    (whose reduction gives NaN) into 0, while NaN inputs stay NaN.
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

/** exp(x) for x ≤ 0 (scalar). */
// @ts-ignore: decorator
@inline export function expMinus(x: f32): f32 {
  let n = x * LOG2E + MAGIC_BIAS;
  const s = reinterpret<f32>(reinterpret<u32>(n) << 23);
  n -= MAGIC_BIAS;
  let t = n * MINUS_LN2_HI + x;
  t = n * MINUS_LN2_LO + t;
  let p = C5 * t + C4;
  p = p * t + C3;
  p = p * t + C2;
  p = p * t + C1;
  t *= s;
  const f = t * p + s;
  return x < DENORM_CUTOFF ? 0 : f;
}

/** a·b + c: fused on the relaxed-SIMD build, two roundings elsewhere. */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// The vector constants, four lanes each, loaded from memory where they are used: a load
// folds into the arithmetic, while a v128.const is rebuilt from immediates on every
// iteration (binaryen cannot hoist what it can't see is constant in memory).
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
  DENORM_CUTOFF, DENORM_CUTOFF, DENORM_CUTOFF, DENORM_CUTOFF,
], 16);

/** exp(x) for four lanes x ≤ 0 (SIMD builds only). */
// @ts-ignore: decorator
@inline export function expMinus4(x: v128): v128 {
  const magic = v128.load(TABLE);
  let n = madd(x, v128.load(TABLE, 16), magic);
  const s = i32x4.shl(n, 23);
  n = f32x4.sub(n, magic);
  let t = madd(n, v128.load(TABLE, 32), x);
  t = madd(n, v128.load(TABLE, 48), t);
  let p = madd(v128.load(TABLE, 64), t, v128.load(TABLE, 80));
  p = madd(p, t, v128.load(TABLE, 96));
  p = madd(p, t, v128.load(TABLE, 112));
  p = madd(p, t, v128.load(TABLE, 128));
  t = f32x4.mul(t, s);
  const f = madd(t, p, s);
  // Lanes below the cutoff (and −∞) become exactly 0; NaN compares false and stays NaN.
  return v128.andnot(f, f32x4.lt(x, v128.load(TABLE, 144)));
}

/**
 * The exp floor for the benchmark: x ← exp(x − 1) over n floats at ptr, in place.
 * One vector expf per element is the least work any softmax must do.
 */
export function expFloor(ptr: usize, n: i32): void {
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    const one = f32x4.splat(1);
    for (; k + 4 <= n; k += 4) {
      const at = ptr + (<usize>k << 2);
      v128.store(at, expMinus4(f32x4.sub(v128.load(at), one)));
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
