/**
 * The class axis anywhere: `shape` and `classAxis` (PyTorch's and ONNX's N×C×d1…dk).
 *
 * Logits of shape [d0, …, d(n−1)] with the class axis a are, row-major, [outer][C][inner] with
 * outer = d0·…·d(a−1), C = d(a), inner = d(a+1)·…·d(n−1). Position p = o·inner + i is row p of
 * the transposed (outer·inner)×C call: labels, losses and lse are in position order (the shape
 * without the class axis); targets and the gradient are laid out as the logits. inner = 1 is the
 * row layout itself.
 *
 * Chunks of positions [r0, r1) go to the kernels (assembly/strided.ts) as a block
 * [outers][C][width]: whole outers as they are (one copy), else the chunk's positions of each
 * class side by side, [C][r1 − r0] (a copy per class and outer piece, never a transpose).
 */
import { HALF_FORMATS, type HalfLogits } from './backend.js';
import { copy } from './wasm/bridge.js';
import { describe, number } from './options.js';

export interface ClassLayout {
  numClasses: number;
  /** Positions per outer index (1: rows). */
  inner: number;
  /** outer·inner: the rows of the transposed call. */
  rows: number;
}

/**
 * `shape`, `classAxis` and `numClasses` checked against logits.length, or null when there is no
 * `shape` (then `numClasses` rules, as before). Errors name the argument and the value.
 */
export function classLayoutOf(options: Record<string, unknown>, length: number, where: string): ClassLayout | null {
  const { shape, classAxis } = options;
  if (shape === undefined) {
    if (classAxis !== undefined) throw new TypeError(`${where}: classAxis needs shape (the logits' dimensions), got classAxis ${describe(classAxis)} without it`);
    return null;
  }
  if (!Array.isArray(shape)) throw new TypeError(`${where}: shape must be an array of integers ≥ 0 (the logits' dimensions), got ${describe(shape)}`);
  if (shape.length === 0) throw new RangeError(`${where}: shape must have at least one dimension, got []`);
  const dims = shape as unknown[];
  let product = 1;
  for (let d = 0; d < dims.length; d++) {
    const dim = dims[d];
    if (typeof dim !== 'number') throw new TypeError(`${where}: shape[${d}] must be a number (an integer ≥ 0), got ${describe(dim)}`);
    if (!Number.isInteger(dim) || dim < 0) throw new RangeError(`${where}: shape[${d}] must be an integer ≥ 0, got ${describe(dim)}`);
    product *= dim;
  }
  if (product !== length) {
    throw new RangeError(`${where}: shape [${dims.join(', ')}] has ${product} elements, but logits.length is ${length}`);
  }
  const n = dims.length;
  const axis = classAxis === undefined ? n - 1
    : number(where, 'classAxis', classAxis, `an integer in [${-n}, ${n - 1}] (negative counts from the end)`, (v) => Number.isInteger(v) && v >= -n && v < n);
  const a = axis < 0 ? axis + n : axis;
  const C = dims[a] as number;
  if (C < 1) throw new RangeError(`${where}: the class axis (shape[${a}]) must be ≥ 1, got ${C}`);
  if (options.numClasses !== undefined) {
    const given = number(where, 'numClasses', options.numClasses, 'an integer ≥ 1', (v) => Number.isInteger(v) && v >= 1);
    if (given !== C) throw new RangeError(`${where}: numClasses must equal shape[${a}] (${C}) when shape is given, got ${describe(given)}`);
  }
  let inner = 1;
  for (let d = a + 1; d < n; d++) inner *= dims[d] as number;
  return { numClasses: C, inner, rows: length / C };
}

/** Rows of a tile on the kernels' tile path (must match tileRows in assembly/strided.ts). */
const tileRows = (K: number) => (K <= 64 ? 64 : 4);

/** Bytes of the strided kernels' `tiles` scratch: a tile of logits (and of targets), or the small path's offsets and row. */
export const tileBytes = (K: number, soft: boolean) => 16 + 4 * Math.max(tileRows(K) * K * (soft ? 2 : 1), 4 * 32 + K + 4);

/**
 * Rows per chunk of at most `fit` positions (a multiple of four when ≥ 4): whole outers when
 * enough fit, so that a chunk is one copy, and always a multiple of four rows, so that every
 * chunk starts on a small-K group of the call (the kernels sum their losses group by group).
 */
export function stridedChunk(fit: number, inner: number, most = fit): number {
  const whole = inner % 4 === 0 ? inner : inner % 2 === 0 ? 2 * inner : 4 * inner;
  if (whole <= fit) return Math.floor(fit / whole) * whole;
  // Inside an outer a chunk is copied as one piece per class, `fit` positions long: at large K
  // the pieces get short (64 positions at K = 1000: 256 bytes read every `inner` floats) and
  // that copy cost 4× the kernel (bench/layout.mjs, 8×1000×512). So take a whole outer, or at
  // least MIN_PIECE positions, when the arena holds them (`most` positions), cache or not.
  if (fit >= MIN_PIECE) return fit;
  if (whole <= most) return whole;
  const wide = Math.min(most, MIN_PIECE);
  return Math.max(fit, wide - (wide % 4));
}

/** Positions per class piece that the chunks of a class axis not last aim for at least (see stridedChunk). */
const MIN_PIECE = 512;

/** How positions [r0, r1) lie in the arena: whole outers, or one block [C][r1 − r0]. */
export function chunkShape(r0: number, r1: number, inner: number): { outers: number; width: number } {
  if (r0 % inner === 0 && r1 % inner === 0) return { outers: (r1 - r0) / inner, width: inner };
  return { outers: 1, width: r1 - r0 };
}

/**
 * Positions [r0, r1) of `data` ([outer][K][inner]) to the arena at element `at` (toArena), or
 * back from it, in the arrangement chunkShape gives. 16-bit logits and gradients move as their
 * bits (a Uint16Array data and view of the arena), in the same arrangement.
 */
export function copyPositions<T extends Float32Array | Uint16Array>(arena: T, at: number, data: T, K: number, inner: number, r0: number, r1: number, toArena: boolean): void {
  if (r0 % inner === 0 && r1 % inner === 0) {
    if (toArena) copy(arena, at, data, r0 * K, r1 * K);
    else copy(data, r0 * K, arena, at, at + (r1 - r0) * K);
    return;
  }
  const width = r1 - r0;
  for (let o = Math.floor(r0 / inner), last = Math.floor((r1 - 1) / inner); o <= last; o++) {
    const i0 = Math.max(r0, o * inner) - o * inner;
    const i1 = Math.min(r1, (o + 1) * inner) - o * inner;
    const into = at + o * inner + i0 - r0;
    const n = i1 - i0;
    for (let k = 0; k < K; k++) {
      const from = (o * K + k) * inner + i0;
      if (toArena) run(arena, into + k * width, data, from, n);
      else run(data, from, arena, into + k * width, n);
    }
  }
}

/**
 * dst[at…at+n) ← src[from…from+n): one class's piece of a chunk. Its own loop for short runs,
 * not the bridge's `copy`, which every caller shares with other array types: megamorphic,
 * its loop cost 7 ns per element here (29 of 39 ms of an 8×1000×512 loss, 64-position chunks).
 */
function run<T extends Float32Array | Uint16Array>(dst: T, at: number, src: T, from: number, n: number): void {
  if (n >= 256) {
    dst.set(src.subarray(from, from + n), at);
    return;
  }
  for (let i = 0; i < n; i++) dst[at + i] = src[from + i];
}

/** The logits, gradient and dtype of a strided call (HardRequest / SoftRequest). */
interface StridedData { logits: Float32Array; grad: Float32Array | null; half?: HalfLogits | null }

/**
 * A chunk's logits, positions [r0, r1), into the arena's logits region at byte `logitsAt`:
 * float32 as they are; 16-bit bits in the same arrangement into the region's upper half,
 * where the kernel decodes them (xentStrided / softStrided with a format, assembly/strided.ts).
 */
export function copyLogitPositionsIn(f32: Float32Array, u16: Uint16Array, logitsAt: number, data: StridedData, K: number, inner: number, r0: number, r1: number): void {
  if (data.half) copyPositions(u16, (logitsAt >> 1) + (r1 - r0) * K, data.half.bits, K, inner, r0, r1, true);
  else copyPositions(f32, logitsAt >> 2, data.logits, K, inner, r0, r1, true);
}

/** The chunk's gradient out: the f32 one (grad), or the 16-bit one the kernel encoded over the region's start. */
export function copyGradPositionsOut(f32: Float32Array, u16: Uint16Array, logitsAt: number, data: StridedData, K: number, inner: number, r0: number, r1: number): void {
  if (data.grad) copyPositions(f32, logitsAt >> 2, data.grad, K, inner, r0, r1, false);
  else if (data.half?.grad) copyPositions(u16, logitsAt >> 1, data.half.grad, K, inner, r0, r1, false);
}

/** The strided kernels' last argument: 0 for float32 logits, else the format, + 4 to encode the gradient (must match ENCODE_GRAD in assembly/strided.ts). */
export const stridedDtype = (data: StridedData): number =>
  data.half ? HALF_FORMATS[data.half.format] + (data.half.grad !== null ? 4 : 0) : 0;

/** Whether a strided call writes a gradient (f32, or 16-bit). */
export const wantsGrad = (data: StridedData): boolean => data.grad !== null || Boolean(data.half?.grad);

/** [outer][K][inner] → (outer·inner)×K rows: a copy (the evaluation calls' route, see rowsCall). */
export function toRowLayout(data: Float32Array, K: number, inner: number): Float32Array {
  const rows = new Float32Array(data.length);
  const outer = data.length / (K * inner);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < K; k++) {
      const from = (o * K + k) * inner;
      const to = o * inner * K + k;
      for (let i = 0; i < inner; i++) rows[to + i * K] = data[from + i];
    }
  }
  return rows;
}

/** The inverse of toRowLayout, into `into` (which may be the original array). */
export function fromRowLayout(rows: Float32Array, K: number, inner: number, into: Float32Array): Float32Array {
  const outer = rows.length / (K * inner);
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < K; k++) {
      const to = (o * K + k) * inner;
      const from = o * inner * K + k;
      for (let i = 0; i < inner; i++) into[to + i] = rows[from + i * K];
    }
  }
  return into;
}

/**
 * The evaluation calls (rowStats, evaluate, fitTemperature) with `shape`: the logits transposed
 * into rows once, and the options with numClasses instead of shape and classAxis; without
 * `shape`, the arguments as they are. Their per-row outputs are in position order already.
 */
export function rowsCall(logits: unknown, options: unknown, where: string): { logits: unknown; options: unknown } {
  if (typeof options !== 'object' || options === null || Array.isArray(options) || !('shape' in options || 'classAxis' in options)) return { logits, options };
  if (!(logits instanceof Float32Array)) return { logits, options }; // the call's own check names it
  const record = options as Record<string, unknown>;
  const classLayout = classLayoutOf(record, logits.length, where) as ClassLayout;
  const { shape: _shape, classAxis: _classAxis, ...rest } = record;
  const rowLogits = classLayout.inner > 1 ? toRowLayout(logits, classLayout.numClasses, classLayout.inner) : logits;
  return { logits: rowLogits, options: { ...rest, numClasses: classLayout.numClasses } };
}
