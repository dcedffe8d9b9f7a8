/**
 * Validation and normalisation of the evaluation calls (softmax, rowStats, createEvaluator,
 * evaluate, evaluator.add / merge, fitTemperature), before any work, in the style of
 * options.ts: a TypeError for a wrong type or a missing required value, a RangeError for a
 * right-typed value outside its range, each naming the argument and showing the value.
 */
import type { IndexArray, LabelCounter } from './backend.js';
import { LAYOUT_KEYS, callOf, checkKnownKeys, checkLogits, checkNumClasses, checkOptionsObject, checkRows, describe, labelsOf, number, booleanOf, overlapsLogits } from './options.js';
import type { ResolvedEvaluatorOptions } from './types.js';
import { fromRowLayout, toRowLayout } from './layout.js';

/** The smallest temperature (and temperature bound): its inverse must be a finite float32. */
const MIN_TEMPERATURE = 1e-30;
/** More bins than this would only allocate memory: no data set fills them. */
const MAX_BINS = 2 ** 20;
export const DEFAULT_BINS = 15;
const DEFAULT_TOP_K = [1, 5];
const DEFAULT_BOUNDS: readonly [number, number] = [0.05, 20];

export const SOFTMAX_KEYS = ['numClasses', 'temperature', 'log', 'out', ...LAYOUT_KEYS] as const;
export const ROW_STATS_KEYS = ['numClasses', 'temperature', 'ignoreIndex'] as const;
export const EVALUATOR_KEYS = ['numClasses', 'bins', 'topK', 'ignoreIndex', 'temperature', 'smoothing', 'sequenceLength', 'shift'] as const;
export const FIT_KEYS = ['numClasses', 'ignoreIndex', 'bounds', 'bins'] as const;

export function temperatureOf(value: unknown, where: string): number {
  if (value === undefined) return 1;
  return number(where, 'temperature', value, `a finite number ≥ ${MIN_TEMPERATURE}`, (v) => v >= MIN_TEMPERATURE && v < Infinity);
}

export function ignoreIndexOf(value: unknown, where: string): number {
  if (value === undefined) return -100;
  return number(where, 'ignoreIndex', value, 'an integer in the int32 range', (v) => Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31);
}

export function binsOf(value: unknown, where: string): number {
  if (value === undefined) return DEFAULT_BINS;
  return number(where, 'bins', value, `an integer in [1, ${MAX_BINS}]`, (v) => Number.isInteger(v) && v >= 1 && v <= MAX_BINS);
}

function smoothingOf(value: unknown, where: string): number {
  if (value === undefined) return 0;
  return number(where, 'smoothing', value, 'a number in [0, 1]', (v) => v >= 0 && v <= 1);
}

/** topK: ascending integers in [1, K]; the default [1, 5] drops entries above K. */
function topKOf(value: unknown, numClasses: number, where: string): number[] {
  if (value === undefined) return DEFAULT_TOP_K.filter((k) => k <= numClasses);
  if (!Array.isArray(value)) throw new TypeError(`${where}: topK must be an array of integers in [1, ${numClasses}], got ${describe(value)}`);
  const list: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const k: unknown = value[i];
    if (typeof k !== 'number') throw new TypeError(`${where}: topK[${i}] must be a number (an integer in [1, ${numClasses}]), got ${describe(k)}`);
    if (!Number.isInteger(k) || k < 1 || k > numClasses) throw new RangeError(`${where}: topK[${i}] must be an integer in [1, ${numClasses}] (numClasses), got ${describe(k)}`);
    if (i > 0 && k <= list[i - 1]) throw new RangeError(`${where}: topK must be strictly ascending, got topK[${i - 1}] = ${list[i - 1]} then topK[${i}] = ${k}`);
    list.push(k);
  }
  return list;
}

/**
 * Softmax's request, and `deliver`, which returns where it wrote (a new array, the caller's, or
 * the logits). With a class axis that is not last (`shape`) the request runs on the logits
 * transposed into rows, and deliver transposes the result back into place.
 */
export function prepareSoftmax(input: unknown, given: unknown, where = 'softmax') {
  const { logits, options, numClasses, rows, inner } = callOf(input, given, SOFTMAX_KEYS, where);
  const temperature = temperatureOf(options.temperature, where);
  const log = booleanOf(options.log, `${where}: log`);
  const out = options.out;
  let target: Float32Array;
  if (out === undefined) {
    target = new Float32Array(logits.length);
  } else if (out === 'inplace') {
    target = logits;
  } else if (out instanceof Float32Array) {
    if (out.length !== logits.length) throw new RangeError(`${where}: out must have logits.length (${logits.length}) elements, got ${out.length}`);
    if (overlapsLogits(out, logits)) throw new RangeError(`${where}: out overlaps logits without being the same view; use out: 'inplace' to overwrite the logits`);
    target = out;
  } else {
    throw new TypeError(`${where}: out must be a Float32Array or 'inplace', got ${describe(out)}`);
  }
  if (inner === 1) return { request: { logits, out: target, rows, numClasses, temperature, log }, deliver: () => target };
  const rowLogits = toRowLayout(logits, numClasses, inner);
  return { request: { logits: rowLogits, out: rowLogits, rows, numClasses, temperature, log }, deliver: () => fromRowLayout(rowLogits, numClasses, inner, target) };
}

/** rowStats' request (labels checked and converted when given). */
export function prepareRowStats(input: unknown, labels: unknown, given: unknown, count: (rows: number, numClasses: number) => LabelCounter, where = 'rowStats') {
  const { logits, options, numClasses, rows } = callOf(input, given, ROW_STATS_KEYS, where);
  const temperature = temperatureOf(options.temperature, where);
  const ignoreIndex = ignoreIndexOf(options.ignoreIndex, where);
  const indices = labels === null ? null : labelsOf(labels, rows, numClasses, ignoreIndex, null, where, count(rows, numClasses)).labels;
  return { logits, labels: indices, rows, numClasses, temperature, smoothing: 0, ignoreIndex };
}

/** An evaluator's options with the defaults filled in. */
export function evaluatorOptionsOf(options: unknown, where: string): ResolvedEvaluatorOptions {
  checkOptionsObject(options, where);
  checkKnownKeys(options, EVALUATOR_KEYS, where);
  const numClasses = checkNumClasses(options.numClasses, where);
  const bins = binsOf(options.bins, where);
  const topK = topKOf(options.topK, numClasses, where);
  const ignoreIndex = ignoreIndexOf(options.ignoreIndex, where);
  const temperature = temperatureOf(options.temperature, where);
  const smoothing = smoothingOf(options.smoothing, where);
  const shift = booleanOf(options.shift, `${where}: shift`);
  let sequenceLength: number | null = null;
  if (options.sequenceLength !== undefined) {
    sequenceLength = number(where, 'sequenceLength', options.sequenceLength, 'an integer ≥ 1', (v) => Number.isInteger(v) && v >= 1 && v < 2 ** 31);
    if (!shift) throw new RangeError(`${where}: sequenceLength needs shift: true (labels already aligned with their positions need neither), got shift ${describe(options.shift)}`);
  } else if (shift) {
    throw new RangeError(`${where}: shift: true needs sequenceLength (the positions per sequence), got sequenceLength undefined`);
  }
  return { numClasses, bins, topK, ignoreIndex, temperature, smoothing, sequenceLength, shift };
}

/**
 * One batch for an evaluator: logits and labels checked against its options, and with shift
 * the labels moved one position back within each sequence (the last position gets ignoreIndex).
 */
export function prepareBatch(
  settings: ResolvedEvaluatorOptions, logits: unknown, labels: unknown, where: string, count: LabelCounter,
): { logits: Float32Array; labels: IndexArray; rows: number } {
  checkLogits(logits, where);
  const { numClasses, ignoreIndex, sequenceLength } = settings;
  const rows = checkRows(logits, numClasses, where);
  if (sequenceLength !== null && rows % sequenceLength !== 0) {
    throw new RangeError(`${where}: the number of rows (logits.length / numClasses = ${rows}) must be a multiple of sequenceLength (${sequenceLength}), got ${rows}`);
  }
  const { labels: indices } = labelsOf(labels, rows, numClasses, ignoreIndex, null, where, count);
  if (!settings.shift || sequenceLength === null) return { logits, labels: indices, rows };
  const shifted = new Int32Array(rows);
  for (let start = 0; start < rows; start += sequenceLength) {
    const last = start + sequenceLength - 1;
    for (let i = start; i < last; i++) shifted[i] = indices[i + 1];
    shifted[last] = ignoreIndex;
  }
  return { logits, labels: shifted, rows };
}

/** fitTemperature's options. */
export function fitOptionsOf(options: unknown, where: string) {
  checkOptionsObject(options, where);
  checkKnownKeys(options, FIT_KEYS, where);
  const numClasses = checkNumClasses(options.numClasses, where);
  const ignoreIndex = ignoreIndexOf(options.ignoreIndex, where);
  const bins = binsOf(options.bins, where);
  let bounds = DEFAULT_BOUNDS;
  if (options.bounds !== undefined) {
    const value: unknown = options.bounds;
    if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'number' || typeof value[1] !== 'number') {
      throw new TypeError(`${where}: bounds must be an array of two numbers [lo, hi], got ${Array.isArray(value) ? `[${value.map(describe).join(', ')}]` : describe(value)}`);
    }
    const [lo, hi] = value as [number, number];
    if (!(lo >= MIN_TEMPERATURE && lo < hi && hi < Infinity)) {
      throw new RangeError(`${where}: bounds must be finite with ${MIN_TEMPERATURE} ≤ lo < hi, got [${describe(lo)}, ${describe(hi)}]`);
    }
    bounds = [lo, hi];
  }
  return { numClasses, ignoreIndex, bins, bounds };
}
