/**
 * softCrossEntropy (probability targets) against the float64 reference on every backend:
 * random targets (distributions, one-hot, unnormalised, sparse), temperature, weight,
 * smoothing, reductions, gradient destinations; one-hot targets agree with crossEntropy;
 * a zero target at a −∞ logit contributes 0 (finite loss). Error bars: see generators.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Reduction, RowsResult, ScalarResult, SoftCrossEntropyOptions } from '../src/types.js';
import type { Xent } from '../src/index.js';
import { createAllBackends } from './backends.js';
import {
  assertIdentical,
  assertMatchesReference,
  assertUnchanged,
  gradModeArbitrary,
  makeLogits,
  makeRandom,
  mismatch,
  perturbationForTemperature,
  randomLabels,
  reductionArbitrary,
  seedArbitrary,
  sigmaArbitrary,
  smoothingArbitrary,
  snapshot,
  type GradMode,
} from './generators.js';
import { referenceCrossEntropy, referenceSoftCrossEntropy } from './reference.js';

const xents = await createAllBackends();
const PROPERTY_TIMEOUT = 120_000;

type Options = Omit<SoftCrossEntropyOptions, 'numClasses'>;

function checkSoft(xent: Xent, logits: Float32Array, targets: Float32Array, numClasses: number, options: Options): ScalarResult | RowsResult {
  const reduction = options.reduction ?? 'mean';
  const ref = referenceSoftCrossEntropy(logits, targets, { ...options, numClasses });
  // Computed before the call: grad 'inplace' overwrites the logits.
  const perturbation = perturbationForTemperature(logits, ref.rowLosses.length, numClasses, options.temperature);
  const logitsBefore = snapshot(logits);
  const targetsBefore = snapshot(targets);
  const result = xent.softCrossEntropy(logits, targets, { ...options, numClasses });
  if (options.grad !== 'inplace') assertUnchanged('logits', logits, logitsBefore);
  assertUnchanged('targets', targets, targetsBefore);
  assertMatchesReference(result, ref, {
    reduction,
    numClasses,
    expectGrad: options.grad !== undefined && options.grad !== false,
    expectLse: options.lse === true,
    perturbation,
  });
  return result;
}

type TargetKind = 'distribution' | 'one-hot' | 'unnormalised' | 'sparse' | 'uniform';

function makeTargets(random: () => number, rows: number, numClasses: number, kind: TargetKind): Float32Array {
  const targets = new Float32Array(rows * numClasses);
  for (let i = 0; i < rows; i++) {
    const row = targets.subarray(i * numClasses, (i + 1) * numClasses);
    if (kind === 'one-hot') {
      row[Math.floor(random() * numClasses)] = 1;
      continue;
    }
    if (kind === 'uniform') {
      row.fill(1 / numClasses);
      continue;
    }
    let total = 0;
    for (let k = 0; k < numClasses; k++) {
      row[k] = kind === 'sparse' && random() < 0.7 ? 0 : random();
      total += row[k];
    }
    if (kind === 'distribution' && total > 0) for (let k = 0; k < numClasses; k++) row[k] /= total;
    if (kind === 'unnormalised') for (let k = 0; k < numClasses; k++) row[k] *= 3;
  }
  return targets;
}

interface SoftCase {
  shape: { rows: number; numClasses: number };
  sigma: number;
  dataSeed: number;
  targetKind: TargetKind;
  smoothing: number;
  reduction: Reduction;
  gradMode: GradMode;
  temperature: number | undefined;
  weightKind: 'none' | 'random' | 'with zeros';
  gradScale: number | undefined;
  lse: boolean;
  withNegInf: boolean;
}

const softShapeArbitrary = fc.constantFrom(1, 2, 3, 4, 5, 7, 10, 17, 33, 64, 65, 100, 1000, 1001, 32003).chain((numClasses) =>
  fc.record({
    numClasses: fc.constant(numClasses),
    rows: fc.integer({ min: 0, max: Math.min(40, Math.floor(150_000 / numClasses)) }),
  }),
);

const softCaseArbitrary: fc.Arbitrary<SoftCase> = fc.record({
  shape: softShapeArbitrary,
  sigma: sigmaArbitrary,
  dataSeed: seedArbitrary,
  targetKind: fc.constantFrom<TargetKind>('distribution', 'one-hot', 'unnormalised', 'sparse', 'uniform'),
  smoothing: smoothingArbitrary,
  reduction: reductionArbitrary,
  gradMode: gradModeArbitrary,
  temperature: fc.oneof(fc.constantFrom(undefined, 1, 0.5, 2, 10), fc.double({ min: 0.05, max: 20, noNaN: true })),
  weightKind: fc.constantFrom('none', 'random', 'with zeros'),
  gradScale: fc.constantFrom(undefined, 1, -0.5, 8),
  lse: fc.boolean(),
  withNegInf: fc.boolean(),
});

function runSoftCase(xent: Xent, c: SoftCase): void {
  const { rows, numClasses: K } = c.shape;
  const random = makeRandom(c.dataSeed);
  const targets = makeTargets(random, rows, K, c.targetKind);
  let weight: Float32Array | undefined;
  if (c.weightKind !== 'none') {
    weight = Float32Array.from({ length: K }, () => (c.weightKind === 'with zeros' && random() < 0.4 ? 0 : 0.1 + 2 * random()));
  }
  const { backing, logits } = makeLogits(random, {
    rows,
    numClasses: K,
    sigma: c.sigma,
    // A −∞ logit at a zero-weight class is 0·∞ in the weighted formula: not settled by the spec.
    negInfRate: c.withNegInf && weight === undefined ? 0.1 : 0,
    viewOffset: 3,
  });
  const backingBefore = backing.slice();
  const given = c.gradMode === 'given' ? new Float32Array(rows * K).fill(Number.NaN) : undefined;
  const grad = c.gradMode === 'off' ? false : c.gradMode === 'allocate' ? true : c.gradMode === 'inplace' ? 'inplace' : given;
  const options: Options = { smoothing: c.smoothing, reduction: c.reduction, grad, lse: c.lse, weight };
  if (c.temperature !== undefined) options.temperature = c.temperature;
  if (c.gradScale !== undefined) options.gradScale = c.gradScale;
  const result = checkSoft(xent, logits, targets, K, options);
  if (given !== undefined && result.grad !== given) throw new Error('the given grad buffer was not returned');
  if (c.gradMode === 'inplace' && result.grad !== logits) throw new Error("grad 'inplace' did not return the logits");
  for (let i = 0; i < backing.length; i++) {
    if (c.gradMode === 'inplace' && i >= 3 && i < 3 + rows * K) continue;
    if (!Object.is(backing[i], backingBefore[i])) throw new Error(`logits backing[${i}] was modified`);
  }
}

describe.each(xents.map((xent) => ({ backend: xent.backend, xent })))('softCrossEntropy on $backend', ({ xent }) => {
  it(
    'matches the reference for random targets, temperature, weight, ε, reductions and gradient destinations',
    () => {
      fc.assert(
        fc.property(softCaseArbitrary, (c) => runSoftCase(xent, c)),
        { seed: 31337, numRuns: 120 },
      );
    },
    PROPERTY_TIMEOUT,
  );

  it('gives the textbook value −Σ t·log p for a small example', () => {
    const logits = new Float32Array([1, 2, 3]);
    const targets = new Float32Array([0.25, 0.25, 0.5]);
    const lse = 3 + Math.log(Math.exp(-2) + Math.exp(-1) + 1);
    const expected = -(0.25 * (1 - lse) + 0.25 * (2 - lse) + 0.5 * (3 - lse));
    const result = checkSoft(xent, logits, targets, 3, { grad: true });
    expect((result as ScalarResult).loss).toBeCloseTo(expected, 6);
  });

  it.each(['mean', 'sum', 'none'] as const)('with one-hot targets agrees with crossEntropy (%s, ε = 0 and 0.1)', (reduction) => {
    const random = makeRandom(41);
    for (const K of [1, 3, 7, 100, 1001]) {
      const rows = 13;
      const labels = randomLabels(random, rows, K, K);
      const { logits } = makeLogits(random, { rows, numClasses: K, sigma: 4, negInfRate: 0, viewOffset: 0 });
      const targets = new Float32Array(rows * K);
      labels.forEach((label, i) => (targets[i * K + label] = 1));
      for (const smoothing of [0, 0.1]) {
        const options = { numClasses: K, reduction, smoothing, grad: true, lse: true } as const;
        const softResult = checkSoft(xent, logits, targets, K, options);
        const hardResult = xent.crossEntropy(logits, labels, options);
        // The hard result must satisfy the same bars against the soft reference.
        assertMatchesReference(hardResult, referenceSoftCrossEntropy(logits, targets, options), {
          reduction,
          numClasses: K,
          expectGrad: true,
          expectLse: true,
          what: `crossEntropy (K = ${K}, ε = ${smoothing}) vs the soft reference`,
        });
        assertMatchesReference(softResult, referenceCrossEntropy(logits, labels, options), {
          reduction,
          numClasses: K,
          expectGrad: true,
          expectLse: true,
          what: `softCrossEntropy (K = ${K}, ε = ${smoothing}) vs the hard reference`,
        });
      }
    }
  });

  it('with one-hot targets and weights agrees with weighted crossEntropy for sum and none', () => {
    const random = makeRandom(42);
    const K = 9;
    const rows = 10;
    const labels = randomLabels(random, rows, K, K);
    const { logits } = makeLogits(random, { rows, numClasses: K, sigma: 2, negInfRate: 0, viewOffset: 0 });
    const targets = new Float32Array(rows * K);
    labels.forEach((label, i) => (targets[i * K + label] = 1));
    const weight = Float32Array.from({ length: K }, (_, k) => k / 4);
    for (const reduction of ['sum', 'none'] as const) {
      const options = { numClasses: K, reduction, smoothing: 0.2, weight, grad: true } as const;
      const softResult = checkSoft(xent, logits, targets, K, options);
      assertMatchesReference(softResult, referenceCrossEntropy(logits, labels, options), {
        reduction,
        numClasses: K,
        expectGrad: true,
        expectLse: false,
      });
    }
  });

  it("'mean' divides by N even with weights (not by Σ weights)", () => {
    const logits = new Float32Array([1, 2, 3, 0, 0, 0]);
    const targets = new Float32Array([0, 0, 1, 1, 0, 0]);
    const weight = new Float32Array([2, 1, 0.5]);
    const mean = checkSoft(xent, logits, targets, 3, { weight }) as ScalarResult;
    const sum = checkSoft(xent, logits, targets, 3, { weight, reduction: 'sum' }) as ScalarResult;
    expect(mean.loss).toBeCloseTo(sum.loss / 2, 6);
  });

  it('temperature T: the same as dividing the logits by T, with the gradient divided by T', () => {
    const random = makeRandom(43);
    const K = 17;
    const rows = 6;
    const { logits } = makeLogits(random, { rows, numClasses: K, sigma: 5, negInfRate: 0, viewOffset: 0 });
    const targets = makeTargets(random, rows, K, 'distribution');
    for (const temperature of [0.5, 2, 4]) {
      // Dividing by a power of two is exact in float32.
      const scaled = logits.map((value) => value / temperature);
      const withT = checkSoft(xent, logits, targets, K, { temperature, grad: true, lse: true, smoothing: 0.1 }) as ScalarResult;
      const divided = checkSoft(xent, scaled, targets, K, { grad: true, lse: true, smoothing: 0.1 }) as ScalarResult;
      expect(mismatch('loss', withT.loss, divided.loss, 1e-6 * Math.max(1, Math.abs(divided.loss)))).toBeNull();
      for (let i = 0; i < rows * K; i++) {
        expect(mismatch(`grad[${i}]`, withT.grad![i], divided.grad![i] / temperature, 2e-6 / rows / temperature)).toBeNull();
      }
      for (let i = 0; i < rows; i++) expect(mismatch(`lse[${i}]`, withT.lse![i], divided.lse![i], 1e-6 * Math.max(1, Math.abs(divided.lse![i])))).toBeNull();
    }
  });

  it('a zero target at a −∞ logit contributes 0 (finite loss); a positive one gives +∞', () => {
    const logits = new Float32Array([-Infinity, 1, 2, 0.5, -Infinity, -Infinity]);
    const zeroThere = new Float32Array([0, 0.5, 0.5, 1, 0, 0]);
    for (const temperature of [1, 3]) {
      const finite = checkSoft(xent, logits, zeroThere, 3, { reduction: 'none', grad: true, lse: true, temperature }) as RowsResult;
      expect(Array.from(finite.losses).every(Number.isFinite)).toBe(true);
      expect(Array.from(finite.grad!).every(Number.isFinite)).toBe(true);
    }
    const positiveThere = new Float32Array([0.1, 0.4, 0.5, 1, 0, 0]);
    const infinite = checkSoft(xent, logits, positiveThere, 3, { reduction: 'none', grad: true }) as RowsResult;
    expect(infinite.losses[0]).toBe(Infinity);
    expect(Number.isFinite(infinite.losses[1])).toBe(true);
    // With ε > 0 every smoothed target is positive: +∞ wherever a −∞ logit is.
    const smoothed = checkSoft(xent, logits, zeroThere, 3, { reduction: 'none', smoothing: 0.1 }) as RowsResult;
    expect(Array.from(smoothed.losses)).toEqual([Infinity, Infinity]);
  });

  it('is accurate for large logits: no cancellation between Σu·lse and Σu·z', () => {
    // Exact answers: a single class always has loss 0; a confident right answer ≈ 0;
    // two close logits 12345.678 and 12345.9 give ≈ 0.744. A float32 product u·z of
    // size 1e4 is off by ~5e-4, far above the bar.
    const cases: { logits: number[]; targets: number[]; weight?: number[] }[] = [
      { logits: [12345.678], targets: [1], weight: [0.3] },
      { logits: [12345.678, -3000], targets: [1, 0] },
      { logits: [30000, 0], targets: [1, 0], weight: [0.3, 1] },
      { logits: [12345.678, 12345.9], targets: [0.7, 0.3] },
      { logits: [-20000.25, -20000, -20000.125, -19999.5], targets: [0.1, 0.2, 0.3, 0.4] },
    ];
    for (const c of cases) {
      const logits = new Float32Array(c.logits);
      const targets = new Float32Array(c.targets);
      const K = c.logits.length;
      const weight = c.weight === undefined ? undefined : new Float32Array(c.weight);
      for (const reduction of ['sum', 'none'] as const) {
        for (const temperature of [1, 2]) {
          checkSoft(xent, logits, targets, K, { reduction, weight, temperature, grad: true, lse: true });
          checkSoft(xent, logits, targets, K, { reduction, weight, temperature, smoothing: 0.1 });
        }
      }
    }
  });

  it('accepts rows that do not sum to 1 (including all-zero rows)', () => {
    const logits = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const targets = new Float32Array([0, 0, 0, 2, 2, 2, 0.1, 0, 0]);
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      checkSoft(xent, logits, targets, 3, { reduction, grad: true });
      checkSoft(xent, logits, targets, 3, { reduction, grad: true, smoothing: 0.5 });
    }
  });

  it.each(['mean', 'sum', 'none'] as const)('handles N = 0 (%s)', (reduction) => {
    const result = xent.softCrossEntropy(new Float32Array(0), new Float32Array(0), { numClasses: 4, reduction, grad: true, lse: true });
    if (reduction === 'none') expect((result as RowsResult).losses).toEqual(new Float32Array(0));
    else expect((result as ScalarResult).loss).toBe(0);
    expect(result.grad).toEqual(new Float32Array(0));
    expect(result.lse).toEqual(new Float32Array(0));
  });

  it("grad 'inplace' equals an allocated gradient bit for bit", () => {
    const random = makeRandom(44);
    const { logits } = makeLogits(random, { rows: 5, numClasses: 11, sigma: 3, negInfRate: 0, viewOffset: 0 });
    const targets = makeTargets(random, 5, 11, 'sparse');
    const options = { numClasses: 11, smoothing: 0.1, temperature: 1.5, gradScale: 2, lse: true } as const;
    const allocated = xent.softCrossEntropy(logits, targets, { ...options, grad: true });
    const copy = logits.slice();
    const inplace = xent.softCrossEntropy(copy, targets, { ...options, grad: 'inplace' });
    expect(inplace.grad).toBe(copy);
    assertIdentical(inplace, allocated, 'soft inplace vs allocated');
  });
});
