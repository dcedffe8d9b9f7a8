/**
 * 16-bit logits on the JS backend: the same decoding and encoding as assembly/half.ts (see
 * its header), bit for bit, and the float32 kernels run on blocks of decoded logits.
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
let targetBlock = new Float32Array(0);

/**
 * Positions per piece, at least, when one outer of a class axis not last is more than a block:
 * a piece is decoded class by class, runs of `width` contiguous values (longer runs than a
 * block's few positions at large K: K = 1000 gives 16).
 */
const MIN_PIECE = 256;

/**
 * Runs a float32 kernel on 16-bit logits, block after block of decoded logits (the 16-bit
 * gradient written over each block, then encoded), and sums the row losses in row order as
 * the kernel does: the bits of one float32 call on the decoded logits.
 *
 * Blocks keep the logits' layout, [outer][K][inner] (rows: inner = 1), so the kernel reads
 * them with step `inner` as it reads float32 logits (rows.ts), no transposed copy: whole outers
 * per block where one fits, else pieces of one outer's positions, [K][width], one copy per
 * class (the kernel then sees one outer of `width` positions).
 */
export function halfRows<R extends HardRequest | SoftRequest>(run: (request: R) => number, request: R): number {
  const { rows, numClasses: K } = request;
  if (rows === 0) return 0;
  const inner = request.inner ?? 1;
  const perBlock = Math.max(1, Math.floor(BLOCK_ELEMENTS / K));
  const losses = request.losses ?? new Float32Array(rows);
  if (inner <= perBlock) {
    const outers = Math.floor(perBlock / inner);
    for (let p0 = 0; p0 < rows; p0 += outers * inner) halfBlock(run, request, losses, p0, Math.min(rows, p0 + outers * inner));
  } else {
    const width = Math.min(inner, Math.max(perBlock, MIN_PIECE));
    for (let p0 = 0; p0 < rows; p0 += inner) {
      for (let i0 = 0; i0 < inner; i0 += width) halfPiece(run, request, losses, p0, i0, Math.min(width, inner - i0));
    }
  }
  return rowLossSum(losses, rows, false);
}

/** The positions' fields of the request: labels or targets (as given), losses and lse. */
function positionsOf<R extends HardRequest | SoftRequest>(request: R, losses: Float32Array, p0: number, p1: number, targets: Float32Array | null) {
  return {
    losses: losses.subarray(p0, p1),
    lse: request.lse ? request.lse.subarray(p0, p1) : null,
    half: null,
    ...('labels' in request ? { labels: request.labels.subarray(p0, p1) } : { targets: targets as Float32Array }),
  };
}

/** Whole outers, positions [p0, p1): one contiguous range of the logits. */
function halfBlock<R extends HardRequest | SoftRequest>(run: (request: R) => number, request: R, losses: Float32Array, p0: number, p1: number): void {
  const half = request.half as HalfLogits;
  const { numClasses: K, grad } = request;
  const from = p0 * K;
  const n = (p1 - p0) * K;
  if (block.length < n) block = new Float32Array(n);
  const logits = block.subarray(0, n);
  decodeHalf(half.bits, from, from + n, half.format, logits, 0);
  const targets = 'targets' in request ? request.targets.subarray(from, from + n) : null;
  run({
    ...request, ...positionsOf(request, losses, p0, p1, targets), logits, rows: p1 - p0,
    grad: grad ? grad.subarray(from, from + n) : half.grad ? logits : null,
  } as R);
  if (half.grad) encodeHalf(logits, 0, n, half.format, half.grad, from);
}

/** Positions i0…i0+width−1 of the outer that starts at position p0, as one outer [K][width]. */
function halfPiece<R extends HardRequest | SoftRequest>(run: (request: R) => number, request: R, losses: Float32Array, p0: number, i0: number, width: number): void {
  const half = request.half as HalfLogits;
  const { numClasses: K, grad } = request;
  const inner = request.inner as number;
  const n = K * width;
  if (block.length < n) block = new Float32Array(n);
  const logits = block.subarray(0, n);
  const first = p0 * K + i0; // class 0 of position p0 + i0
  for (let k = 0; k < K; k++) decodeHalf(half.bits, first + k * inner, first + k * inner + width, half.format, logits, k * width);
  let targets: Float32Array | null = null;
  if ('targets' in request) {
    if (targetBlock.length < n) targetBlock = new Float32Array(n);
    targets = targetBlock.subarray(0, n);
    for (let k = 0; k < K; k++) targets.set(request.targets.subarray(first + k * inner, first + k * inner + width), k * width);
  }
  const wantGrad = grad !== null || half.grad !== null;
  run({
    ...request, ...positionsOf(request, losses, p0 + i0, p0 + i0 + width, targets), logits, rows: width, inner: width,
    grad: wantGrad ? logits : null,
  } as R);
  for (let k = 0; k < K; k++) {
    const at = first + k * inner;
    if (grad) grad.set(logits.subarray(k * width, (k + 1) * width), at);
    else if (half.grad) encodeHalf(logits, k * width, (k + 1) * width, half.format, half.grad, at);
  }
}
