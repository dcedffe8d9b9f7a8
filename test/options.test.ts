/**
 * Every crossEntropy option alone and combined, on every backend, against the float64
 * reference (error bars in the header of generators.ts): ignoreIndex, weight, zLoss,
 * softcap, gradScale, grad 'inplace' on views, lse; −∞/NaN logits; K not a multiple of 4.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CrossEntropyOptions, Labels, Reduction, RowsResult, ScalarResult } from '../src/types.js';
import type { Xent } from '../src/index.js';
import { createAllBackends } from './backends.js';
import {
  assertIdentical,
  assertMatchesReference,
  assertUnchanged,
  gradModeArbitrary,
  makeLogits,
  makeRandom,
  perturbationForSoftcap,
  randomLabels,
  reductionArbitrary,
  seedArbitrary,
  sigmaArbitrary,
  smoothingArbitrary,
  snapshot,
  type GradMode,
} from './generators.js';
import { referenceCrossEntropy } from './reference.js';

const xents = await createAllBackends();
const PROPERTY_TIMEOUT = 120_000;

type Options = Omit<CrossEntropyOptions, 'numClasses'>;

/** Runs crossEntropy on copies-free inputs and checks it against the reference and the inputs. */
function checkAgainstReference(
  xent: Xent,
  logits: Float32Array,
  labels: Labels,
  numClasses: number,
  options: Options,
): ScalarResult | RowsResult {
  const reduction = options.reduction ?? 'mean';
  const ref = referenceCrossEntropy(logits, labels as ArrayLike<number | bigint>, { ...options, numClasses });
  const logitsBefore = snapshot(logits);
  const labelsBefore = snapshot(labels as ArrayBufferView | readonly number[]);
  const weightBefore = options.weight === undefined ? null : snapshot(options.weight);
  const result = xent.crossEntropy(logits, labels, { ...options, numClasses });
  if (options.grad !== 'inplace') assertUnchanged('logits', logits, logitsBefore);
  assertUnchanged('labels', labels as ArrayBufferView | readonly number[], labelsBefore);
  if (weightBefore !== null) assertUnchanged('weight', options.weight!, weightBefore);
  assertMatchesReference(result, ref, {
    reduction,
    numClasses,
    expectGrad: options.grad !== undefined && options.grad !== false,
    expectLse: options.lse === true,
    perturbation: perturbationForSoftcap(ref.rowLosses.length, options.softcap),
  });
  return result;
}

function isZero(value: number): boolean {
  return value === 0; // +0 or −0
}

interface OptionsCase {
  numClasses: number;
  rows: number;
  sigma: number;
  dataSeed: number;
  smoothing: number;
  reduction: Reduction;
  gradMode: GradMode;
  gradScale: number | undefined;
  weightKind: 'none' | 'random' | 'with zeros' | 'all zero';
  ignore: 'none' | 'default' | 'class 0' | 'beyond K' | 'all';
  zLoss: number | undefined;
  softcap: number | undefined;
  lse: boolean;
  withNegInf: boolean;
}

const optionsCaseArbitrary: fc.Arbitrary<OptionsCase> = fc.record({
  numClasses: fc.constantFrom(1, 2, 3, 5, 6, 7, 9, 13, 33, 64, 100, 1001),
  rows: fc.integer({ min: 0, max: 24 }),
  sigma: sigmaArbitrary,
  dataSeed: seedArbitrary,
  smoothing: smoothingArbitrary,
  reduction: reductionArbitrary,
  gradMode: gradModeArbitrary,
  gradScale: fc.constantFrom(undefined, 1, 0.5, -2, 1e-3, 0),
  weightKind: fc.constantFrom('none', 'random', 'with zeros', 'all zero'),
  ignore: fc.constantFrom('none', 'default', 'class 0', 'beyond K', 'all'),
  zLoss: fc.constantFrom(undefined, 0, 1e-4, 0.1),
  softcap: fc.constantFrom(undefined, 1, 30, 1000),
  lse: fc.boolean(),
  withNegInf: fc.boolean(),
});

function runOptionsCase(xent: Xent, c: OptionsCase): void {
  const random = makeRandom(c.dataSeed);
  const K = c.numClasses;
  let weight: Float32Array | undefined;
  if (c.weightKind !== 'none') {
    weight = new Float32Array(K);
    for (let k = 0; k < K; k++) {
      weight[k] = c.weightKind === 'all zero' ? 0 : c.weightKind === 'with zeros' && random() < 0.4 ? 0 : 0.1 + 2 * random();
    }
  }
  const ignoreIndex = c.ignore === 'class 0' ? 0 : c.ignore === 'beyond K' ? K + 5 : undefined;
  const ignoreValue = ignoreIndex ?? -100;
  const ignoredRate = c.ignore === 'none' ? 0 : c.ignore === 'all' ? 1 : 0.3;
  const labelValues = randomLabels(random, c.rows, K, K, ignoredRate, ignoreValue);
  const { backing, logits } = makeLogits(random, {
    rows: c.rows,
    numClasses: K,
    sigma: c.sigma,
    // A −∞ logit at a zero-weight class is 0·∞ in the weighted formula: not settled by the spec.
    negInfRate: c.withNegInf && weight === undefined ? 0.1 : 0,
    viewOffset: 3,
    labels: labelValues,
    protectLabels: Math.fround(c.smoothing) === 1,
  });
  const backingBefore = backing.slice();
  const given = c.gradMode === 'given' ? new Float32Array(c.rows * K).fill(Number.NaN) : undefined;
  const grad = c.gradMode === 'off' ? false : c.gradMode === 'allocate' ? true : c.gradMode === 'inplace' ? 'inplace' : given;
  const options: Options = {
    smoothing: c.smoothing,
    reduction: c.reduction,
    grad,
    weight,
    lse: c.lse,
  };
  if (c.gradScale !== undefined) options.gradScale = c.gradScale;
  if (ignoreIndex !== undefined) options.ignoreIndex = ignoreIndex;
  if (c.zLoss !== undefined) options.zLoss = c.zLoss;
  if (c.softcap !== undefined) options.softcap = c.softcap;

  const result = checkAgainstReference(xent, logits, Int32Array.from(labelValues), K, options);
  if (given !== undefined && result.grad !== given) throw new Error('the given grad buffer was not returned');
  if (c.gradMode === 'inplace' && result.grad !== logits) throw new Error("grad 'inplace' did not return the logits");
  // Nothing outside the view may change, even with grad 'inplace'.
  for (let i = 0; i < backing.length; i++) {
    if (i >= 3 && i < 3 + c.rows * K) continue;
    if (!Object.is(backing[i], backingBefore[i])) throw new Error(`element ${i} outside the logits view changed`);
  }
}

describe.each(xents.map((xent) => ({ backend: xent.backend, xent })))('options on $backend', ({ xent }) => {
  it(
    'match the reference in random combinations (ignoreIndex, weight, zLoss, softcap, gradScale, lse, grad destinations)',
    () => {
      fc.assert(
        fc.property(optionsCaseArbitrary, (c) => runOptionsCase(xent, c)),
        { seed: 424242, numRuns: 200 },
      );
    },
    PROPERTY_TIMEOUT,
  );

  describe('ignoreIndex', () => {
    it('drops ignored rows: same loss and gradient as the batch without them', () => {
      const random = makeRandom(21);
      const K = 6;
      const labels = [3, -100, 0, 5, -100, -100, 2];
      const { logits } = makeLogits(random, { rows: labels.length, numClasses: K, sigma: 2, negInfRate: 0, viewOffset: 0 });
      const keptRows = labels.flatMap((label, i) => (label === -100 ? [] : [i]));
      const keptLogits = new Float32Array(keptRows.length * K);
      keptRows.forEach((row, j) => keptLogits.set(logits.subarray(row * K, row * K + K), j * K));
      const keptLabels = keptRows.map((row) => labels[row]);
      for (const reduction of ['mean', 'sum'] as const) {
        const all = checkAgainstReference(xent, logits, labels, K, { reduction, smoothing: 0.1, grad: true }) as ScalarResult;
        const kept = xent.crossEntropy(keptLogits, keptLabels, { numClasses: K, reduction, smoothing: 0.1, grad: true });
        expect(all.loss).toBeCloseTo(kept.loss, 6);
        labels.forEach((label, i) => {
          const rowGrad = all.grad!.subarray(i * K, i * K + K);
          if (label === -100) expect(rowGrad.every(isZero)).toBe(true);
          else {
            const j = keptRows.indexOf(i);
            expect(Array.from(rowGrad)).toEqual(Array.from(kept.grad!.subarray(j * K, j * K + K)).map((v) => expect.closeTo(v, 7)));
          }
        });
      }
    });

    it('gives ignored rows loss exactly 0 in reduction none, and still reports their lse', () => {
      const logits = new Float32Array([1, 2, 3, 4, 5, 6, 0, 0, 0]);
      const result = checkAgainstReference(xent, logits, [0, -100, 2], 3, { reduction: 'none', grad: true, lse: true }) as RowsResult;
      expect(isZero(result.losses[1])).toBe(true);
      expect(result.lse![1]).toBeCloseTo(6 + Math.log(Math.exp(-2) + Math.exp(-1) + 1), 5);
    });

    it.each(['mean', 'sum', 'none'] as const)('gives loss 0 and an all-zero gradient when every row is ignored (%s)', (reduction) => {
      const logits = new Float32Array([1, 2, 3, 4, 5, 6]);
      const given = new Float32Array(6).fill(9);
      const result = xent.crossEntropy(logits, [-100, -100], { numClasses: 3, reduction, grad: given, smoothing: 0.2, zLoss: 0.1 });
      if (reduction === 'none') expect(Array.from((result as RowsResult).losses).every(isZero)).toBe(true);
      else expect(isZero((result as ScalarResult).loss)).toBe(true);
      expect(result.grad).toBe(given);
      expect(Array.from(given).every(isZero)).toBe(true);
    });

    it('can be a valid class (rows of that class are ignored) or a value ≥ K', () => {
      const logits = Float32Array.from({ length: 5 * 4 }, (_, i) => Math.cos(i) * 4);
      checkAgainstReference(xent, logits, [2, 2, 0, 1, 3], 4, { ignoreIndex: 2, grad: true, smoothing: 0.1 });
      checkAgainstReference(xent, logits, new Uint8Array([255, 2, 0, 255, 3]), 4, { ignoreIndex: 255, grad: true, reduction: 'none' });
      checkAgainstReference(xent, logits, new BigInt64Array([-7n, 2n, 0n, -7n, 3n]), 4, { ignoreIndex: -7, grad: true, reduction: 'sum' });
    });
  });

  describe('weight', () => {
    it('follows PyTorch: mean divides by Σ w_y over counted rows (worked example)', () => {
      const logits = new Float32Array([1, 2, 3, 0, 0, 0]);
      const weight = new Float32Array([2, 1, 0.5]);
      const lse0 = 3 + Math.log(Math.exp(-2) + Math.exp(-1) + 1);
      const expected = (0.5 * (lse0 - 3) + 2 * Math.log(3)) / 2.5;
      const result = checkAgainstReference(xent, logits, [2, 0], 3, { weight, grad: true }) as ScalarResult;
      expect(result.loss).toBeCloseTo(expected, 6);
    });

    it('reweights the smoothing term too, and handles zero weights', () => {
      const random = makeRandom(22);
      const weight = new Float32Array([0, 1.5, 0, 0.25, 3]);
      const { logits } = makeLogits(random, { rows: 8, numClasses: 5, sigma: 3, negInfRate: 0, viewOffset: 0 });
      const labels = randomLabels(random, 8, 5, 5);
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        checkAgainstReference(xent, logits, labels, 5, { weight, smoothing: 0.3, reduction, grad: true, lse: true });
      }
    });

    it('gives loss 0 and zero gradient for mean when the counted weight is 0, but not for sum with ε > 0', () => {
      const logits = new Float32Array([1, 2, 3, 4, 0, 1]);
      const weight = new Float32Array([0, 1, 1]);
      const mean = xent.crossEntropy(logits, [0, 0], { numClasses: 3, weight, smoothing: 0.3, grad: true });
      expect(isZero(mean.loss)).toBe(true);
      expect(Array.from(mean.grad!).every(isZero)).toBe(true);
      const sum = checkAgainstReference(xent, logits, [0, 0], 3, { weight, smoothing: 0.3, reduction: 'sum', grad: true }) as ScalarResult;
      expect(sum.loss).toBeGreaterThan(0);
    });
  });

  describe('zLoss', () => {
    it('adds zLoss·lse² per counted row', () => {
      const random = makeRandom(23);
      const { logits } = makeLogits(random, { rows: 6, numClasses: 7, sigma: 5, negInfRate: 0, viewOffset: 0 });
      const labels = [1, 6, -100, 0, 3, 3];
      const plain = checkAgainstReference(xent, logits, labels, 7, { reduction: 'sum', lse: true }) as ScalarResult;
      const withZ = checkAgainstReference(xent, logits, labels, 7, { reduction: 'sum', zLoss: 0.01, grad: true, lse: true }) as ScalarResult;
      let expected = 0;
      labels.forEach((label, i) => {
        if (label !== -100) expected += 0.01 * plain.lse![i] ** 2;
      });
      expect(withZ.loss - plain.loss).toBeCloseTo(expected, 4);
      checkAgainstReference(xent, logits, labels, 7, { reduction: 'mean', zLoss: 1e-4, smoothing: 0.1, grad: true });
      checkAgainstReference(xent, logits, labels, 7, { reduction: 'none', zLoss: 1, grad: true });
    });
  });

  describe('softcap', () => {
    it('caps huge logits (±1e4) smoothly: finite loss, near-zero gradient where tanh saturates', () => {
      const logits = new Float32Array([1e4, -1e4, 0, 5, -3e4, 2e4, 1, 1]);
      for (const softcap of [1, 30, 5000]) {
        for (const smoothing of [0, 0.1]) {
          const result = checkAgainstReference(xent, logits, [0, 2], 4, { softcap, smoothing, grad: true, lse: true, reduction: 'none' }) as RowsResult;
          expect(Array.from(result.losses).every(Number.isFinite)).toBe(true);
          expect(Array.from(result.grad!).every(Number.isFinite)).toBe(true);
          // lse is of the capped logits: never above the cap + log K.
          for (const value of result.lse!) expect(value).toBeLessThanOrEqual(softcap + Math.log(4) + 1e-3);
        }
      }
    });

    it('turns −∞ logits into −c (finite loss even with ε > 0)', () => {
      const logits = new Float32Array([-Infinity, 1, 2, 3, -Infinity, -Infinity]);
      const result = checkAgainstReference(xent, logits, [0, 2], 3, { softcap: 10, smoothing: 0.1, grad: true, reduction: 'none' }) as RowsResult;
      expect(Array.from(result.losses).every(Number.isFinite)).toBe(true);
    });
  });

  describe("grad 'inplace'", () => {
    it('overwrites exactly the view at an odd offset, leaving the neighbours untouched, equal to an allocated gradient', () => {
      const random = makeRandom(24);
      const K = 7;
      const rows = 5;
      const { backing, logits } = makeLogits(random, { rows, numClasses: K, sigma: 2, negInfRate: 0, viewOffset: 3 });
      const before = backing.slice();
      const copy = logits.slice();
      const labels = [0, 6, 3, -100, 1];
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        backing.set(before);
        const options = { numClasses: K, smoothing: 0.1, reduction, lse: true, zLoss: 1e-3, gradScale: 2 };
        const allocated = xent.crossEntropy(copy, labels, { ...options, grad: true });
        const inplace = xent.crossEntropy(logits, labels, { ...options, grad: 'inplace' });
        expect(inplace.grad).toBe(logits);
        expect(Array.from(backing.subarray(0, 3))).toEqual(Array.from(before.subarray(0, 3)));
        expect(Array.from(backing.subarray(3 + rows * K))).toEqual(Array.from(before.subarray(3 + rows * K)));
        assertIdentical(inplace, allocated, `inplace vs allocated (${reduction})`);
      }
    });
  });

  describe('gradScale', () => {
    it.each([0.5, -2, 1e-3, 0, 1024])('multiplies the gradient by %s', (gradScale) => {
      const random = makeRandom(25);
      const { logits } = makeLogits(random, { rows: 6, numClasses: 5, sigma: 3, negInfRate: 0, viewOffset: 0 });
      const labels = randomLabels(random, 6, 5, 5);
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        const scaled = checkAgainstReference(xent, logits, labels, 5, { gradScale, reduction, smoothing: 0.1, grad: true });
        const unscaled = xent.crossEntropy(logits, labels, { numClasses: 5, reduction, smoothing: 0.1, grad: true });
        // The loss itself is not scaled.
        if (reduction !== 'none') expect((scaled as ScalarResult).loss).toBe((unscaled as ScalarResult).loss);
      }
    });
  });

  describe('lse', () => {
    it('returns the per-row log-sum-exp for every reduction, also for ignored rows', () => {
      const random = makeRandom(26);
      const { logits } = makeLogits(random, { rows: 9, numClasses: 33, sigma: 10, negInfRate: 0.1, viewOffset: 0 });
      const labels = randomLabels(random, 9, 33, 33, 0.3);
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        const result = checkAgainstReference(xent, logits, labels, 33, { reduction, lse: true });
        expect(result.lse).toBeInstanceOf(Float32Array);
        expect(result.grad).toBeUndefined();
      }
    });
  });

  describe('non-finite logits are data', () => {
    it('−∞ logits with ε = 0 give a finite loss; with ε > 0 the row loss is +∞', () => {
      const logits = new Float32Array([-Infinity, 0, 1, 2, -Infinity, -Infinity, 3, 3, -Infinity]);
      const labels = [1, 0, 1];
      const hard = checkAgainstReference(xent, logits, labels, 3, { reduction: 'none', grad: true, lse: true }) as RowsResult;
      expect(Array.from(hard.losses).every(Number.isFinite)).toBe(true);
      expect(Array.from(hard.grad!).every(Number.isFinite)).toBe(true);
      const smooth = checkAgainstReference(xent, logits, labels, 3, { reduction: 'none', grad: true, smoothing: 0.1 }) as RowsResult;
      expect(Array.from(smooth.losses)).toEqual([Infinity, Infinity, Infinity]);
      expect(Array.from(smooth.grad!).every(Number.isFinite)).toBe(true);
      const mean = checkAgainstReference(xent, logits, labels, 3, { smoothing: 0.1 }) as ScalarResult;
      expect(mean.loss).toBe(Infinity);
    });

    it('a −∞ logit at the label gives +∞ loss with ε = 0, and a finite gradient', () => {
      const logits = new Float32Array([-Infinity, 0, 1, 2, 0.5, 1]);
      const result = checkAgainstReference(xent, logits, [0, 1], 3, { reduction: 'none', grad: true }) as RowsResult;
      expect(result.losses[0]).toBe(Infinity);
      expect(Number.isFinite(result.losses[1])).toBe(true);
      expect(Array.from(result.grad!).every(Number.isFinite)).toBe(true);
    });

    it('NaN and +∞ logits follow IEEE arithmetic like the reference (NaN rows), other rows unaffected', () => {
      const logits = new Float32Array([Number.NaN, 0, 1, Infinity, 0, 1, 0.5, -1, 2, 0, 0, Number.NaN]);
      const labels = [1, 2, 0, -100];
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        for (const smoothing of [0, 0.1]) {
          checkAgainstReference(xent, logits, labels, 3, { reduction, smoothing, grad: true, lse: true });
        }
      }
    });
  });

  it('K not a multiple of 4 with every option at once', () => {
    for (const K of [1, 2, 3, 5, 6, 7, 9, 11, 13, 15, 17, 31, 33, 63, 65, 127, 129]) {
      const random = makeRandom(100 + K);
      const rows = 11;
      const labels = randomLabels(random, rows, K, K, 0.2);
      const { logits } = makeLogits(random, { rows, numClasses: K, sigma: 4, negInfRate: 0, viewOffset: 1 });
      const weight = Float32Array.from({ length: K }, (_, k) => (k % 3) * 0.75);
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        checkAgainstReference(xent, logits, labels, K, {
          reduction,
          smoothing: 0.15,
          weight,
          zLoss: 1e-3,
          softcap: 8,
          gradScale: 3,
          lse: true,
          grad: true,
        });
      }
    }
  });
});
