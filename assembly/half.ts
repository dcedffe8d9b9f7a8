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

/** Four float16 values (one per i32 lane, zero-extended) to f32 bits. */
// @ts-ignore: decorator
@inline function decodeF16x4(h: v128): v128 {
  const magnitude = v128.and(h, i32x4.splat(0x7fff));
  const shifted = i32x4.shl(magnitude, 13);
  const finite = f32x4.mul(shifted, f32x4.splat(TWO_112));
  const special = v128.or(shifted, i32x4.splat(0x7f800000));
  const bits = v128.bitselect(special, finite, i32x4.gt_s(magnitude, i32x4.splat(0x7bff)));
  return v128.or(bits, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

/** Four f32 (bits) to float16 values, one per i32 lane. */
// @ts-ignore: decorator
@inline function encodeF16x4(x: v128): v128 {
  const sign = v128.and(i32x4.shr_u(x, 16), i32x4.splat(0x8000));
  const a = v128.and(x, i32x4.splat(0x7fffffff));
  const nan = v128.or(i32x4.splat(0x7e00), v128.and(i32x4.shr_u(a, 13), i32x4.splat(0x3ff)));
  const big = v128.bitselect(nan, i32x4.splat(0x7c00), i32x4.gt_s(a, i32x4.splat(0x7f800000)));
  const small = i32x4.sub(f32x4.add(a, f32x4.splat(0.5)), i32x4.splat(0x3f000000));
  const odd = v128.and(i32x4.shr_u(a, 13), i32x4.splat(1));
  const normal = i32x4.shr_u(i32x4.add(i32x4.add(a, i32x4.splat(0xc8000fff)), odd), 13);
  let h = v128.bitselect(small, normal, i32x4.lt_s(a, i32x4.splat(0x38800000)));
  h = v128.bitselect(big, h, i32x4.gt_s(a, i32x4.splat(0x477fffff)));
  return v128.or(h, sign);
}

/** Four f32 (bits) to bfloat16 values, one per i32 lane. */
// @ts-ignore: decorator
@inline function encodeBF16x4(x: v128): v128 {
  const odd = v128.and(i32x4.shr_u(x, 16), i32x4.splat(1));
  const rounded = i32x4.shr_u(i32x4.add(i32x4.add(x, i32x4.splat(0x7fff)), odd), 16);
  const quiet = v128.or(i32x4.shr_u(x, 16), i32x4.splat(0x40));
  const nan = i32x4.gt_s(v128.and(x, i32x4.splat(0x7fffffff)), i32x4.splat(0x7f800000));
  return v128.bitselect(quiet, rounded, nan);
}

/** n 16-bit values at src (format 1 float16, 2 bfloat16) to f32 at dst (see the header for in place). */
export function decodeHalf(src: usize, dst: usize, n: i32, format: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    if (format == FLOAT16) {
      for (; i + 8 <= n; i += 8) {
        const h = v128.load(src + (<usize>i << 1));
        const lo = decodeF16x4(i32x4.extend_low_i16x8_u(h));
        const hi = decodeF16x4(i32x4.extend_high_i16x8_u(h));
        v128.store(dst + (<usize>i << 2), lo);
        v128.store(dst + (<usize>i << 2), hi, 16);
      }
    } else {
      const zero = i32x4.splat(0);
      for (; i + 8 <= n; i += 8) {
        const h = v128.load(src + (<usize>i << 1));
        // The 16 bits become the high half of each f32: interleave zeros below them.
        const lo = i8x16.shuffle(zero, h, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
        const hi = i8x16.shuffle(zero, h, 0, 1, 24, 25, 2, 3, 26, 27, 4, 5, 28, 29, 6, 7, 30, 31);
        v128.store(dst + (<usize>i << 2), lo);
        v128.store(dst + (<usize>i << 2), hi, 16);
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
    if (format == FLOAT16) {
      for (; i + 8 <= n; i += 8) {
        const lo = encodeF16x4(v128.load(src + (<usize>i << 2)));
        const hi = encodeF16x4(v128.load(src + (<usize>i << 2), 16));
        v128.store(dst + (<usize>i << 1), i16x8.narrow_i32x4_u(lo, hi));
      }
    } else {
      for (; i + 8 <= n; i += 8) {
        const lo = encodeBF16x4(v128.load(src + (<usize>i << 2)));
        const hi = encodeBF16x4(v128.load(src + (<usize>i << 2), 16));
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
