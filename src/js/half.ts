/**
 * 16-bit logits on the JS backend: the same decoding and encoding as assembly/half.ts (see
 * its header), bit for bit, and the float32 kernels run on blocks of decoded rows.
 */
import type { HalfFormat, HalfLogits, HardRequest, SoftRequest } from '../backend.js';
import { rowLossSum } from '../threads/sum.js';

/** Rows of a block: about this many logits, decoded into a reused Float32Array (in cache). */
const BLOCK_ELEMENTS = 1 << 14;

/**
 * float16 bits → float32 bits, all 65536 of them (built on first use). Bits, not values: a
 * float read into a JS number may lose a signaling NaN's payload (V8 on Node 24 quiets it).
 */
let f16Table: Uint32Array | null = null;

export function float16Table(): Uint32Array {
  if (f16Table) return f16Table;
  const bits = new Uint32Array(65536);
  const value = new Float32Array(bits.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0x1f) bits[h] = (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
    else if (exponent === 0) value[h] = (sign ? -1 : 1) * mantissa * 2 ** -24;
    else bits[h] = (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
  }
  f16Table = bits;
  return bits;
}

/** out[at + i] ← the value of bits[from + i], for i < to − from. */
export function decodeHalf(bits: Uint16Array, from: number, to: number, format: HalfFormat, out: Float32Array, at: number): void {
  const words = new Uint32Array(out.buffer, out.byteOffset, out.length);
  if (format === 'float16') {
    const table = float16Table();
    for (let i = from; i < to; i++) words[at + i - from] = table[bits[i]];
  } else {
    for (let i = from; i < to; i++) words[at + i - from] = bits[i] << 16;
  }
}

/** float32 bits → float16 bits, rounded to nearest even (assembly/half.ts encodeF16, in integers). */
export function encodeFloat16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const a = x & 0x7fffffff;
  if (a >= 0x47800000) return sign | (a > 0x7f800000 ? 0x7e00 | ((a >>> 13) & 0x3ff) : 0x7c00);
  if (a >= 0x38800000) return sign | (((a + 0xc8000fff + ((a >>> 13) & 1)) >>> 0) >>> 13);
  // A float16 subnormal (or 0): round |x|·2^24 = (1.m)·2^(e − 126) to an integer, ties to even.
  const exponent = a >>> 23;
  const shift = 126 - exponent;
  if (exponent === 0 || shift > 24) return sign;
  const mantissa = (a & 0x7fffff) | 0x800000;
  const kept = mantissa >>> shift;
  const rest = mantissa - kept * 2 ** shift;
  const half = 2 ** (shift - 1);
  return sign | (rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept);
}

/** float32 bits → bfloat16 bits, rounded to nearest even; NaN stays NaN (quiet). */
export function encodeBfloat16(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40;
  return ((x >>> 0) + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

/** out[at + i] ← values[from + i] as 16-bit bits, rounded to nearest even. */
export function encodeHalf(values: Float32Array, from: number, to: number, format: HalfFormat, out: Uint16Array, at: number): void {
  const words = new Int32Array(values.buffer, values.byteOffset, values.length);
  const encode = format === 'float16' ? encodeFloat16 : encodeBfloat16;
  for (let i = from; i < to; i++) out[at + i - from] = encode(words[i]);
}

let block = new Float32Array(0);

/**
 * Runs a float32 kernel on 16-bit logits, block after block of decoded rows (the 16-bit
 * gradient written over each block, then encoded), and sums the row losses in row order as
 * the kernel does: the bits of one float32 call on the decoded logits.
 */
export function halfRows<R extends HardRequest | SoftRequest>(run: (request: R) => number, request: R): number {
  const half = request.half as HalfLogits;
  const { rows, numClasses: K, grad } = request;
  if (rows === 0) return 0;
  const rowsPerBlock = Math.max(1, Math.floor(BLOCK_ELEMENTS / K));
  if (block.length < rowsPerBlock * K) block = new Float32Array(rowsPerBlock * K);
  const z = block;
  const losses = request.losses ?? new Float32Array(rows);
  for (let r0 = 0; r0 < rows; r0 += rowsPerBlock) {
    const r1 = Math.min(rows, r0 + rowsPerBlock);
    const n = (r1 - r0) * K;
    const logits = z.subarray(0, n);
    decodeHalf(half.bits, r0 * K, r1 * K, half.format, logits, 0);
    const piece = {
      ...request,
      logits,
      rows: r1 - r0,
      grad: grad ? grad.subarray(r0 * K, r1 * K) : half.grad ? logits : null,
      losses: losses.subarray(r0, r1),
      lse: request.lse ? request.lse.subarray(r0, r1) : null,
      half: null,
      ...('labels' in request ? { labels: request.labels.subarray(r0, r1) } : { targets: request.targets.subarray(r0 * K, r1 * K) }),
    };
    run(piece as R);
    if (half.grad) encodeHalf(logits, 0, n, half.format, half.grad, r0 * K);
  }
  return rowLossSum(losses, rows, false);
}
