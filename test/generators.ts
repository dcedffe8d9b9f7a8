/**
 * Shared fast-check arbitraries and helpers: random shapes and data, label arrays of
 * every supported type, byte snapshots (inputs must never change), and the comparison
 * of a library result against the float64 reference with the error bars stated below.
 *
 * Data are generated from a fast-check integer seed through a small deterministic PRNG
 * (mulberry32) and Box–Muller, so a failing case reproduces from its seed and shrinks
 * over shape and options rather than over 300 000 separate doubles.
 *
 * ## Error bars (what "float32-exact against a float64 reference" means here)
 * With `ref` the float64 reference value:
 * - loss (mean/sum) and each row loss of 'none':  |got − ref| ≤ 1e-6·|ref| + F + P
 * - each gradient element:                        |got − ref| ≤ s·(2e-6·max(1, G) + 2·G·δ)
 * - each lse:                                     |got − ref| ≤ 1e-6·max(|ref|, log S) + δ
 * Losses are relative however small (a confident row's loss is its log S = log1p(tiny)); F =
 * K·2⁻¹²⁶ per row (the row's share of it for mean/sum) is all the absolute slack: the wasm
 * exp gives exactly 0 below float32's smallest normal number, so each of K exps may drop up
 * to 2⁻¹²⁶. lse = m + log S is relative too, except where m < 0 cancels log S: then the bar
 * is relative to log S (= lse − m, the part the kernel computes; m is exact).
 * where, per row, s is the row's gradient scale (gradScale, ÷ denominator for 'mean',
 * ÷ T for soft targets), G the reference's bound on any element of the row's unscaled
 * gradient (`gradMax`; G = 1 for plain unweighted rows, so a plain 'mean' gets exactly
 * max|grad − ref|·N ≤ 2e-6: a few float32 ulps of the largest possible element), δ the
 * unavoidable perturbation of each transformed logit by float32 rounding (0 unless softcap
 * or a temperature ≠ 1 is used, see `perturbation…`), and P = Σ_rows (the row's share of
 * the loss)·B·δ with B the bound on the row gradient's L1 norm (`gradBound`): the
 * first-order effect of δ on the loss.
 * Where the reference is not finite, the result must be the same value exactly
 * (NaN ↔ NaN, +∞ ↔ +∞, −∞ ↔ −∞).
 */
import fc from 'fast-check';
import { gaussian, makeRandom } from '../src/random.js';
import type { Labels, Reduction, RowsResult, ScalarResult } from '../src/types.js';
import type { ReferenceResult } from './reference.js';

// ---------------------------------------------------------------------------------------
// Deterministic data

// mulberry32 and Box–Muller, shared with the demos (src/random.ts).
export { gaussian, makeRandom };

export const CLASS_COUNTS = [1, 2, 3, 4, 5, 7, 17, 32, 33, 64, 65, 100, 1000, 1001, 32003] as const;
export const SIGMAS = [0.1, 1, 10, 100, 1e4] as const;
export const LABEL_TYPES = ['int32', 'uint8', 'uint16', 'uint32', 'bigint64', 'array'] as const;
export type LabelType = (typeof LABEL_TYPES)[number];
/** Largest N·K of one generated case: keeps the whole suite well under a minute. */
export const MAX_ELEMENTS = 300_000;
export const MAX_ROWS = 40;

/** Largest label + 1 a label type can hold. */
export function labelTypeLimit(type: LabelType): number {
  return type === 'uint8' ? 256 : type === 'uint16' ? 65536 : Number.MAX_SAFE_INTEGER;
}

export function canHoldNegative(type: LabelType): boolean {
  return type === 'int32' || type === 'bigint64' || type === 'array';
}

/** The same label values as the requested array type. */
export function makeLabels(type: LabelType, values: readonly number[]): Labels {
  switch (type) {
    case 'int32':
      return Int32Array.from(values);
    case 'uint8':
      return Uint8Array.from(values);
    case 'uint16':
      return Uint16Array.from(values);
    case 'uint32':
      return Uint32Array.from(values);
    case 'bigint64':
      return BigInt64Array.from(values, (value) => BigInt(value));
    case 'array':
      return [...values];
  }
}

/** Random labels in [0, min(K, limit)), a fraction `ignoredRate` replaced by `ignoreIndex`. */
export function randomLabels(
  random: () => number,
  rows: number,
  numClasses: number,
  limit: number,
  ignoredRate = 0,
  ignoreIndex = -100,
): number[] {
  const classes = Math.min(numClasses, limit);
  const labels: number[] = [];
  for (let i = 0; i < rows; i++) {
    labels.push(random() < ignoredRate ? ignoreIndex : Math.floor(random() * classes));
  }
  return labels;
}

export interface LogitsSpec {
  rows: number;
  numClasses: number;
  sigma: number;
  /** Probability of a −∞ entry; every row keeps at least one finite entry. */
  negInfRate: number;
  /** Elements before the view in the backing array (the view then starts at an odd offset). */
  viewOffset: number;
  /** Row labels: when `protectLabels` a label entry is never −∞. */
  labels?: readonly number[];
  protectLabels?: boolean;
}

/**
 * Logits as a view `backing.subarray(viewOffset, viewOffset + N·K)`; the backing array has
 * 5 sentinel elements after the view too, so writes outside the view can be detected.
 */
export function makeLogits(random: () => number, spec: LogitsSpec): { backing: Float32Array; logits: Float32Array } {
  const { rows, numClasses, sigma, negInfRate, viewOffset } = spec;
  const size = rows * numClasses;
  const backing = new Float32Array(viewOffset + size + 5);
  for (let i = 0; i < backing.length; i++) backing[i] = gaussian(random, sigma);
  const logits = backing.subarray(viewOffset, viewOffset + size);
  if (negInfRate > 0 && numClasses > 1) {
    for (let i = 0; i < rows; i++) {
      const keep = Math.floor(random() * numClasses);
      const label = spec.labels?.[i];
      for (let k = 0; k < numClasses; k++) {
        if (k === keep || (spec.protectLabels === true && k === label)) continue;
        if (random() < negInfRate) logits[i * numClasses + k] = -Infinity;
      }
    }
  }
  return { backing, logits };
}

// ---------------------------------------------------------------------------------------
// fast-check arbitraries

/** A shape with N·K ≤ MAX_ELEMENTS, K drawn from the odd-shape list. */
export const shapeArbitrary = fc.constantFrom(...CLASS_COUNTS).chain((numClasses) =>
  fc.record({
    numClasses: fc.constant(numClasses),
    rows: fc.integer({ min: 0, max: Math.min(MAX_ROWS, Math.floor(MAX_ELEMENTS / numClasses)) }),
  }),
);

/**
 * ε: exactly 0, the usual 0.1, or anything in [0, 1] (fast-check favours the ends).
 * Values in (0, 2⁻¹²⁶) are left out: float32 rounds them to 0 or a subnormal, and then
 * "ε > 0 with a −∞ logit gives +∞" becomes a question of underflow, not of the spec
 * (the float64 reference itself gets (ε/K)·Σz = 0·(−∞) = NaN for ε = 5e-324).
 */
export const smoothingArbitrary = fc.oneof(
  fc.constant(0),
  fc.constant(0.1),
  fc.double({ min: 0, max: 1, noNaN: true }).filter((epsilon) => epsilon === 0 || epsilon >= 2 ** -126),
);

export const reductionArbitrary = fc.constantFrom<Reduction>('mean', 'sum', 'none');
export const sigmaArbitrary = fc.constantFrom(...SIGMAS);
export const labelTypeArbitrary = fc.constantFrom(...LABEL_TYPES);
/** How the gradient is requested: not at all, allocated, into a given buffer, over the logits. */
export type GradMode = 'off' | 'allocate' | 'given' | 'inplace';
export const gradModeArbitrary = fc.constantFrom<GradMode>('off', 'allocate', 'given', 'inplace');
export const seedArbitrary = fc.integer({ min: 0, max: 0x7fffffff });

// ---------------------------------------------------------------------------------------
// Inputs must not change

/** A copy of the bytes of a typed array (its whole backing range) or of a number[]. */
export function snapshot(value: ArrayBufferView | readonly number[]): Uint8Array | number[] {
  if (Array.isArray(value)) return [...(value as readonly number[])];
  const view = value as ArrayBufferView;
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
}

/** Throws unless `value` still has exactly the bytes (or elements) of `before`. */
export function assertUnchanged(what: string, value: ArrayBufferView | readonly number[], before: Uint8Array | number[]): void {
  const now = snapshot(value);
  if (now instanceof Uint8Array && before instanceof Uint8Array) {
    if (now.length === before.length && Buffer.from(now.buffer, now.byteOffset, now.length).equals(before)) return;
  } else if (Array.isArray(now) && Array.isArray(before)) {
    if (now.length === before.length && now.every((x, i) => Object.is(x, before[i]))) return;
  }
  throw new Error(`${what} was modified by the call`);
}

// ---------------------------------------------------------------------------------------
// Comparison against the reference

/** Softcap c: c·tanh(z/c) rounded to float32 with a few ulp of tanh error: δ = 4 ulp(c) ≈ c·2⁻²². */
export function perturbationForSoftcap(rows: number, softcap: number | undefined): Float64Array | null {
  if (softcap === undefined) return null;
  return new Float64Array(rows).fill(softcap * 2 ** -22);
}

/** Temperature T ≠ 1: z/T (or z·(1/T)) in float32 is off by ≤ 2 roundings: δ = 2⁻²²·max|z/T| per row. */
export function perturbationForTemperature(
  logits: ArrayLike<number>,
  rows: number,
  numClasses: number,
  temperature: number | undefined,
): Float64Array | null {
  if (temperature === undefined || temperature === 1) return null;
  const delta = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let largest = 0;
    for (let k = 0; k < numClasses; k++) {
      const value = Math.abs(logits[i * numClasses + k] / temperature);
      if (Number.isFinite(value)) largest = Math.max(largest, value);
    }
    delta[i] = largest * 2 ** -22;
  }
  return delta;
}

function describeMismatch(what: string, got: number, expected: number, bar: number): string {
  return `${what}: got ${got}, expected ${expected} (|diff| ${Math.abs(got - expected)} > bar ${bar})`;
}

/** null when `got` matches `expected` within `bar` (non-finite expected values: exactly). */
export function mismatch(what: string, got: number, expected: number, bar: number): string | null {
  if (!Number.isFinite(expected)) {
    return Object.is(got, expected) || (Number.isNaN(got) && Number.isNaN(expected))
      ? null
      : `${what}: got ${got}, expected exactly ${expected}`;
  }
  return Math.abs(got - expected) <= bar ? null : describeMismatch(what, got, expected, bar);
}

export interface CompareOptions {
  reduction: Reduction;
  numClasses: number;
  /** Whether the result must carry a gradient (and lse). */
  expectGrad: boolean;
  expectLse: boolean;
  /** Per-row δ (see the header); null for none. */
  perturbation?: Float64Array | null;
  /** Prefix of the error message, to tell several comparisons in one test apart. */
  what?: string;
}

/** float32's smallest normal number, 2⁻¹²⁶: exps below it are 0 in the wasm kernels. */
const MIN_NORMAL = 2 ** -126;

/** Throws a readable error listing the first mismatches of `result` against `ref`. */
/** `result` may lack `count` (the tfjs adapter's losses are tensors, whose results carry none). */
export function assertMatchesReference(result: Omit<ScalarResult, 'count'> | RowsResult, ref: ReferenceResult, options: CompareOptions): void {
  const problems: string[] = [];
  const note = (problem: string | null): void => {
    if (problem !== null && problems.length < 8) problems.push(problem);
  };
  const rows = ref.rowLosses.length;
  const K = options.numClasses;
  const delta = (i: number): number => options.perturbation?.[i] ?? 0;

  if (options.reduction === 'none') {
    const losses = (result as RowsResult).losses;
    if (!(losses instanceof Float32Array) || losses.length !== rows) {
      throw new Error(`losses must be a Float32Array(${rows}), got ${String(losses)}`);
    }
    if ('loss' in result) note(`'none' result has a 'loss' field`);
    for (let i = 0; i < rows; i++) {
      const expected = ref.rowLosses[i];
      note(mismatch(`losses[${i}]`, losses[i], expected, 1e-6 * Math.abs(expected) + K * MIN_NORMAL + ref.gradBound[i] * delta(i)));
    }
  } else {
    const loss = (result as ScalarResult).loss;
    if (typeof loss !== 'number') throw new Error(`loss must be a number, got ${String(loss)}`);
    if ('losses' in result) note(`'${options.reduction}' result has a 'losses' field`);
    let propagated = 0;
    for (let i = 0; i < rows; i++) {
      const share = options.reduction === 'mean' ? (ref.denominator === 0 ? 0 : 1 / ref.denominator) : 1;
      propagated += share * (ref.gradBound[i] * delta(i) + K * MIN_NORMAL);
    }
    note(mismatch('loss', loss, ref.loss, 1e-6 * Math.abs(ref.loss) + propagated));
  }

  if (options.expectGrad) {
    const grad = result.grad;
    if (!(grad instanceof Float32Array) || grad.length !== rows * K) {
      throw new Error(`grad must be a Float32Array(${rows * K}), got ${grad === undefined ? 'undefined' : grad.length}`);
    }
    for (let i = 0; i < rows; i++) {
      const bound = ref.gradMax[i];
      const bar = Math.abs(ref.rowScale[i]) * (2e-6 * Math.max(1, bound) + 2 * bound * delta(i));
      for (let k = 0; k < K; k++) {
        const index = i * K + k;
        note(mismatch(`grad[${i}][${k}]`, grad[index], ref.grad[index], bar));
      }
    }
  } else if (result.grad !== undefined) {
    note('grad returned although not requested');
  }

  if (options.expectLse) {
    const lse = result.lse;
    if (!(lse instanceof Float32Array) || lse.length !== rows) {
      throw new Error(`lse must be a Float32Array(${rows}), got ${lse === undefined ? 'undefined' : lse.length}`);
    }
    for (let i = 0; i < rows; i++) {
      const expected = ref.lse[i];
      note(mismatch(`lse[${i}]`, lse[i], expected, 1e-6 * Math.max(Math.abs(expected), ref.logS[i]) + delta(i)));
    }
  } else if (result.lse !== undefined) {
    note('lse returned although not requested');
  }

  if (problems.length > 0) throw new Error(`${options.what ?? 'result'} vs float64 reference:\n${problems.join('\n')}`);
}

/** Throws unless two results are identical bit for bit (Object.is on every number). */
export function assertIdentical(a: ScalarResult | RowsResult, b: ScalarResult | RowsResult, what = 'results'): void {
  const fields = ['loss', 'count', 'losses', 'grad', 'lse'] as const;
  for (const field of fields) {
    const x = (a as unknown as Record<string, unknown>)[field];
    const y = (b as unknown as Record<string, unknown>)[field];
    if (x === undefined && y === undefined) continue;
    if (typeof x === 'number' && typeof y === 'number') {
      if (!Object.is(x, y)) throw new Error(`${what}: ${field} differs: ${x} vs ${y}`);
      continue;
    }
    if (!(x instanceof Float32Array) || !(y instanceof Float32Array)) {
      throw new Error(`${what}: ${field} present in only one result or of the wrong type`);
    }
    if (x.length !== y.length) throw new Error(`${what}: ${field} lengths differ: ${x.length} vs ${y.length}`);
    for (let i = 0; i < x.length; i++) {
      if (!Object.is(x[i], y[i])) throw new Error(`${what}: ${field}[${i}] differs: ${x[i]} vs ${y[i]}`);
    }
  }
}

/** [outer][K][inner] → (outer·inner)×K rows (float32 values, or 16-bit bits). */
export function toRows<T extends Float32Array | Uint16Array>(z: T, outer: number, K: number, inner: number): T {
  const out = (z instanceof Uint16Array ? new Uint16Array(z.length) : new Float32Array(z.length)) as T;
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < K; k++) {
      const from = (o * K + k) * inner;
      for (let i = 0; i < inner; i++) out[(o * inner + i) * K + k] = z[from + i];
    }
  }
  return out;
}

/** (outer·inner)×K rows → [outer][K][inner] (float32 values, or 16-bit bits). */
export function fromRows<T extends Float32Array | Uint16Array>(rows: T, outer: number, K: number, inner: number): T {
  const out = (rows instanceof Uint16Array ? new Uint16Array(rows.length) : new Float32Array(rows.length)) as T;
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < K; k++) {
      const to = (o * K + k) * inner;
      for (let i = 0; i < inner; i++) out[to + i] = rows[(o * inner + i) * K + k];
    }
  }
  return out;
}

/** The runtime's Float16Array (Node ≥ 24, Chrome ≥ 135), or undefined. */
export const Float16 = (globalThis as { Float16Array?: new (buffer: ArrayBufferLike, at?: number, length?: number) => ArrayBufferView & ArrayLike<number> }).Float16Array;
