/**
 * The seed's worked example (the blog post on label smoothing), as known-answer tests:
 * first the float64 helpers of src/seed.ts, then every backend through the library.
 */
import { describe, expect, it } from 'vitest';
import { createAllBackends } from './backends.js';
import { crossEntropyFromProbs, explain, klDivergence, labelSmooth, optimalLogitGap, softmax } from '../src/seed.js';

const CLASS_NAMES = ['sunny', 'cloudy', 'rainy', 'snowy'];
const ANCHOR = [0.1, 0.2, 0.6, 0.1];
const CONFIDENT = [0.02, 0.01, 0.95, 0.02];
const LABEL = 2;
const K = 4;
const ONE_HOT = [0, 0, 1, 0];
const UNIFORM = [0.25, 0.25, 0.25, 0.25];

/** The blog's ε table for the anchor, to 4 decimals: smoothed CE and the gradient at the true class. */
const EPSILON_TABLE = [
  { epsilon: 0, yTrue: 1, yOther: 0, smoothCE: 0.5108, gradTrue: -0.4 },
  { epsilon: 0.1, yTrue: 0.925, yOther: 0.025, smoothCE: 0.6279, gradTrue: -0.325 },
  { epsilon: 0.2, yTrue: 0.85, yOther: 0.05, smoothCE: 0.7449, gradTrue: -0.25 },
  { epsilon: 0.3, yTrue: 0.775, yOther: 0.075, smoothCE: 0.862, gradTrue: -0.175 },
];

/** toBeCloseTo(x, 4) accepts |Δ| < 5e-5: exactly "equal to 4 decimals". */
const DECIMALS = 4;
/** float64 helpers against closed forms. */
const EXACT = 1e-12;
/** A float32 backend against the float64 seed. */
const FLOAT32 = 1e-6;

function expectArrayClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  for (let k = 0; k < expected.length; k++) {
    const difference = Math.abs(actual[k] - expected[k]);
    expect(difference, `entry ${k}: ${actual[k]} vs ${expected[k]}`).toBeLessThanOrEqual(tolerance);
  }
}

/** CE(u, p) through its identity with the KL divergence: KL(u‖p) + H(u), H(u) = log K. */
const uniformCE = (probs: ArrayLike<number>): number => klDivergence(UNIFORM, probs) + Math.log(K);

describe('labelSmooth', () => {
  it('K = 4, ε = 0.1: 0.925 on the true class, 0.025 elsewhere', () => {
    expectArrayClose(labelSmooth(LABEL, 0.1, 4), [0.025, 0.025, 0.925, 0.025], EXACT);
  });

  it('K = 10, ε = 0.1: 0.91 on the true class, 0.01 elsewhere', () => {
    const smoothed = labelSmooth(7, 0.1, 10);
    expectArrayClose(smoothed, [0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.91, 0.01, 0.01], EXACT);
    expect(smoothed.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('a one-hot vector gives the same as its class index', () => {
    expectArrayClose(labelSmooth(ONE_HOT, 0.1, K), labelSmooth(LABEL, 0.1, K), 0);
    expectArrayClose(labelSmooth(Float32Array.from(ONE_HOT), 0.1, K), labelSmooth(LABEL, 0.1, K), 0);
  });

  it('smooths any target vector: (1 − ε)·t + ε/K', () => {
    expectArrayClose(labelSmooth([0.5, 0.5, 0, 0], 0.2, 4), [0.45, 0.45, 0.05, 0.05], EXACT);
  });

  it('ε = 0 keeps the one-hot target, ε = 1 gives the uniform distribution', () => {
    expectArrayClose(labelSmooth(LABEL, 0, K), ONE_HOT, 0);
    expectArrayClose(labelSmooth(LABEL, 1, K), UNIFORM, 0);
  });

  it('does not modify its input', () => {
    const hard = [0, 0, 1, 0];
    const hardTyped = Float32Array.from(hard);
    labelSmooth(hard, 0.3, K);
    labelSmooth(hardTyped, 0.3, K);
    expect(hard).toEqual([0, 0, 1, 0]);
    expect(Array.from(hardTyped)).toEqual([0, 0, 1, 0]);
  });
});

describe('crossEntropyFromProbs', () => {
  it('hard CE of the anchor is −log 0.6 = 0.5108', () => {
    const loss = crossEntropyFromProbs(ONE_HOT, ANCHOR);
    expect(loss).toBeCloseTo(0.5108, DECIMALS);
    expect(Math.abs(loss + Math.log(0.6))).toBeLessThan(1e-9); // eps = 1e-10 biases by ~1.7e-10
  });

  it('smoothed CE of the anchor (ε = 0.1) is 0.6279', () => {
    expect(crossEntropyFromProbs(labelSmooth(LABEL, 0.1, K), ANCHOR)).toBeCloseTo(0.6279, DECIMALS);
  });

  it('eps keeps log 0 finite (numpy style); eps = 0 gives Infinity', () => {
    expect(crossEntropyFromProbs([1, 0], [0, 1])).toBeCloseTo(-Math.log(1e-10), 9);
    expect(crossEntropyFromProbs([1, 0], [0, 1], { eps: 0 })).toBe(Infinity);
  });

  it('takes 0·log 0 as 0', () => {
    expect(crossEntropyFromProbs([0, 1], [0, 1], { eps: 0 })).toBe(0);
  });

  it('does not modify its inputs', () => {
    const targets = Float64Array.from(labelSmooth(LABEL, 0.1, K));
    const probs = [...ANCHOR];
    crossEntropyFromProbs(targets, probs);
    expect(Array.from(targets)).toEqual([0.025, 0.025, 0.925, 0.025]);
    expect(probs).toEqual(ANCHOR);
  });
});

describe('softmax, klDivergence, optimalLogitGap', () => {
  it('softmax inverts log on a distribution and is stable for large logits', () => {
    expectArrayClose(softmax(ANCHOR.map(Math.log)), ANCHOR, EXACT);
    expectArrayClose(softmax([1000, 1000, -1000]), [0.5, 0.5, 0], EXACT);
    expectArrayClose(softmax([-1e308, 0]), [0, 1], 0);
  });

  it('KL(p‖p) = 0, KL(u‖p) = −log K − (1/K)·Σ log p_k, and Infinity where q_k = 0 < p_k', () => {
    expect(klDivergence(ANCHOR, ANCHOR)).toBe(0);
    const closedForm = -Math.log(K) - ANCHOR.reduce((sum, p) => sum + Math.log(p), 0) / K;
    expect(Math.abs(klDivergence(UNIFORM, ANCHOR) - closedForm)).toBeLessThan(EXACT);
    expect(klDivergence(UNIFORM, ANCHOR)).toBeCloseTo(0.2951, DECIMALS);
    expect(klDivergence([0.5, 0.5], [1, 0])).toBe(Infinity);
    expect(klDivergence([1, 0], [0.5, 0.5])).toBeCloseTo(Math.log(2), 14);
  });

  it('optimal gap for the anchor (K = 4, ε = 0.1) is log 37 ≈ 3.61', () => {
    const gap = optimalLogitGap(0.1, K);
    expect(gap).toBeCloseTo(3.61, 2);
    expect(Math.abs(gap - Math.log(37))).toBeLessThan(EXACT);
  });

  it('optimal gap: none (Infinity) for hard CE, 0 for ε = 1, log 91 for K = 10, ε = 0.1', () => {
    expect(optimalLogitGap(0, K)).toBe(Infinity);
    expect(optimalLogitGap(1, K)).toBe(0);
    expect(Math.abs(optimalLogitGap(0.1, 10) - Math.log(91))).toBeLessThan(EXACT);
  });
});

describe('explain', () => {
  const anchor = explain(ANCHOR, LABEL, { smoothing: 0.1, classNames: CLASS_NAMES });

  it('traces every class of the anchor', () => {
    expect(anchor.rows.map((row) => row.className)).toEqual(CLASS_NAMES);
    expect(anchor.rows.map((row) => row.yHard)).toEqual(ONE_HOT);
    expectArrayClose(anchor.rows.map((row) => row.ySmooth), [0.025, 0.025, 0.925, 0.025], EXACT);
    expectArrayClose(anchor.rows.map((row) => row.logP), ANCHOR.map(Math.log), EXACT);
    expectArrayClose(anchor.rows.map((row) => row.term), anchor.rows.map((row) => row.ySmooth * Math.log(ANCHOR[CLASS_NAMES.indexOf(row.className)])), EXACT);
    expect(-anchor.rows.reduce((sum, row) => sum + row.term, 0)).toBeCloseTo(anchor.smoothCE, 14);
    expectArrayClose(anchor.probs, ANCHOR, 0);
  });

  it('hard CE 0.5108, smoothed CE 0.6279 (ε = 0.1)', () => {
    expect(anchor.hardCE).toBeCloseTo(0.5108, DECIMALS);
    expect(anchor.smoothCE).toBeCloseTo(0.6279, DECIMALS);
  });

  it('gradients: −0.40 / −0.325 at the true class, +0.10 / +0.075 at class 0', () => {
    expectArrayClose(anchor.gradHard, [0.1, 0.2, -0.4, 0.1], EXACT);
    expectArrayClose(anchor.gradSmooth, [0.075, 0.175, -0.325, 0.075], EXACT);
  });

  it('confident example p = [0.02, 0.01, 0.95, 0.02]: −0.05 (hard) and +0.025 (ε = 0.1) at the true class', () => {
    const confident = explain(CONFIDENT, LABEL, { smoothing: 0.1 });
    expect(confident.gradHard[LABEL]).toBeCloseTo(-0.05, 12);
    expect(confident.gradSmooth[LABEL]).toBeCloseTo(0.025, 12);
    expectArrayClose(confident.gradSmooth, [-0.005, -0.015, 0.025, -0.005], EXACT);
  });

  it('optimal gap log 37 ≈ 3.61 at ε = 0.1, Infinity at ε = 0', () => {
    expect(anchor.optimalGap).toBeCloseTo(Math.log(37), 12);
    expect(explain(ANCHOR, LABEL, { smoothing: 0 }).optimalGap).toBe(Infinity);
  });

  // Loops rather than .each: vitest's $-formatting prints 0 as "+0".
  for (const row of EPSILON_TABLE) describe(`ε table, ε = ${row.epsilon}`, () => {
    const result = explain(ANCHOR, LABEL, { smoothing: row.epsilon });

    it(`smoothed targets ${row.yTrue} / ${row.yOther}`, () => {
      expect(result.rows[LABEL].ySmooth).toBeCloseTo(row.yTrue, 12);
      for (const k of [0, 1, 3]) expect(result.rows[k].ySmooth).toBeCloseTo(row.yOther, 12);
    });

    it(`smoothed CE ${row.smoothCE}, gradient at the true class ${row.gradTrue}`, () => {
      expect(result.smoothCE).toBeCloseTo(row.smoothCE, DECIMALS);
      expect(result.gradSmooth[LABEL]).toBeCloseTo(row.gradTrue, 12);
    });

    it('equals the logit form lse(z) − (1 − ε)·z_y − (ε/K)·Σ z_k', () => {
      const logits = ANCHOR.map(Math.log);
      const lse = Math.log(logits.reduce((sum, z) => sum + Math.exp(z), 0));
      const sumLogits = logits.reduce((sum, z) => sum + z, 0);
      const logitForm = lse - (1 - row.epsilon) * logits[LABEL] - (row.epsilon / K) * sumLogits;
      expect(Math.abs(result.smoothCE - logitForm)).toBeLessThan(EXACT);
    });

    it('identity: L_ε = (1 − ε)·CE(onehot, p) + ε·(KL(u‖p) + log K)', () => {
      const mixture = (1 - row.epsilon) * result.hardCE + row.epsilon * uniformCE(ANCHOR);
      expect(Math.abs(result.smoothCE - mixture)).toBeLessThan(EXACT);
      // And CE(u, p) computed directly agrees with KL(u‖p) + log K.
      expect(Math.abs(crossEntropyFromProbs(UNIFORM, ANCHOR, { eps: 0 }) - uniformCE(ANCHOR))).toBeLessThan(EXACT);
    });
  });

  it('reads logits as well as probabilities (auto), and honours from', () => {
    const fromLogits = explain(ANCHOR.map(Math.log), LABEL, { smoothing: 0.1 });
    expectArrayClose(fromLogits.probs, ANCHOR, EXACT);
    expect(Math.abs(fromLogits.smoothCE - anchor.smoothCE)).toBeLessThan(EXACT);
    expectArrayClose(fromLogits.gradSmooth, anchor.gradSmooth, EXACT);
    // Uniform-looking logits: auto reads a distribution; from: 'logits' softmaxes them (still uniform).
    expectArrayClose(explain(UNIFORM, 0, { from: 'logits' }).probs, UNIFORM, EXACT);
    // [0.5, 0.5, 0, 0] as logits is not [0.5, 0.5, 0, 0] as probabilities.
    const asLogits = explain([0.5, 0.5, 0, 0], 0, { from: 'logits' });
    const asProbs = explain([0.5, 0.5, 0, 0], 0);
    expect(asLogits.probs[2]).toBeGreaterThan(0);
    expect(asProbs.probs[2]).toBe(0);
  });

  it('stays finite for extreme logits, where probabilities underflow', () => {
    const result = explain([0, 0, 800, 0], 0, { smoothing: 0.1 });
    expect(result.hardCE).toBeCloseTo(800, 10);
    expect(Number.isFinite(result.smoothCE)).toBe(true);
    expect(result.probs[0]).toBe(0);
  });

  it('defaults: ε = 0.1 and class names "0".."K−1"', () => {
    const result = explain(ANCHOR, LABEL);
    expect(result.smoothCE).toBeCloseTo(0.6279, DECIMALS);
    expect(result.rows.map((row) => row.className)).toEqual(['0', '1', '2', '3']);
  });

  it('does not modify its inputs', () => {
    const probs = Float32Array.from(ANCHOR);
    const names = [...CLASS_NAMES];
    const options = { smoothing: 0.2, classNames: names, from: 'auto' as const };
    const result = explain(probs, LABEL, options);
    expect(Array.from(probs)).toEqual(Array.from(Float32Array.from(ANCHOR)));
    expect(names).toEqual(CLASS_NAMES);
    expect(options).toEqual({ smoothing: 0.2, classNames: CLASS_NAMES, from: 'auto' });
    // The result owns its arrays.
    expect(result.probs).not.toBe(probs);
  });
});

describe('bad input throws before any work, naming the argument and the value', () => {
  const cases: Array<[string, () => unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    ['explain: smoothing 1.5', () => explain(ANCHOR, 2, { smoothing: 1.5 }), RangeError, /^smoothing must be a number in \[0, 1\], got 1\.5$/],
    ['explain: smoothing NaN', () => explain(ANCHOR, 2, { smoothing: NaN }), RangeError, /smoothing.*got NaN/],
    ['explain: smoothing a string', () => explain(ANCHOR, 2, { smoothing: '0.1' as unknown as number }), TypeError, /smoothing.*got "0\.1"/],
    ['explain: label out of range', () => explain(ANCHOR, 4), RangeError, /label must be an integer in \[0, 3\], got 4/],
    ['explain: label not an integer', () => explain(ANCHOR, 1.5), RangeError, /label.*got 1\.5/],
    ['explain: label missing', () => (explain as unknown as (p: number[]) => unknown)(ANCHOR), TypeError, /label.*got undefined/],
    ['explain: input null', () => explain(null as unknown as number[], 0), TypeError, /probsOrLogits.*got null/],
    ['explain: input a string', () => explain('0.5' as unknown as number[], 0), TypeError, /probsOrLogits.*got "0\.5"/],
    ['explain: input empty', () => explain([], 0), RangeError, /probsOrLogits must be non-empty/],
    ['explain: input NaN', () => explain([0.5, NaN], 0), RangeError, /probsOrLogits\[1\].*got NaN/],
    ['explain: input Infinity', () => explain([Infinity, 0], 0), RangeError, /probsOrLogits\[0\].*got Infinity/],
    ['explain: input non-numbers', () => explain(['a', 'b'] as unknown as number[], 0), TypeError, /probsOrLogits\[0\].*got "a"/],
    ['explain: classNames length', () => explain(ANCHOR, 2, { classNames: ['a'] }), RangeError, /classNames must be an array of 4 strings.*got an array of length 1/],
    ['explain: classNames not strings', () => explain(ANCHOR, 2, { classNames: [1, 2, 3, 4] as unknown as string[] }), TypeError, /classNames\[0\].*got 1/],
    ['explain: from unknown', () => explain(ANCHOR, 2, { from: 'prob' as 'probs' }), RangeError, /from must be 'auto', 'probs' or 'logits', got "prob"/],
    ['explain: from probs, not a distribution', () => explain([0.5, 0.6], 0, { from: 'probs' }), RangeError, /probsOrLogits must sum to 1.*1\.1/],
    ['explain: from probs, negative', () => explain([-0.5, 1.5], 0, { from: 'probs' }), RangeError, /probsOrLogits\[0\].*-0\.5/],
    ['explain: options not an object', () => explain(ANCHOR, 2, 'fast' as unknown as object), TypeError, /options must be an object, got "fast"/],
    ['labelSmooth: epsilon −0.1', () => labelSmooth(2, -0.1, 4), RangeError, /epsilon must be a number in \[0, 1\], got -0\.1/],
    ['labelSmooth: epsilon missing', () => labelSmooth(2, undefined as unknown as number, 4), TypeError, /epsilon.*got undefined/],
    ['labelSmooth: numClasses 0', () => labelSmooth(0, 0.1, 0), RangeError, /numClasses must be an integer ≥ 1, got 0/],
    ['labelSmooth: numClasses 2.5', () => labelSmooth(0, 0.1, 2.5), RangeError, /numClasses.*got 2\.5/],
    ['labelSmooth: class index out of range', () => labelSmooth(4, 0.1, 4), RangeError, /hard must be an integer in \[0, 3\], got 4/],
    ['labelSmooth: hard a string', () => labelSmooth('2' as unknown as number, 0.1, 4), TypeError, /hard.*got "2"/],
    ['labelSmooth: hard of the wrong length', () => labelSmooth([1, 0], 0.1, 4), RangeError, /hard must have numClasses \(4\) entries, got 2/],
    ['labelSmooth: hard negative', () => labelSmooth([1, -1, 0, 0], 0.1, 4), RangeError, /hard\[1\].*got -1/],
    ['crossEntropyFromProbs: lengths differ', () => crossEntropyFromProbs(ONE_HOT, [0.5, 0.5]), RangeError, /probs must have as many as targets \(4\) entries, got 2/],
    ['crossEntropyFromProbs: probability 1.2', () => crossEntropyFromProbs([1, 0], [1.2, 0]), RangeError, /probs\[0\] must be a number in \[0, 1\], got 1\.2/],
    ['crossEntropyFromProbs: targets missing', () => (crossEntropyFromProbs as unknown as () => unknown)(), TypeError, /targets.*got undefined/],
    ['crossEntropyFromProbs: eps −1', () => crossEntropyFromProbs([1], [1], { eps: -1 }), RangeError, /eps.*got -1/],
    ['crossEntropyFromProbs: eps a string', () => crossEntropyFromProbs([1], [1], { eps: '1e-10' as unknown as number }), TypeError, /eps.*got "1e-10"/],
    ['klDivergence: lengths differ', () => klDivergence([0.5, 0.5], [1]), RangeError, /q must have as many as p \(2\) entries, got 1/],
    ['klDivergence: negative', () => klDivergence([0.5, 0.5], [-1, 2]), RangeError, /q\[0\].*got -1/],
    ['softmax: Infinity', () => softmax([Infinity, 0]), RangeError, /logits\[0\] must be a finite number, got Infinity/],
    ['softmax: bigints', () => softmax(new BigInt64Array(2) as unknown as number[]), TypeError, /logits\[0\].*got 0n/],
    ['softmax: an object', () => softmax({ length: 2 } as unknown as number[]), TypeError, /logits must be an array or typed array of numbers, got an object/],
    ['optimalLogitGap: one class', () => optimalLogitGap(0.1, 1), RangeError, /numClasses must be an integer ≥ 2, got 1/],
    ['optimalLogitGap: epsilon 2', () => optimalLogitGap(2, 4), RangeError, /epsilon.*got 2/],
  ];

  it.each(cases)('%s', (_name, call, ErrorClass, message) => {
    let thrown: unknown;
    try {
      call();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ErrorClass);
    // RangeError is not a TypeError and vice versa: the class itself is part of the contract.
    expect((thrown as Error).constructor).toBe(ErrorClass);
    expect((thrown as Error).message).toMatch(message);
  });
});

// ---------------------------------------------------------------------------------------------
// Every backend, through the library: float32 logits log p, one row, label 2, reduction 'sum'.

const xents = await createAllBackends();

describe('backends available here', () => {
  it('include wasm-simd, wasm and js (Node ≥ 20 has SIMD)', () => {
    const names = xents.map((xent) => xent.backend);
    expect(names).toEqual(expect.arrayContaining(['wasm-simd', 'wasm', 'js']));
  });
});

describe.each(xents.map((xent) => [xent.backend, xent] as const))('backend %s', (_backend, xent) => {
  const run = (probs: readonly number[], smoothing: number) => {
    const logits = Float32Array.from(probs, Math.log);
    const before = Array.from(logits);
    const result = xent.crossEntropy(logits, [LABEL], { numClasses: K, smoothing, reduction: 'sum', grad: true });
    expect(Array.from(logits), 'the logits are not modified').toEqual(before);
    if (!result.grad) throw new Error('grad: true returned no gradient');
    return { loss: result.loss, grad: result.grad };
  };

  it('anchor: hard CE 0.5108 and its gradient (−0.40 at the true class, +0.10 at class 0)', () => {
    const seed = explain(ANCHOR, LABEL, { smoothing: 0 });
    const { loss, grad } = run(ANCHOR, 0);
    expect(Math.abs(loss - seed.hardCE)).toBeLessThanOrEqual(FLOAT32);
    expect(loss).toBeCloseTo(0.5108, DECIMALS);
    expectArrayClose(grad, seed.gradHard, FLOAT32);
    expectArrayClose(grad, [0.1, 0.2, -0.4, 0.1], FLOAT32);
  });

  it('anchor: smoothed CE 0.6279 (ε = 0.1) and its gradient (−0.325 at the true class, +0.075 at class 0)', () => {
    const seed = explain(ANCHOR, LABEL, { smoothing: 0.1 });
    const { loss, grad } = run(ANCHOR, 0.1);
    expect(Math.abs(loss - seed.smoothCE)).toBeLessThanOrEqual(FLOAT32);
    expect(loss).toBeCloseTo(0.6279, DECIMALS);
    expectArrayClose(grad, seed.gradSmooth, FLOAT32);
    expectArrayClose(grad, [0.075, 0.175, -0.325, 0.075], FLOAT32);
  });

  it('confident example: −0.05 (hard) and +0.025 (ε = 0.1) at the true class', () => {
    const seed = explain(CONFIDENT, LABEL, { smoothing: 0.1 });
    const hard = run(CONFIDENT, 0);
    const smooth = run(CONFIDENT, 0.1);
    expect(Math.abs(hard.loss - seed.hardCE)).toBeLessThanOrEqual(FLOAT32);
    expect(Math.abs(smooth.loss - seed.smoothCE)).toBeLessThanOrEqual(FLOAT32);
    expectArrayClose(hard.grad, seed.gradHard, FLOAT32);
    expectArrayClose(smooth.grad, seed.gradSmooth, FLOAT32);
    expect(hard.grad[LABEL]).toBeCloseTo(-0.05, 6);
    expect(smooth.grad[LABEL]).toBeCloseTo(0.025, 6);
  });

  for (const row of EPSILON_TABLE) it(`ε table, ε = ${row.epsilon}: smoothed CE ${row.smoothCE}, gradient at the true class ${row.gradTrue}`, () => {
    const seed = explain(ANCHOR, LABEL, { smoothing: row.epsilon });
    const { loss, grad } = run(ANCHOR, row.epsilon);
    expect(Math.abs(loss - seed.smoothCE)).toBeLessThanOrEqual(FLOAT32);
    expect(loss).toBeCloseTo(row.smoothCE, DECIMALS);
    expectArrayClose(grad, seed.gradSmooth, FLOAT32);
    expect(Math.abs(grad[LABEL] - row.gradTrue)).toBeLessThanOrEqual(FLOAT32);
    // The gradient of a softmax loss sums to 0 over the classes (Σ p = Σ y = 1).
    expect(Math.abs(grad.reduce((a: number, b: number) => a + b, 0))).toBeLessThanOrEqual(FLOAT32);
  });

  it.each([0.1, 0.2, 0.3])('identity at ε = %s: L_ε = (1 − ε)·CE(onehot, p) + ε·(KL(u‖p) + log K)', (epsilon) => {
    const mixture = (1 - epsilon) * run(ANCHOR, 0).loss + epsilon * uniformCE(ANCHOR);
    expect(Math.abs(run(ANCHOR, epsilon).loss - mixture)).toBeLessThanOrEqual(FLOAT32);
  });

  it('at the optimal gap log 37 the smoothed gradient vanishes (ε = 0.1), the hard one does not', () => {
    const gap = optimalLogitGap(0.1, K);
    const logits = Float32Array.from([0, 0, gap, 0]);
    const options = { numClasses: K, reduction: 'sum' as const, grad: true };
    const smooth = xent.crossEntropy(logits, [LABEL], { ...options, smoothing: 0.1 });
    const hard = xent.crossEntropy(logits, [LABEL], { ...options, smoothing: 0 });
    expectArrayClose(smooth.grad!, [0, 0, 0, 0], FLOAT32);
    expect(hard.grad![LABEL]).toBeCloseTo(-0.075, 6); // p_y = 0.925 there, so p_y − 1
  });
});
