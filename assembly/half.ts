// 16-bit logits: float16 (IEEE binary16) and bfloat16 bits decoded to f32 in linear memory,
// and 16-bit gradients encoded from the f32 ones; then the f32 kernels run unchanged, so a
// 16-bit call gives the f32 call's bits on the decoded values.
//
// Formats (must match HALF_FORMATS in src/dtype.ts): 1 = float16, 2 = bfloat16.
//
// Decoding is exact (every 16-bit value is an f32):
//   bfloat16: the f32 whose high 16 bits they are (a shift).
//   float16:  h = s|e(5)|m(10). (h & 0x7fff) << 13 is an f32 whose exponent field is e and
//             mantissa m; times 2^112 (exact) it is 2^(e−15)·1.m for normals and m·2^−24 for
//             subnormals (the f32 is then subnormal, m·2^−136). e = 31 (±∞, NaN) keeps its
//             mantissa under an all-ones f32 exponent instead. The sign goes back on last, so
//             ±0 stay ±0.
// Encoding rounds to nearest, ties to even; NaN stays NaN (its sign and top payload bits,
// with the quiet bit set); what rounds past the largest finite value is ±∞:
//   bfloat16: bits + 0x7fff + (bit 16 of bits), then the high half (a carry into the exponent
//             rounds up to the next binade or to ∞: the integer trick is exact RNE).
//   float16:  (F. Giesen's float_to_half_fast3_rtne) |x| ≥ 65536 → ∞ (|x| in [65520, 65536)
//             reaches ∞ through the normal path's carry); |x| < 2^−14 (f16 subnormal or 0):
//             |x| + 0.5 in f32 puts the subnormal mantissa, rounded by the FPU to nearest
//             even, in the low bits; else rebias the exponent by −112 and add 0xfff + the
//             lowest kept mantissa bit before dropping 13 bits.
//
// In place: decodeHalf may read from the upper half of the f32 region it writes (src =
// dst + 2n): it loads eight values before storing them, so no store reaches bits not yet
// read. encodeHalf may write over the f32 it reads (dst = src). The kernels below use both.

import { xentRows } from './xent';
import { softRows } from './soft';

// @ts-ignore: decorator
@inline const FLOAT16: i32 = 1;

// @ts-ignore: decorator
@inline const TWO_112: f32 = 5.192296858534828e33; // 2^112

// @ts-ignore: decorator
@inline function decodeF16(h: u32): u32 {
  const magnitude = h & 0x7fff;
  const shifted = magnitude << 13;
  const bits = magnitude >= 0x7c00 ? shifted | 0x7f800000 : reinterpret<u32>(reinterpret<f32>(shifted) * TWO_112);
  return bits | ((h & 0x8000) << 16);
}

// @ts-ignore: decorator
@inline function encodeF16(x: u32): u32 {
  const sign = (x >> 16) & 0x8000;
  const a = x & 0x7fffffff;
  let h: u32;
  if (a >= 0x47800000) {
    h = a > 0x7f800000 ? 0x7e00 | ((a >> 13) & 0x3ff) : 0x7c00;
  } else if (a < 0x38800000) {
    h = reinterpret<u32>(reinterpret<f32>(a) + 0.5) - 0x3f000000;
  } else {
    h = (a + 0xc8000fff + ((a >> 13) & 1)) >> 13;
  }
  return h | sign;
}

// @ts-ignore: decorator
@inline function encodeBF16(x: u32): u32 {
  if ((x & 0x7fffffff) > 0x7f800000) return (x >> 16) | 0x40;
  return (x + 0x7fff + ((x >> 16) & 1)) >> 16;
}

// The vector constants, in a memory table that the SIMD loops load into locals before they
// start (see exp.ts: V8 rebuilds a v128.const inside a loop on every iteration; loaded once,
// they stay in registers). Lane values, four lanes each, by index:
const LANES = memory.data<u32>([
  0x7fff, 0x7fff, 0x7fff, 0x7fff, // 0 bfloat16 rounding bias
  0x7f800000, 0x7f800000, 0x7f800000, 0x7f800000, // 1 f32 ∞ (exponent field)
  0x77800000, 0x77800000, 0x77800000, 0x77800000, // 2 2^112 as f32 bits
  0x7bff0000, 0x7bff0000, 0x7bff0000, 0x7bff0000, // 3 the largest finite float16 magnitude, in the high half
  0x8000, 0x8000, 0x8000, 0x8000, // 4 float16 sign
  0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff, // 5 f32 magnitude mask
  0x7e00, 0x7e00, 0x7e00, 0x7e00, // 6 float16 quiet NaN
  0x3ff, 0x3ff, 0x3ff, 0x3ff, // 7 float16 mantissa mask
  0x7c00, 0x7c00, 0x7c00, 0x7c00, // 8 float16 ∞
  0x3f000000, 0x3f000000, 0x3f000000, 0x3f000000, // 9 0.5 as f32 bits
  1, 1, 1, 1, // 10
  0xc8000fff, 0xc8000fff, 0xc8000fff, 0xc8000fff, // 11 exponent −112 and the rounding bias 0xfff
  0x38800000, 0x38800000, 0x38800000, 0x38800000, // 12 2^−14, the smallest normal float16
  0x477fffff, 0x477fffff, 0x477fffff, 0x477fffff, // 13 below 65536 (2^16)
  0x40, 0x40, 0x40, 0x40, // 14 bfloat16 quiet bit
  0x7fff0000, 0x7fff0000, 0x7fff0000, 0x7fff0000, // 15 float16 magnitude mask, in the high half
], 16);

// @ts-ignore: decorator
@inline function lanes(i: i32): v128 {
  return v128.load(LANES + (<usize>i << 4));
}

/**
 * Four float16 values, each in the high half of an i32 lane (low half zero), to f32 bits:
 * m = the magnitude bits, (m >> 3)·2^112 the value (exact; see the header), ∞'s exponent
 * ORed in where m is past the largest finite value (a NaN's payload is never touched by
 * arithmetic, so a signaling NaN stays signaling), then the sign (x ^ m). Nine operations
 * per four values, constants: lanes 15, 2, 3, 1.
 */
// @ts-ignore: decorator
@inline function decodeF16x4(x: v128, magnitudeMask: v128, scale: v128, largest: v128, infinity: v128): v128 {
  const m = v128.and(x, magnitudeMask);
  const value = f32x4.mul(i32x4.shr_u(m, 3), scale);
  const special = v128.and(i32x4.gt_s(m, largest), infinity);
  return v128.or(v128.or(value, special), v128.xor(x, m));
}

/** Four f32 (bits) to float16 values, one per i32 lane. */
// @ts-ignore: decorator
@inline function encodeF16x4(
  x: v128, signMask: v128, magnitudeMask: v128, quietNaN: v128, mantissaMask: v128, infinity16: v128,
  infinity32: v128, half: v128, one: v128, bias: v128, smallest: v128, largest: v128,
): v128 {
  const sign = v128.and(i32x4.shr_u(x, 16), signMask);
  const a = v128.and(x, magnitudeMask);
  const nan = v128.or(quietNaN, v128.and(i32x4.shr_u(a, 13), mantissaMask));
  const big = v128.bitselect(nan, infinity16, i32x4.gt_s(a, infinity32));
  const small = i32x4.sub(f32x4.add(a, half), half);
  const normal = i32x4.shr_u(i32x4.add(i32x4.add(a, bias), v128.and(i32x4.shr_u(a, 13), one)), 13);
  let h = v128.bitselect(small, normal, i32x4.lt_s(a, smallest));
  h = v128.bitselect(big, h, i32x4.gt_s(a, largest));
  return v128.or(h, sign);
}

/** Four f32 (bits) to bfloat16 values, one per i32 lane. */
// @ts-ignore: decorator
@inline function encodeBF16x4(x: v128, one: v128, bias: v128, quiet: v128, magnitudeMask: v128, infinity32: v128): v128 {
  const odd = v128.and(i32x4.shr_u(x, 16), one);
  const rounded = i32x4.shr_u(i32x4.add(i32x4.add(x, bias), odd), 16);
  const quieted = v128.or(i32x4.shr_u(x, 16), quiet);
  const nan = i32x4.gt_s(v128.and(x, magnitudeMask), infinity32);
  return v128.bitselect(quieted, rounded, nan);
}

/** n 16-bit values at src (format 1 float16, 2 bfloat16) to f32 at dst (see the header for in place). */
export function decodeHalf(src: usize, dst: usize, n: i32, format: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = i32x4.splat(0);
    if (format == FLOAT16) {
      const magnitude = lanes(15);
      const scale = lanes(2);
      const largest = lanes(3);
      const infinity = lanes(1);
      for (; i + 8 <= n; i += 8) {
        const h = v128.load(src + (<usize>i << 1));
        // Each value into the high half of a lane (unpack low / high with zeros: one
        // instruction each in V8).
        v128.store(dst + (<usize>i << 2), decodeF16x4(i16x8.shuffle(zero, h, 0, 8, 1, 9, 2, 10, 3, 11), magnitude, scale, largest, infinity));
        v128.store(dst + (<usize>i << 2), decodeF16x4(i16x8.shuffle(zero, h, 4, 12, 5, 13, 6, 14, 7, 15), magnitude, scale, largest, infinity), 16);
      }
    } else {
      for (; i + 8 <= n; i += 8) {
        const h = v128.load(src + (<usize>i << 1));
        // The 16 bits become the high half of each f32: interleave zeros below them (the
        // unpack-low/high patterns, which V8 emits as one instruction each).
        v128.store(dst + (<usize>i << 2), i16x8.shuffle(zero, h, 0, 8, 1, 9, 2, 10, 3, 11));
        v128.store(dst + (<usize>i << 2), i16x8.shuffle(zero, h, 4, 12, 5, 13, 6, 14, 7, 15), 16);
      }
    }
  }
  if (format == FLOAT16) {
    for (; i < n; i++) store<u32>(dst + (<usize>i << 2), decodeF16(<u32>load<u16>(src + (<usize>i << 1))));
  } else {
    for (; i < n; i++) store<u32>(dst + (<usize>i << 2), <u32>load<u16>(src + (<usize>i << 1)) << 16);
  }
}

/** n f32 at src to 16-bit values at dst, rounded to nearest even (dst may equal src). */
export function encodeHalf(src: usize, dst: usize, n: i32, format: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const one = lanes(10);
    const magnitude = lanes(5);
    const infinity32 = lanes(1);
    if (format == FLOAT16) {
      const sign = lanes(4);
      const quietNaN = lanes(6);
      const mantissa = lanes(7);
      const infinity16 = lanes(8);
      const half = lanes(9);
      const bias = lanes(11);
      const smallest = lanes(12);
      const largest = lanes(13);
      for (; i + 8 <= n; i += 8) {
        const lo = encodeF16x4(v128.load(src + (<usize>i << 2)), sign, magnitude, quietNaN, mantissa, infinity16, infinity32, half, one, bias, smallest, largest);
        const hi = encodeF16x4(v128.load(src + (<usize>i << 2), 16), sign, magnitude, quietNaN, mantissa, infinity16, infinity32, half, one, bias, smallest, largest);
        v128.store(dst + (<usize>i << 1), i16x8.narrow_i32x4_u(lo, hi));
      }
    } else {
      const bias = lanes(0);
      const quiet = lanes(14);
      for (; i + 8 <= n; i += 8) {
        const lo = encodeBF16x4(v128.load(src + (<usize>i << 2)), one, bias, quiet, magnitude, infinity32);
        const hi = encodeBF16x4(v128.load(src + (<usize>i << 2), 16), one, bias, quiet, magnitude, infinity32);
        v128.store(dst + (<usize>i << 1), i16x8.narrow_i32x4_u(lo, hi));
      }
    }
  }
  if (format == FLOAT16) {
    for (; i < n; i++) store<u16>(dst + (<usize>i << 1), <u16>encodeF16(load<u32>(src + (<usize>i << 2))));
  } else {
    for (; i < n; i++) store<u16>(dst + (<usize>i << 1), <u16>encodeBF16(load<u32>(src + (<usize>i << 2))));
  }
}

/**
 * xentRows on 16-bit logits: their bits sit in the upper half of the f32 logits region
 * (at logits + 2·rows·K), are decoded over that region, and xentRows runs as on f32 rows;
 * with encodeGrad the f32 gradient it wrote at grad is then encoded in place (its first
 * 2·rows·K bytes), rounded to nearest even. One call per chunk, so a chunk's decode, kernel
 * and encode stay in cache, and a worker of the pool decodes its own chunks.
 */
export function xentRowsHalf(
  format: i32, encodeGrad: bool,
  logits: usize, grad: usize, labels: usize, rows: i32, K: i32,
  smoothing: f64, scale: f64, ignoreIndex: i32,
  weight: usize, weightSum: f64, zLoss: f64, softcap: f32, scratch: usize,
  losses: usize, lseOut: usize, sumIn: f64, rowWise: bool,
): f64 {
  const n = rows * K;
  decodeHalf(logits + (<usize>n << 1), logits, n, format);
  const sum = xentRows(logits, grad, labels, rows, K, smoothing, scale, ignoreIndex, weight, weightSum, zLoss, softcap, scratch, losses, lseOut, sumIn, rowWise);
  if (encodeGrad && grad) encodeHalf(grad, grad, n, format);
  return sum;
}

/** softRows on 16-bit logits, as xentRowsHalf (the targets stay f32). */
export function softRowsHalf(
  format: i32, encodeGrad: bool,
  logits: usize, targets: usize, grad: usize, rows: i32, K: i32,
  smoothing: f64, scale: f64, weight: usize, temperature: f64,
  losses: usize, lseOut: usize, sumIn: f64, scratch: usize, rowWise: bool,
): f64 {
  const n = rows * K;
  decodeHalf(logits + (<usize>n << 1), logits, n, format);
  const sum = softRows(logits, targets, grad, rows, K, smoothing, scale, weight, temperature, losses, lseOut, sumIn, scratch, rowWise);
  if (encodeGrad && grad) encodeHalf(grad, grad, n, format);
  return sum;
}
