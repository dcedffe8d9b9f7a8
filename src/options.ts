/**
 * Validation and normalisation of every public input, done once per call before any
 * work. All error messages live here: TypeError for a wrong type or a missing required
 * value, RangeError for a right-typed value outside its range; each names the argument
 * and shows the bad value.
 */
import type { HardRequest, IndexArray, LabelCounter, SoftRequest, TargetChecker } from './backend.js';
import { countLabels } from './js/labels.js';
import { classLayoutOf } from './layout.js';
import type { CommonOptions, GradOption, Reduction, SoftCrossEntropyOptions } from './types.js';
import { halfGradOf, halfGradOverlaps, logitsInputOf } from './dtype.js';

/** A short, readable rendering of a bad value for an error message (shared with seed.ts). */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) {
    const length = (value as unknown as { length?: number }).length;
    return length === undefined ? value.constructor.name : `${value.constructor.name}(${length})`;
  }
  if (value !== null && typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name && name !== 'Object' ? `a ${name}` : 'an object';
  }
  return String(value);
}

const typeError = (what: string, expected: string, value: unknown) =>
  new TypeError(`${what} must be ${expected}, got ${describe(value)}`);
const rangeError = (what: string, expected: string, value: unknown) =>
  new RangeError(`${what} must be ${expected}, got ${describe(value)}`);

/** Rejects option names outside `allowed` (a typo such as `smoothng` must not pass silently). */
export function checkKnownKeys(options: object, allowed: readonly string[], where: string): void {
  for (const key in options) {
    if (!allowed.includes(key)) {
      throw new TypeError(`${where}: unknown option ${JSON.stringify(key)} (known: ${allowed.join(', ')})`);
    }
  }
}

/** A number option; the message (where: name) is only built when the check fails. */
export function number(where: string, name: string, value: unknown, expected: string, ok: (v: number) => boolean): number {
  if (typeof value !== 'number') throw typeError(`${where}: ${name}`, `a number (${expected})`, value);
  if (!ok(value)) throw rangeError(`${where}: ${name}`, expected, value);
  return value;
}

export function checkOptionsObject(options: unknown, where: string): asserts options is Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw typeError(`${where}: options`, 'an object', options);
  }
}

export function checkLogits(logits: unknown, where: string, name = 'logits'): asserts logits is Float32Array {
  if (!(logits instanceof Float32Array)) throw typeError(`${where}: ${name}`, 'a Float32Array', logits);
}

export function checkNumClasses(value: unknown, where: string): number {
  if (value === undefined) throw new TypeError(`${where}: numClasses is required (an integer ≥ 1), got undefined`);
  return number(where, 'numClasses', value, 'an integer ≥ 1', (v) => Number.isInteger(v) && v >= 1 && v <= 2 ** 31 - 1);
}

export function checkRows(logits: Float32Array, numClasses: number, where: string, name = 'logits'): number {
  if (logits.length % numClasses !== 0) {
    throw new RangeError(`${where}: ${name}.length must be a multiple of numClasses (${numClasses}), got ${logits.length}`);
  }
  return logits.length / numClasses;
}

/**
 * The checks every call over rows of logits starts with; returns them narrowed, with K, N and,
 * when `shape` puts the class axis before others (src/layout.ts), the positions per outer index.
 */
export function callOf(logits: unknown, options: unknown, keys: readonly string[], where: string) {
  checkLogits(logits, where);
  checkOptionsObject(options, where);
  checkKnownKeys(options, keys, where);
  const classLayout = classLayoutOf(options, logits.length, where);
  if (classLayout) return { logits, options, numClasses: classLayout.numClasses, rows: classLayout.rows, inner: classLayout.inner };
  const numClasses = checkNumClasses(options.numClasses, where);
  return { logits, options, numClasses, rows: checkRows(logits, numClasses, where), inner: 1 };
}

/**
 * callOf for calls that take 16-bit logits too (src/dtype.ts): `logits` is then empty and
 * `half` holds the bits; the grad option is checked here, against the logits as given.
 */
function halfCallOf(input: unknown, given: unknown, keys: readonly string[], where: string) {
  if (input instanceof Float32Array) {
    const call = callOf(input, given, keys, where);
    logitsInputOf(input, call.options.dtype, where);
    const grad = gradOf(call.options.grad as GradOption | undefined, input, where);
    return { ...call, half: null, grad, shown: grad as ArrayBufferView | null };
  }
  checkOptionsObject(given, where);
  checkKnownKeys(given, keys, where);
  const { logits, half } = logitsInputOf(input, given.dtype, where);
  const bits = (half as NonNullable<typeof half>).bits;
  const classLayout = classLayoutOf(given, bits.length, where);
  const numClasses = classLayout ? classLayout.numClasses : checkNumClasses(given.numClasses, where);
  const rows = classLayout ? classLayout.rows : checkRows(bits as unknown as Float32Array, numClasses, where);
  const { grad, shown } = halfGradOf(given.grad, half as NonNullable<typeof half>, input, where);
  return { logits, options: given, numClasses, rows, half, grad, shown, inner: classLayout ? classLayout.inner : 1 };
}

export function reductionOf(value: unknown, where: string): Reduction {
  if (value === undefined) return 'mean';
  if (value === 'mean' || value === 'sum' || value === 'none') return value;
  if (typeof value !== 'string') throw typeError(`${where}: reduction`, "'mean', 'sum' or 'none'", value);
  throw rangeError(`${where}: reduction`, "'mean', 'sum' or 'none'", value);
}

function smoothingOf(value: unknown, where: string): number {
  if (value === undefined) return 0;
  return number(where, 'smoothing', value, 'a number in [0, 1]', (v) => v >= 0 && v <= 1);
}

function gradScaleOf(value: unknown, where: string): number {
  if (value === undefined) return 1;
  return number(where, 'gradScale', value, 'a finite number', Number.isFinite);
}

export function booleanOf(value: unknown, what: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw typeError(what, 'a boolean', value);
  return value;
}

/** Class weights: a Float32Array of K finite values ≥ 0; returns them and their sum. */
function weightOf(value: unknown, numClasses: number, where: string): { weight: Float32Array | null; weightSum: number } {
  if (value === undefined || value === null) return { weight: null, weightSum: numClasses };
  if (!(value instanceof Float32Array)) throw typeError(`${where}: weight`, `a Float32Array of numClasses (${numClasses}) values`, value);
  if (value.length !== numClasses) {
    throw new RangeError(`${where}: weight.length must equal numClasses (${numClasses}), got ${value.length}`);
  }
  let weightSum = 0;
  for (let k = 0; k < numClasses; k++) {
    const w = value[k];
    if (!(w >= 0 && w < Infinity)) throw new RangeError(`${where}: weight[${k}] must be finite and ≥ 0, got ${describe(w)}`);
    weightSum += w;
  }
  return { weight: value, weightSum };
}

/** Whether two views share bytes of one buffer. */
function sharesBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && Math.max(a.byteOffset, b.byteOffset) < Math.min(a.byteOffset + a.byteLength, b.byteOffset + b.byteLength);
}

/** An output that shares bytes with the logits without being the same view (which is 'inplace'). */
export function overlapsLogits(out: Float32Array, logits: Float32Array): boolean {
  return out.byteOffset !== logits.byteOffset && sharesBytes(out, logits);
}

/** Turns the grad option into the array to write (or null), checking length and aliasing. */
function gradOf(value: GradOption | undefined, logits: Float32Array, where: string): Float32Array | null {
  if (value === undefined || value === false) return null;
  if (value === true) return new Float32Array(logits.length);
  if (value === 'inplace') return logits;
  if (value instanceof Float32Array) {
    if (value.length !== logits.length) {
      throw new RangeError(`${where}: grad must have logits.length (${logits.length}) elements, got ${value.length}`);
    }
    if (overlapsLogits(value, logits)) throw new RangeError(`${where}: grad overlaps logits without being the same view; use grad: 'inplace' to overwrite the logits`);
    return value;
  }
  throw typeError(`${where}: grad`, "false, true, 'inplace' or a Float32Array", value);
}

export interface Outputs {
  reduction: Reduction;
  /** The gradient as the result shows it (with 16-bit logits maybe a 16-bit array, or the logits: 'inplace'). */
  grad: ArrayBufferView | null;
  losses: Float32Array | null;
  lse: Float32Array | null;
}

function outputsOf(options: CommonOptions, rows: number, logits: Float32Array, where: string, grad: ArrayBufferView | null = gradOf(options.grad, logits, where)): Outputs {
  const reduction = reductionOf(options.reduction, where);
  return {
    reduction,
    grad,
    losses: reduction === 'none' ? new Float32Array(rows) : null,
    lse: booleanOf(options.lse, `${where}: lse`) ? new Float32Array(rows) : null,
  };
}

/**
 * The option names of a call that takes a class layout (src/layout.ts). Defined here, not there:
 * layout.ts imports this module, and a constant read while the modules load must not cross that cycle.
 */
export const LAYOUT_KEYS = ['shape', 'classAxis'] as const;

const HARD_KEYS = ['numClasses', 'smoothing', 'reduction', 'grad', 'gradScale', 'weight', 'lse', 'ignoreIndex', 'zLoss', 'softcap', ...LAYOUT_KEYS, 'dtype'] as const;
const SOFT_KEYS = ['numClasses', 'smoothing', 'reduction', 'grad', 'gradScale', 'weight', 'lse', 'temperature', ...LAYOUT_KEYS, 'dtype'] as const;

export interface Prepared<R> {
  request: R;
  outputs: Outputs;
  /** The mean's denominator (rows counted, or their total weight); 1 for sum/none. */
  denominator: number;
  /** Rows counted (not ignoreIndex), or their total class weight; N for soft targets. */
  counted: number;
  /** The async forms' `signal`, else null. */
  signal: AbortSignal | null;
}

/** The async forms take every option of the sync ones, and `signal`. */
const ASYNC_KEYS = ['signal'] as const;
const HARD_ASYNC_KEYS = [...HARD_KEYS, ...ASYNC_KEYS];
const SOFT_ASYNC_KEYS = [...SOFT_KEYS, ...ASYNC_KEYS];

/** `signal`: an AbortSignal (duck-typed, so that one from another realm passes), or none. */
export function signalOf(value: unknown, where: string): AbortSignal | null {
  if (value === undefined || value === null) return null;
  const signal = value as { aborted?: unknown; addEventListener?: unknown };
  if (typeof value !== 'object' || typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function') {
    throw typeError(`${where}: signal`, 'an AbortSignal', value);
  }
  return value as AbortSignal;
}

/** The options of a call that takes only `signal` (evaluator.addAsync): undefined or { signal }. */
export function asyncOptionsOf(options: unknown, where: string): AbortSignal | null {
  if (options === undefined) return null;
  checkOptionsObject(options, where);
  checkKnownKeys(options, ASYNC_KEYS, where);
  return signalOf(options.signal, where);
}

/**
 * An async form's options without `signal` (checked), for the sync form's validation; a value
 * that is not an object goes on as it is, for that validation to name.
 */
export function withoutSignal(options: unknown, where: string): { options: unknown; signal: AbortSignal | null } {
  if (typeof options !== 'object' || options === null || Array.isArray(options) || !('signal' in options)) return { options, signal: null };
  const { signal, ...rest } = options as Record<string, unknown>;
  return { options: rest, signal: signalOf(signal, where) };
}

/**
 * `threads` of createXent: 1 (the default), an integer in [1, 64], or 'auto' (the cores the
 * runtime reports, at most 8).
 */
export function threadsOf(value: unknown): number | 'auto' {
  if (value === undefined) return 1;
  if (value === 'auto') return value;
  if (typeof value !== 'number') {
    if (typeof value === 'string') throw rangeError('createXent: threads', "an integer in [1, 64] or 'auto'", value);
    throw typeError('createXent: threads', "an integer in [1, 64] or 'auto'", value);
  }
  if (!Number.isInteger(value) || value < 1 || value > 64) throw rangeError('createXent: threads', "an integer in [1, 64] or 'auto'", value);
  return value;
}

/** The error of a soft target that is not a probability (the async forms check in slices). */
export function badTargetError(where: string, index: number, value: number): RangeError {
  return new RangeError(`${where}: targets[${index}] must be a probability ≥ 0, got ${describe(value)}`);
}

/**
 * Checks the labels and returns them as an index array the kernels read, with the mean's
 * denominator: the number of rows not ignored, or their total class weight. Typed int
 * arrays are checked and counted by `count` (the backend's); BigInt64Array and number[]
 * are checked here while they are converted.
 */
export function labelsOf(
  labels: unknown, rows: number, numClasses: number, ignoreIndex: number,
  weight: Float32Array | null, where: string, count: LabelCounter = countLabels,
): { labels: IndexArray; counted: number } {
  let indices: IndexArray;
  if (labels instanceof Int32Array || labels instanceof Uint8Array || labels instanceof Uint16Array || labels instanceof Uint32Array) {
    checkLabelCount(labels.length, rows, numClasses, where);
    indices = labels;
  } else if (labels instanceof BigInt64Array) {
    checkLabelCount(labels.length, rows, numClasses, where);
    indices = new Int32Array(rows);
    const k = BigInt(numClasses);
    const ignore = BigInt(ignoreIndex);
    for (let i = 0; i < rows; i++) {
      const y = labels[i];
      if ((y < 0n || y >= k) && y !== ignore) throw badLabel(i, y, numClasses, ignoreIndex, where);
      indices[i] = Number(y);
    }
  } else if (Array.isArray(labels)) {
    checkLabelCount(labels.length, rows, numClasses, where);
    indices = new Int32Array(rows);
    for (let i = 0; i < rows; i++) {
      const y: unknown = labels[i];
      if (typeof y !== 'number') throw typeError(`${where}: labels[${i}]`, 'an integer', y);
      if (!Number.isInteger(y) || ((y < 0 || y >= numClasses) && y !== ignoreIndex)) throw badLabel(i, y, numClasses, ignoreIndex, where);
      indices[i] = y;
    }
  } else {
    const error = typeError(`${where}: labels`, 'an Int32Array, Uint8Array, Uint16Array, Uint32Array, BigInt64Array or number[] of class indices', labels);
    const length = ArrayBuffer.isView(labels) ? (labels as unknown as { length?: unknown }).length : undefined;
    if (typeof length === 'number') error.message += targetsHint(length, rows, numClasses) ?? ' (class indices held as floats: convert them, e.g. Int32Array.from(labels))';
    throw error;
  }
  const counted = count(indices, numClasses, ignoreIndex, weight);
  if (counted < 0) throw badLabel(-1 - counted, indices[-1 - counted], numClasses, ignoreIndex, where);
  return { labels: indices, counted };
}

function checkLabelCount(length: number, rows: number, numClasses: number, where: string): void {
  if (length !== rows) {
    throw new RangeError(`${where}: labels.length must equal the number of rows (logits.length / numClasses = ${rows}), got ${length}${targetsHint(length, rows, numClasses) ?? ''}`);
  }
}

/** For labels with one value per logit: the probable intent, softCrossEntropy. */
function targetsHint(length: number, rows: number, numClasses: number): string | null {
  if (numClasses < 2 || rows === 0 || length !== rows * numClasses) return null;
  return ` = ${rows} rows × ${numClasses} classes: one-hot or probability targets go to softCrossEntropy(logits, targets, options)`;
}

function badLabel(i: number, value: unknown, numClasses: number, ignoreIndex: number, where: string): RangeError {
  return new RangeError(`${where}: labels[${i}] must be an integer in [0, ${numClasses}) or ignoreIndex (${ignoreIndex}), got ${describe(value)}`);
}

/** Everything of `crossEntropy` but the logits and labels (shared with zero-copy batches). */
export function hardSettings(options: Record<string, unknown>, numClasses: number, where: string) {
  const ignoreIndex = options.ignoreIndex === undefined ? -100
    : number(where, 'ignoreIndex', options.ignoreIndex, 'an integer in the int32 range', (v) => Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31);
  const zLoss = options.zLoss === undefined ? 0
    : number(where, 'zLoss', options.zLoss, 'a finite number ≥ 0', (v) => v >= 0 && v < Infinity);
  const softcap = options.softcap === undefined ? 0
    : number(where, 'softcap', options.softcap, 'a finite number > 0', (v) => v > 0 && v < Infinity);
  const { weight, weightSum } = weightOf(options.weight, numClasses, where);
  return {
    smoothing: smoothingOf(options.smoothing, where),
    gradScale: gradScaleOf(options.gradScale, where),
    weight,
    weightSum,
    ignoreIndex,
    zLoss,
    softcap,
  };
}

/** The gradient's per-row scale: gradScale, over the denominator for 'mean' (0 when nothing counts). */
export function scaleOf(reduction: Reduction, gradScale: number, denominator: number): number {
  if (reduction !== 'mean') return gradScale;
  return denominator > 0 ? gradScale / denominator : 0;
}

/** @param count the label counter of the backend that will run the call */
export function prepareHard(
  input: unknown, labels: unknown, given: unknown, count: (rows: number, numClasses: number) => LabelCounter,
  where: 'crossEntropy' | 'crossEntropyAsync' = 'crossEntropy',
): Prepared<HardRequest> {
  const call = halfCallOf(input, given, where === 'crossEntropy' ? HARD_KEYS : HARD_ASYNC_KEYS, where);
  const { logits, options, numClasses, rows, half, inner } = call;
  const signal = where === 'crossEntropy' ? null : signalOf(options.signal, where);
  const settings = hardSettings(options, numClasses, where);
  const outputs = outputsOf(options as unknown as CommonOptions, rows, logits, where, call.shown);
  const { labels: indices, counted } = labelsOf(labels, rows, numClasses, settings.ignoreIndex, settings.weight, where, count(rows, numClasses));
  const denominator = outputs.reduction === 'mean' ? counted : 1;
  return {
    request: {
      logits, labels: indices, rows, numClasses,
      smoothing: settings.smoothing, ignoreIndex: settings.ignoreIndex,
      weight: settings.weight, weightSum: settings.weightSum,
      zLoss: settings.zLoss, softcap: settings.softcap,
      scale: scaleOf(outputs.reduction, settings.gradScale, denominator),
      grad: call.grad, losses: outputs.losses, lse: outputs.lse, half,
      ...(inner > 1 ? { inner } : {}),
    },
    outputs,
    denominator,
    counted,
    signal,
  };
}

/**
 * @param check the target checker of the backend that will run the call; null to leave the
 * targets unchecked (the async form checks them in slices before any work, badTargetError)
 */
export function prepareSoft(
  input: unknown, targets: unknown, given: unknown, check: ((rows: number, numClasses: number) => TargetChecker) | null,
  where: 'softCrossEntropy' | 'softCrossEntropyAsync' = 'softCrossEntropy',
): Prepared<SoftRequest> {
  const call = halfCallOf(input, given, where === 'softCrossEntropy' ? SOFT_KEYS : SOFT_ASYNC_KEYS, where);
  const { logits, options, numClasses, rows, half, inner } = call;
  const length = half ? half.bits.length : logits.length;
  const signal = where === 'softCrossEntropy' ? null : signalOf(options.signal, where);
  checkLogits(targets, where, 'targets');
  if (targets.length !== length) {
    throw new RangeError(`${where}: targets.length must equal logits.length (${length}), got ${targets.length}`);
  }
  const smoothing = smoothingOf(options.smoothing, where);
  const gradScale = gradScaleOf(options.gradScale, where);
  const { weight } = weightOf(options.weight, numClasses, where);
  const temperature = options.temperature === undefined ? 1
    : number(where, 'temperature', options.temperature, 'a finite number > 0', (v) => v > 0 && v < Infinity);
  const outputs = outputsOf(options as unknown as SoftCrossEntropyOptions, rows, logits, where, call.shown);
  if (half ? halfGradOverlaps(half, call.grad, targets) : call.grad && call.grad !== logits && sharesBytes(call.grad, targets)) throw new RangeError(`${where}: grad overlaps targets`);
  const bad = check ? check(rows, numClasses)(targets) : -1;
  if (bad >= 0) throw badTargetError(where, bad, targets[bad]);
  const denominator = outputs.reduction === 'mean' ? rows : 1;
  return {
    request: {
      logits, targets, rows, numClasses, smoothing, weight, temperature,
      scale: scaleOf(outputs.reduction, gradScale, denominator),
      grad: call.grad, losses: outputs.losses, lse: outputs.lse, half,
      ...(inner > 1 ? { inner } : {}),
    },
    outputs,
    denominator,
    counted: rows,
    signal,
  };
}

export const CREATE_KEYS = ['backend', 'arenaBytes', 'threads'] as const;
export const BATCH_KEYS = ['smoothing', 'reduction', 'grad', 'gradScale', 'weight', 'lse', 'ignoreIndex', 'zLoss', 'softcap'] as const;
export const BATCH_ASYNC_KEYS = [...BATCH_KEYS, ...ASYNC_KEYS] as const;
