/**
 * 16-bit logits: a Float16Array (where the runtime has one: Node ≥ 24, Chrome ≥ 135) or raw
 * bits in a Uint16Array with `dtype: 'float16' | 'bfloat16'`. Both become a Uint16Array view
 * of the same bytes and a format (HalfLogits, backend.ts); the kernels decode them to f32
 * per chunk (assembly/half.ts, js/half.ts) and then run the float32 kernels unchanged, so a
 * 16-bit call has the bits of the float32 call on the decoded values. The checks live here
 * (called from options.ts), before any work; messages name the argument and show the value.
 */
import type { HalfFormat, HalfLogits } from './backend.js';
import { describe } from './options.js';

/** The runtime's Float16Array constructor, or null (Node 20 has none): never referenced unguarded. */
export const Float16ArrayHere: (new (length: number) => ArrayBufferView & { length: number }) | null =
  (globalThis as { Float16Array?: new (length: number) => ArrayBufferView & { length: number } }).Float16Array ?? null;

export function isFloat16Array(value: unknown): value is ArrayBufferView & { length: number } {
  return Float16ArrayHere !== null && value instanceof Float16ArrayHere;
}

/** The logits' values as the call sees them: float32, or 16-bit bits with their format. */
export type LogitsInput = { logits: Float32Array; half: null } | { logits: Float32Array; half: HalfLogits };

/** Placeholder `logits` of a 16-bit request (backend.ts HalfLogits). */
export const NO_LOGITS = new Float32Array(0);

const bitsOf = (view: ArrayBufferView & { length: number }) => new Uint16Array(view.buffer, view.byteOffset, view.length);

function dtypeOf(value: unknown, where: string): HalfFormat | undefined {
  if (value === undefined) return undefined;
  if (value === 'float16' || value === 'bfloat16') return value;
  const expected = "'float16' or 'bfloat16' (the format of 16-bit logits)";
  if (typeof value !== 'string') throw new TypeError(`${where}: dtype must be ${expected}, got ${describe(value)}`);
  throw new RangeError(`${where}: dtype must be ${expected}, got ${describe(value)}`);
}

/**
 * The logits with their dtype: a Float32Array (no dtype), a Float16Array (dtype absent or
 * 'float16'), or a Uint16Array of bits (dtype required). Anything else gets the float32
 * message of checkLogits (README: the 16-bit forms).
 */
export function logitsInputOf(logits: unknown, dtype: unknown, where: string): LogitsInput {
  const format = dtypeOf(dtype, where);
  if (logits instanceof Float32Array) {
    if (format !== undefined) {
      throw new TypeError(`${where}: dtype ${describe(format)} is for 16-bit logits (a Uint16Array of raw bits or a Float16Array), but logits is a ${describe(logits)}: leave dtype out for float32 logits`);
    }
    return { logits, half: null };
  }
  if (isFloat16Array(logits)) {
    if (format === 'bfloat16') {
      throw new RangeError(`${where}: dtype 'bfloat16' contradicts logits, a ${describe(logits)} (float16): pass bfloat16 bits as a Uint16Array, or leave dtype out`);
    }
    return { logits: NO_LOGITS, half: { bits: bitsOf(logits), format: 'float16', grad: null } };
  }
  if (logits instanceof Uint16Array) {
    if (format === undefined) {
      throw new TypeError(`${where}: logits is a ${describe(logits)}: give the format of its 16-bit bits with dtype: 'float16' or 'bfloat16'`);
    }
    return { logits: NO_LOGITS, half: { bits: logits, format, grad: null } };
  }
  // The float32 message, as everywhere (the same in every runtime, with or without Float16Array).
  throw new TypeError(`${where}: logits must be a Float32Array, got ${describe(logits)}`);
}

/** Whether two views share bytes of one buffer. */
function sharesBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && Math.max(a.byteOffset, b.byteOffset) < Math.min(a.byteOffset + a.byteLength, b.byteOffset + b.byteLength);
}

/**
 * The grad option for 16-bit logits: a Float32Array gradient (true, or one given), or a
 * 16-bit one of the logits' format (a Float16Array for float16, a Uint16Array taken as the
 * logits' format, or 'inplace': over the logits). Returns the f32 destination, the 16-bit
 * one (at most one is set) and what the result's `grad` shows (the caller's array).
 */
export function halfGradOf(value: unknown, half: HalfLogits, given: unknown, where: string): { grad: Float32Array | null; shown: ArrayBufferView | null } {
  const n = half.bits.length;
  if (value === undefined || value === false) return { grad: null, shown: null };
  if (value === true) {
    const grad = new Float32Array(n);
    return { grad, shown: grad };
  }
  if (value === 'inplace') {
    half.grad = half.bits;
    return { grad: null, shown: given as ArrayBufferView };
  }
  const isHalf = value instanceof Uint16Array || isFloat16Array(value);
  if (!(value instanceof Float32Array) && !isHalf) {
    throw new TypeError(`${where}: grad must be false, true, 'inplace', a Float32Array or a 16-bit array of the logits' dtype (${half.format}), got ${describe(value)}`);
  }
  if (isFloat16Array(value) && half.format !== 'float16') {
    throw new TypeError(`${where}: grad is a ${describe(value)} (float16), but the logits are ${half.format}: pass a Uint16Array (written as ${half.format} bits) or a Float32Array`);
  }
  const view = value as ArrayBufferView & { length: number };
  if (view.length !== n) throw new RangeError(`${where}: grad must have logits.length (${n}) elements, got ${view.length}`);
  const sameView = view.byteOffset === half.bits.byteOffset && view.buffer === half.bits.buffer && isHalf;
  if (sharesBytes(view, half.bits) && !sameView) {
    throw new RangeError(`${where}: grad overlaps logits without being the same view; use grad: 'inplace' to overwrite the logits`);
  }
  if (value instanceof Float32Array) return { grad: value, shown: value };
  half.grad = bitsOf(view);
  return { grad: null, shown: value as ArrayBufferView };
}

/** Whether a gradient output overlaps `other` (the soft targets). */
export function halfGradOverlaps(half: HalfLogits, grad: Float32Array | null, other: ArrayBufferView): boolean {
  const out = grad ?? (half.grad && half.grad !== half.bits ? half.grad : null);
  return out !== null && sharesBytes(out, other);
}

/**
 * The evaluation calls' logits: 16-bit ones decoded to a new Float32Array (by `decode`, the
 * backend's decoder: the kernels' bits), and the options without `dtype`, for the float32
 * path to check as usual. Float32 logits pass as they are (dtype with them is an error).
 */
export function float32LogitsOf(
  logits: unknown, options: unknown, where: string, decode: (half: HalfLogits, out: Float32Array) => void,
): { logits: unknown; options: unknown } {
  const record = typeof options === 'object' && options !== null && !Array.isArray(options) ? (options as Record<string, unknown>) : null;
  const sixteen = logits instanceof Uint16Array || isFloat16Array(logits);
  if (!sixteen && !(record && 'dtype' in record)) return { logits, options };
  const { half } = logitsInputOf(logits, record?.dtype, where);
  const { dtype: _, ...rest } = record ?? {};
  if (!half) return { logits, options: record ? rest : options };
  if (rest.out === 'inplace') throw new RangeError(`${where}: out: 'inplace' needs float32 logits (these are ${half.format}): pass out a Float32Array, or none`);
  const out = new Float32Array(half.bits.length);
  decode(half, out);
  return { logits: out, options: record ? rest : options };
}
