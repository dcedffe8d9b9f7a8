/**
 * The seed: the blog post's worked example of label smoothing, as small float64 helpers.
 *
 * These are for teaching and for checking the fast kernels, not for speed: every function
 * validates its input, copies it into a Float64Array and never modifies what it was given.
 *
 * The math, for one row of K classes with true class y and smoothing ε ∈ [0, 1]:
 *
 *   smoothed target   y_k = (1 − ε)·[k = y] + ε/K
 *   loss              L   = −Σ_k y_k·log p_k,   p = softmax(z)
 *                         = lse(z) − (1 − ε)·z_y − (ε/K)·Σ_k z_k      (log p_k = z_k − lse(z), Σ y_k = 1)
 *   gradient          ∂L/∂z_k = p_k − y_k
 *
 * Since y is a mixture of the one-hot target and the uniform distribution u, and the loss is
 * linear in the target,
 *
 *   L_ε = (1 − ε)·CE(onehot, p) + ε·CE(u, p),   CE(u, p) = KL(u‖p) + H(u) = KL(u‖p) + log K,
 *
 * so smoothing adds a pull of strength ε towards predicting the uniform distribution.
 */

import { describe } from './options.js';

/** One class of `explain`'s trace: the targets, log p and that class's share of the smoothed loss. */
export interface ExplainRow {
  className: string;
  /** The hard (one-hot) target: 1 for the true class, else 0. */
  yHard: number;
  /** The smoothed target (1 − ε)·yHard + ε/K. */
  ySmooth: number;
  /** log p_k (exact from logits; log of the given probability otherwise, −Infinity for p_k = 0). */
  logP: number;
  /** ySmooth·logP, with 0·log 0 taken as 0: the smoothed loss is −Σ term. */
  term: number;
}

export interface Explanation {
  /** The probabilities (the input itself, or the softmax of the logits). */
  probs: Float64Array;
  rows: ExplainRow[];
  /** −log p_y. */
  hardCE: number;
  /** −Σ ySmooth·log p. */
  smoothCE: number;
  /** ∂(hard CE)/∂z = p − onehot. */
  gradHard: Float64Array;
  /** ∂(smoothed CE)/∂z = p − ySmooth. */
  gradSmooth: Float64Array;
  /** The logit gap z_y − z_other at the smoothed loss's minimum; Infinity when ε = 0, NaN when K = 1. */
  optimalGap: number;
}

export interface ExplainOptions {
  /** ε in [0, 1]; default 0.1, the blog's value (0 would make both losses equal). */
  smoothing?: number;
  /** K names for the trace; default '0', '1', … */
  classNames?: readonly string[];
  /**
   * How to read the input. 'auto' (default): probabilities if every value is in [0, 1] and they
   * sum to 1 within 1e-6, else logits. Pass 'logits' for logits that happen to look like a
   * distribution (e.g. [0.25, 0.25, 0.25, 0.25]).
   */
  from?: 'auto' | 'probs' | 'logits';
}

/** How far probabilities may sum from 1 and still be read as probabilities. */
const PROBS_SUM_TOLERANCE = 1e-6;

// ---------------------------------------------------------------------------------------------
// Validation. Every check runs before any work; messages name the argument and the bad value.
// Wrong type or missing → TypeError; right type but out of range → RangeError.

function fail(ErrorClass: typeof TypeError | typeof RangeError, name: string, what: string, value: unknown): never {
  throw new ErrorClass(`${name} must be ${what}, got ${describe(value)}`);
}

function checkNumberIn(value: unknown, name: string, low: number, high: number): number {
  const what = `a number in [${low}, ${high}]`;
  if (typeof value !== 'number') fail(TypeError, name, what, value);
  if (!(value >= low && value <= high)) fail(RangeError, name, what, value);
  return value;
}

function checkInteger(value: unknown, name: string, low: number, high = Infinity): number {
  const what = high === Infinity ? `an integer ≥ ${low}` : `an integer in [${low}, ${high}]`;
  if (typeof value !== 'number') fail(TypeError, name, what, value);
  if (!Number.isInteger(value) || value < low || value > high) fail(RangeError, name, what, value);
  return value;
}

function isArrayLike(value: unknown): value is ArrayLike<unknown> {
  if (Array.isArray(value)) return true;
  // BigInt64Array etc. are array-like but hold bigints: the element check below reports them.
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

/** Copy a non-empty array-like of numbers into a Float64Array, checking each element against finite bounds. */
function toFloat64(
  value: unknown,
  name: string,
  element: { what: string; low: number; high: number },
): Float64Array {
  if (!isArrayLike(value)) fail(TypeError, name, 'an array or typed array of numbers', value);
  if (value.length === 0) fail(RangeError, name, 'non-empty', value);
  const copy = new Float64Array(value.length);
  for (let k = 0; k < value.length; k++) {
    const x = value[k];
    if (typeof x !== 'number') fail(TypeError, `${name}[${k}]`, element.what, x);
    // Comparisons with NaN are false, and the bounds are finite, so this also rejects NaN and ±Infinity.
    if (!(x >= element.low && x <= element.high)) fail(RangeError, `${name}[${k}]`, element.what, x);
    copy[k] = x;
  }
  return copy;
}

const FINITE = { what: 'a finite number', low: -Number.MAX_VALUE, high: Number.MAX_VALUE };
const NON_NEGATIVE = { what: 'a finite number ≥ 0', low: 0, high: Number.MAX_VALUE };
const PROBABILITY = { what: 'a number in [0, 1]', low: 0, high: 1 };

/** `expected` names the length it must match, e.g. 'numClasses (4)'. */
function checkLength(values: Float64Array, name: string, length: number, expected: string): void {
  if (values.length !== length) throw new RangeError(`${name} must have ${expected} entries, got ${values.length}`);
}

function checkOptionsObject(options: unknown, name = 'options'): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) fail(TypeError, name, 'an object', options);
  return options as Record<string, unknown>;
}

function sum(values: ArrayLike<number>): number {
  let total = 0;
  for (let k = 0; k < values.length; k++) total += values[k];
  return total;
}

// ---------------------------------------------------------------------------------------------
// The helpers.

/**
 * Numerically stable softmax in float64: subtracting the maximum first keeps every exp ≤ 1,
 * so large logits cannot overflow, and at least one term is exactly 1, so the sum cannot be 0.
 */
export function softmax(logits: ArrayLike<number>): Float64Array {
  return softmaxOf(toFloat64(logits, 'logits', FINITE));
}

function softmaxOf(z: Float64Array): Float64Array {
  const logProbs = logSoftmaxOf(z);
  return logProbs.map(Math.exp);
}

/** log p_k = z_k − lse(z), lse = m + log Σ exp(z_k − m): exact even where p_k underflows to 0. */
function logSoftmaxOf(z: Float64Array): Float64Array {
  let max = -Infinity;
  for (const value of z) max = Math.max(max, value);
  let total = 0;
  for (const value of z) total += Math.exp(value - max);
  const lse = max + Math.log(total);
  return z.map((value) => value - lse);
}

/**
 * The smoothed target (1 − ε)·hard + ε/K.
 *
 * @param hard a class index in [0, K), or a target vector of K finite values ≥ 0 (usually one-hot)
 * @param epsilon ε in [0, 1]: the probability mass moved from the target to the uniform distribution
 * @param numClasses K, an integer ≥ 1
 */
export function labelSmooth(hard: number | ArrayLike<number>, epsilon: number, numClasses: number): Float64Array {
  const classes = checkInteger(numClasses, 'numClasses', 1);
  checkNumberIn(epsilon, 'epsilon', 0, 1);
  let target: Float64Array;
  if (typeof hard === 'number') {
    const label = checkInteger(hard, 'hard', 0, classes - 1);
    target = new Float64Array(classes);
    target[label] = 1;
  } else if (isArrayLike(hard)) {
    target = toFloat64(hard, 'hard', NON_NEGATIVE);
    checkLength(target, 'hard', classes, `numClasses (${classes})`);
  } else {
    fail(TypeError, 'hard', 'a class index or an array of numClasses targets', hard);
  }
  const uniformShare = epsilon / classes;
  return target.map((value) => (1 - epsilon) * value + uniformShare);
}

/**
 * Cross-entropy −Σ t_k·log(p_k + eps) of a target distribution against probabilities, in the
 * blog's numpy style: the small `eps` (default 1e-10) keeps log(0) finite, at the price of a
 * bias of about eps/p_k per term (1.7e-10 for p = 0.6, far below the 4 decimals shown).
 */
export function crossEntropyFromProbs(
  targets: ArrayLike<number>,
  probs: ArrayLike<number>,
  options?: { eps?: number },
): number {
  const t = toFloat64(targets, 'targets', FINITE);
  const p = toFloat64(probs, 'probs', PROBABILITY);
  checkLength(p, 'probs', t.length, `as many as targets (${t.length})`);
  const { eps = 1e-10 } = checkOptionsObject(options);
  checkNumberIn(eps, 'eps', 0, 1);
  let loss = 0;
  for (let k = 0; k < t.length; k++) {
    // 0·log 0 is taken as its limit 0, also when eps = 0.
    if (t[k] !== 0) loss -= t[k] * Math.log(p[k] + (eps as number));
  }
  return loss;
}

/**
 * Kullback–Leibler divergence KL(p‖q) = Σ p_k·log(p_k / q_k) ≥ 0, in nats.
 * Terms with p_k = 0 are 0; a term with p_k > 0 = q_k makes it Infinity.
 */
export function klDivergence(p: ArrayLike<number>, q: ArrayLike<number>): number {
  const from = toFloat64(p, 'p', NON_NEGATIVE);
  const to = toFloat64(q, 'q', NON_NEGATIVE);
  checkLength(to, 'q', from.length, `as many as p (${from.length})`);
  let divergence = 0;
  for (let k = 0; k < from.length; k++) {
    if (from[k] !== 0) divergence += from[k] * Math.log(from[k] / to[k]);
  }
  return divergence;
}

/**
 * The logit gap z_y − z_other at which the smoothed loss is minimal:
 * log((1 − ε + ε/K) / (ε/K)).
 *
 * Why: the gradient p − y vanishes only at p = y, so the optimum predicts the smoothed target
 * itself, and the ratio of two softmax outputs is the exp of their logit gap. With ε = 0 the
 * target is one-hot, p = y needs an infinite gap, and hard CE keeps pushing logits apart
 * forever (Infinity here); any ε > 0 gives a finite target, which is the regularisation.
 *
 * @param numClasses K ≥ 2 (with one class there is no other logit to be apart from)
 */
export function optimalLogitGap(epsilon: number, numClasses: number): number {
  checkInteger(numClasses, 'numClasses', 2);
  checkNumberIn(epsilon, 'epsilon', 0, 1);
  const other = epsilon / numClasses;
  return Math.log((1 - epsilon + other) / other);
}

/**
 * The blog's worked example for one row: the smoothed targets, each class's share of the loss,
 * both losses, both gradients and the optimal gap.
 *
 * @param probsOrLogits K probabilities or K logits (see `options.from`)
 * @param label the true class, an integer in [0, K)
 */
export function explain(probsOrLogits: ArrayLike<number>, label: number, options?: ExplainOptions): Explanation {
  const { smoothing = 0.1, classNames, from = 'auto' } = checkOptionsObject(options);
  const input = toFloat64(probsOrLogits, 'probsOrLogits', FINITE);
  const numClasses = input.length;
  checkInteger(label, 'label', 0, numClasses - 1);
  const epsilon = checkNumberIn(smoothing, 'smoothing', 0, 1);
  const names = checkClassNames(classNames, numClasses);
  if (typeof from !== 'string') fail(TypeError, 'from', "'auto', 'probs' or 'logits'", from);
  if (from !== 'auto' && from !== 'probs' && from !== 'logits') fail(RangeError, 'from', "'auto', 'probs' or 'logits'", from);
  if (from === 'probs') checkProbabilities(input, 'probsOrLogits');
  const readAsProbs = from === 'probs' || (from === 'auto' && looksLikeProbabilities(input));

  // From logits, log p = z − lse(z) stays exact where p underflows; from probabilities, log p
  // is −Infinity where p = 0 (and the losses are then Infinity: no eps here, unlike the numpy style).
  const logP = readAsProbs ? input.map(Math.log) : logSoftmaxOf(input);
  const probs = readAsProbs ? input.slice() : logP.map(Math.exp);
  const ySmooth = labelSmooth(label, epsilon, numClasses);

  const rows: ExplainRow[] = [];
  let smoothCE = 0;
  for (let k = 0; k < numClasses; k++) {
    const term = ySmooth[k] === 0 ? 0 : ySmooth[k] * logP[k];
    smoothCE -= term;
    rows.push({ className: names[k], yHard: k === label ? 1 : 0, ySmooth: ySmooth[k], logP: logP[k], term });
  }
  const gradHard = probs.map((p, k) => p - (k === label ? 1 : 0));
  const gradSmooth = probs.map((p, k) => p - ySmooth[k]);
  return {
    probs,
    rows,
    hardCE: -logP[label],
    smoothCE,
    gradHard,
    gradSmooth,
    optimalGap: numClasses === 1 ? NaN : optimalLogitGap(epsilon, numClasses),
  };
}

function checkClassNames(classNames: unknown, numClasses: number): string[] {
  if (classNames === undefined) return Array.from({ length: numClasses }, (_, k) => String(k));
  const what = `an array of ${numClasses} strings (one per class)`;
  if (!Array.isArray(classNames)) fail(TypeError, 'classNames', what, classNames);
  if (classNames.length !== numClasses) fail(RangeError, 'classNames', what, classNames);
  classNames.forEach((name, k) => {
    if (typeof name !== 'string') fail(TypeError, `classNames[${k}]`, 'a string', name);
  });
  return classNames.slice();
}

function looksLikeProbabilities(values: Float64Array): boolean {
  return values.every((p) => p >= 0 && p <= 1) && Math.abs(sum(values) - 1) <= PROBS_SUM_TOLERANCE;
}

function checkProbabilities(values: Float64Array, name: string): void {
  values.forEach((p, k) => {
    if (!(p >= 0 && p <= 1)) fail(RangeError, `${name}[${k}]`, "a number in [0, 1] (from: 'probs')", p);
  });
  const total = sum(values);
  if (Math.abs(total - 1) > PROBS_SUM_TOLERANCE) {
    throw new RangeError(`${name} must sum to 1 within ${PROBS_SUM_TOLERANCE} (from: 'probs'), got a sum of ${total}`);
  }
}
