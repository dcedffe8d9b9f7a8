/**
 * Chunked vs one-shot: every backend created with a 64 KiB arena gives results identical
 * BIT FOR BIT (Object.is on the loss and on every element) to the same backend with the
 * default arena, for batches much larger than the arena, for a single row larger than the
 * arena (the arena must grow), and for a smaller call after growth (no stale views).
 * Each case is also checked against the float64 reference, so that both sides cannot be
 * wrong the same way.
 */
import { describe, expect, it } from 'vitest';
import type { CrossEntropyOptions, Reduction, SoftCrossEntropyOptions } from '../src/types.js';
import { createAllBackends } from './backends.js';
import {
  assertIdentical,
  assertMatchesReference,
  assertUnchanged,
  makeLogits,
  makeRandom,
  perturbationForSoftcap,
  perturbationForTemperature,
  randomLabels,
  snapshot,
} from './generators.js';
import { referenceCrossEntropy, referenceSoftCrossEntropy } from './reference.js';

const ARENA_BYTES = 65536;
const chunked = await createAllBackends({ arenaBytes: ARENA_BYTES });
const oneShot = await createAllBackends();
const pairs = chunked.map((small) => {
  const big = oneShot.find((xent) => xent.backend === small.backend);
  if (big === undefined) throw new Error(`backend ${small.backend} missing from the default-arena set`);
  return { backend: small.backend, small, big };
});
const TIMEOUT = 60_000;

interface HardCase {
  rows: number;
  numClasses: number;
  sigma: number;
  seed: number;
  ignoredRate?: number;
  negInfRate?: number;
  options: Omit<CrossEntropyOptions, 'numClasses' | 'grad'>;
}

function makeHardInputs(c: HardCase): { logits: Float32Array; labels: Int32Array } {
  const random = makeRandom(c.seed);
  const labelValues = randomLabels(random, c.rows, c.numClasses, c.numClasses, c.ignoredRate ?? 0, c.options.ignoreIndex ?? -100);
  const { logits } = makeLogits(random, {
    rows: c.rows,
    numClasses: c.numClasses,
    sigma: c.sigma,
    negInfRate: c.negInfRate ?? 0,
    viewOffset: 3,
    labels: labelValues,
    protectLabels: true,
  });
  return { logits, labels: Int32Array.from(labelValues) };
}

type Pair = (typeof pairs)[number];

/** Runs `c` with every reduction on both arenas: identical bits, reference within bars, inputs unchanged. */
function checkHardCase(pair: Pair, c: HardCase): void {
  const { logits, labels } = makeHardInputs(c);
  const logitsBefore = snapshot(logits);
  const labelsBefore = snapshot(labels);
  for (const reduction of ['mean', 'sum', 'none'] as Reduction[]) {
    const options = { ...c.options, numClasses: c.numClasses, reduction, grad: true, lse: true };
    const fromChunks = pair.small.crossEntropy(logits, labels, options);
    const fromOneShot = pair.big.crossEntropy(logits, labels, options);
    assertIdentical(fromChunks, fromOneShot, `${c.rows}×${c.numClasses} ${reduction}: 64 KiB arena vs default arena`);
    const ref = referenceCrossEntropy(logits, labels, options);
    assertMatchesReference(fromChunks, ref, {
      reduction,
      numClasses: c.numClasses,
      expectGrad: true,
      expectLse: true,
      perturbation: perturbationForSoftcap(c.rows, c.options.softcap),
    });
    assertUnchanged('logits', logits, logitsBefore);
    assertUnchanged('labels', labels, labelsBefore);
  }
}

interface SoftCase {
  rows: number;
  numClasses: number;
  sigma: number;
  seed: number;
  options: Omit<SoftCrossEntropyOptions, 'numClasses' | 'grad'>;
}

function checkSoftCase(pair: Pair, c: SoftCase): void {
  const random = makeRandom(c.seed);
  const { logits } = makeLogits(random, { rows: c.rows, numClasses: c.numClasses, sigma: c.sigma, negInfRate: 0, viewOffset: 1 });
  const targets = new Float32Array(c.rows * c.numClasses);
  for (let i = 0; i < targets.length; i++) targets[i] = random() < 0.5 ? 0 : random();
  const logitsBefore = snapshot(logits);
  const targetsBefore = snapshot(targets);
  for (const reduction of ['mean', 'sum', 'none'] as Reduction[]) {
    const options = { ...c.options, numClasses: c.numClasses, reduction, grad: true, lse: true };
    const fromChunks = pair.small.softCrossEntropy(logits, targets, options);
    const fromOneShot = pair.big.softCrossEntropy(logits, targets, options);
    assertIdentical(fromChunks, fromOneShot, `soft ${c.rows}×${c.numClasses} ${reduction}: 64 KiB arena vs default arena`);
    const ref = referenceSoftCrossEntropy(logits, targets, options);
    assertMatchesReference(fromChunks, ref, {
      reduction,
      numClasses: c.numClasses,
      expectGrad: true,
      expectLse: true,
      perturbation: perturbationForTemperature(logits, c.rows, c.numClasses, c.options.temperature),
    });
    assertUnchanged('logits', logits, logitsBefore);
    assertUnchanged('targets', targets, targetsBefore);
  }
}

describe.each(pairs)('chunking on $backend (64 KiB arena vs default)', (pair) => {
  it(
    'is bit-identical for 3000 × 100 (1.2 MB of logits, ~20× the arena)',
    () => checkHardCase(pair, { rows: 3000, numClasses: 100, sigma: 3, seed: 1, options: { smoothing: 0.1 } }),
    TIMEOUT,
  );

  it(
    'is bit-identical for 40 001 × 7 (small K, an odd number of rows per chunk)',
    () => checkHardCase(pair, { rows: 40001, numClasses: 7, sigma: 2, seed: 2, options: { smoothing: 0.05 } }),
    TIMEOUT,
  );

  it(
    'is bit-identical for 10 007 × 13 with ε = 0 and −∞ entries',
    () => checkHardCase(pair, { rows: 10007, numClasses: 13, sigma: 10, seed: 3, negInfRate: 0.1, options: {} }),
    TIMEOUT,
  );

  it(
    'is bit-identical for 300 × 1001',
    () => checkHardCase(pair, { rows: 300, numClasses: 1001, sigma: 1, seed: 4, options: { smoothing: 0.2 } }),
    TIMEOUT,
  );

  it(
    'is bit-identical for single rows larger than the arena (3 × 40 000 = 160 KB per row), then a small call is still right',
    () => {
      checkHardCase(pair, { rows: 3, numClasses: 40000, sigma: 5, seed: 5, options: { smoothing: 0.1 } });
      // After the arena grew, every view must have been rebuilt: a small call must still be right.
      checkHardCase(pair, { rows: 5, numClasses: 10, sigma: 1, seed: 6, options: { smoothing: 0.1 } });
      // And big again, then a mid-size chunked batch.
      checkHardCase(pair, { rows: 2, numClasses: 70001, sigma: 1, seed: 7, options: {} });
      checkHardCase(pair, { rows: 2000, numClasses: 50, sigma: 1, seed: 8, options: { smoothing: 0.3 } });
    },
    TIMEOUT,
  );

  it(
    'keeps a given gradient buffer and grad: inplace bit-identical when chunked',
    () => {
      const { logits, labels } = makeHardInputs({ rows: 2500, numClasses: 33, sigma: 2, seed: 9, options: {} });
      const givenSmall = new Float32Array(logits.length);
      const givenBig = new Float32Array(logits.length);
      const options = { numClasses: 33, smoothing: 0.1 };
      const a = pair.small.crossEntropy(logits, labels, { ...options, grad: givenSmall });
      const b = pair.big.crossEntropy(logits, labels, { ...options, grad: givenBig });
      expect(a.grad).toBe(givenSmall);
      expect(b.grad).toBe(givenBig);
      assertIdentical(a, b, 'given grad buffers');
      const inplaceSmall = logits.slice();
      const inplaceBig = logits.slice();
      const c = pair.small.crossEntropy(inplaceSmall, labels, { ...options, grad: 'inplace' });
      const d = pair.big.crossEntropy(inplaceBig, labels, { ...options, grad: 'inplace' });
      expect(c.grad).toBe(inplaceSmall);
      expect(d.grad).toBe(inplaceBig);
      assertIdentical(c, d, 'inplace gradients');
      assertIdentical(a, c, 'given buffer vs inplace');
    },
    TIMEOUT,
  );

  it(
    'is bit-identical with every crossEntropy option (ignoreIndex, weight, zLoss, softcap, gradScale)',
    () => {
      const weight = Float32Array.from({ length: 100 }, (_, k) => (k % 10 === 0 ? 0 : 0.5 + (k % 7) / 4));
      checkHardCase(pair, {
        rows: 3000,
        numClasses: 100,
        sigma: 20,
        seed: 10,
        ignoredRate: 0.1,
        options: { smoothing: 0.1, weight, zLoss: 1e-4, softcap: 30, gradScale: 0.5 },
      });
      checkHardCase(pair, { rows: 2, numClasses: 40000, sigma: 50, seed: 11, options: { smoothing: 0.1, zLoss: 1e-3, softcap: 15, ignoreIndex: 3 } });
    },
    TIMEOUT,
  );

  it(
    'is bit-identical for softCrossEntropy, batch and single rows larger than the arena',
    () => {
      checkSoftCase(pair, { rows: 2000, numClasses: 100, sigma: 2, seed: 12, options: { smoothing: 0.1 } });
      checkSoftCase(pair, { rows: 2, numClasses: 40000, sigma: 2, seed: 13, options: { temperature: 2 } });
      checkSoftCase(pair, { rows: 30, numClasses: 7, sigma: 2, seed: 14, options: {} });
      checkSoftCase(pair, { rows: 5000, numClasses: 9, sigma: 2, seed: 15, options: { weight: Float32Array.from({ length: 9 }, (_, k) => k / 3) } });
      checkSoftCase(pair, { rows: 3001, numClasses: 64, sigma: 30, seed: 16, options: { smoothing: 0.2, temperature: 3, weight: Float32Array.from({ length: 64 }, (_, k) => 1 + (k % 5)) } });
    },
    TIMEOUT,
  );
});
