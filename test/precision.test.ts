/**
 * Accuracy where float32 is easiest to lose, on every backend against the float64
 * reference, with bars tighter than the property tests' (generators.ts):
 * - long rows with large gradient entries (17×1001, zLoss 0.5, 'sum', ε = 0.05): each
 *   gradient entry within 5 ulp of the row's largest entry;
 * - confident rows, whose loss log S = log(1 + tiny) is 1e-7 … 1e-30: row losses within
 *   1e-6 relative, however small, and lse within 1e-6 of max(|lse|, log S) (relative,
 *   unless m + log S cancels: then log S, the part the kernel computes, sets the scale).
 * Shapes cover the row-wise kernels (K > 64, or fewer than 4 rows) and the small-K ones.
 */
import { describe, expect, it } from 'vitest';
import type { Xent } from '../src/index.js';
import { createAllBackends } from './backends.js';
import { makeLogits, makeRandom, randomLabels } from './generators.js';
import { referenceCrossEntropy, referenceSoftCrossEntropy, type ReferenceResult } from './reference.js';

const xents = await createAllBackends();
const ULP = 2 ** -23;

/** The largest |g − ref| of each row over the row's largest |ref|, in ulps of that entry. */
function worstGradUlps(grad: Float32Array, ref: ReferenceResult, rows: number, K: number): number {
  let worst = 0;
  for (let i = 0; i < rows; i++) {
    let largest = 0;
    for (let k = 0; k < K; k++) largest = Math.max(largest, Math.abs(ref.grad[i * K + k]));
    for (let k = 0; k < K; k++) worst = Math.max(worst, Math.abs(grad[i * K + k] - ref.grad[i * K + k]) / (largest * ULP));
  }
  return worst;
}

describe.each(xents.map((xent) => [xent.backend, xent] as const))('%s', (_, xent: Xent) => {
  it('17×1001, zLoss 0.5, sum, ε = 0.05: every gradient entry within 5 ulp of the row’s largest', () => {
    // The scalar wasm backend's f32 exp sums ran 256 terms before each f64 fold: up to 9.8 ulp here.
    const rows = 17;
    const K = 1001;
    const options = { numClasses: K, zLoss: 0.5, reduction: 'sum', smoothing: 0.05 } as const;
    let worst = 0;
    for (const sigma of [3, 5, 10]) {
      for (let seed = 1; seed <= 12; seed++) {
        const random = makeRandom(seed);
        const labels = randomLabels(random, rows, K, K);
        const { logits } = makeLogits(random, { rows, numClasses: K, sigma, negInfRate: 0, viewOffset: 0 });
        const ref = referenceCrossEntropy(logits, labels, options);
        const result = xent.crossEntropy(logits, Int32Array.from(labels), { ...options, grad: true });
        expect(Math.abs(result.loss - ref.loss)).toBeLessThanOrEqual(1e-6 * Math.abs(ref.loss));
        worst = Math.max(worst, worstGradUlps(result.grad!, ref, rows, K));
      }
    }
    expect(worst).toBeLessThanOrEqual(5);
  });
});

/** Losses the confident rows are built to have (roughly): log S ≈ (K − 1)·e^−d. */
const TINY_LOSSES = [1e-7, 1e-10, 1e-15, 1e-20, 1e-25, 1e-30];
/** Row-wise (K > 64 or < 4 rows) and small-K (≤ 64, ≥ 4 rows) kernels. */
const SHAPES = [
  { rows: 12, numClasses: 2 }, { rows: 12, numClasses: 10 }, { rows: 12, numClasses: 64 },
  { rows: 3, numClasses: 10 }, { rows: 12, numClasses: 65 }, { rows: 6, numClasses: 1000 }, { rows: 2, numClasses: 1001 },
];

/** Centres c, the label's logit (lse ≈ c): 0 makes lse = log S itself tiny; ±30 and 40 make the float32 gaps z_k − c round. */
const CENTRES = [0, 3.5, -2, 40, -30, 12.3];

/**
 * Confident rows: the label's logit is the max, c, and every other logit lies d … d + 3
 * below it, d = log((K − 1)/L) for a target loss L, so the row loss is log(1 + tiny) ≤ L.
 * Row i of call `seed` takes loss (i + seed) mod 6 and centre ⌊(i + seed)/6⌋ mod 6, so 36
 * calls cover every pair. Every seventh row has a second logit equal to the max (S − 1 ≥ 1:
 * the tie must count exactly 1), every eleventh a label 2 below the max (loss ≈ 2).
 */
function confidentRows(rows: number, K: number, seed: number): { logits: Float32Array; labels: number[] } {
  const random = makeRandom(seed + 1000 * K);
  const logits = new Float32Array(rows * K);
  const labels: number[] = [];
  for (let i = 0; i < rows; i++) {
    const target = TINY_LOSSES[(i + seed) % TINY_LOSSES.length];
    const centre = CENTRES[Math.floor((i + seed) / TINY_LOSSES.length) % CENTRES.length];
    const d = Math.log(Math.max(1, K - 1) / target);
    const y = Math.floor(random() * K);
    labels.push(y);
    for (let k = 0; k < K; k++) logits[i * K + k] = k === y ? centre : centre - d - 3 * random();
    if (K > 1 && i % 7 === 6) logits[i * K + ((y + 1) % K)] = centre;
    if (K > 1 && i % 11 === 10) logits[i * K + y] = centre - 2;
  }
  return { logits, labels };
}

/** Runs `check` on the 36 calls that cover every loss and centre. */
function forEveryCall(check: (seed: number) => void): void {
  for (let seed = 0; seed < TINY_LOSSES.length * CENTRES.length; seed++) check(seed);
}

/** null, or the first row whose loss / lse misses its bar. */
function tinyMismatch(losses: Float32Array, lse: Float32Array | undefined, ref: ReferenceResult): string | null {
  for (let i = 0; i < ref.rowLosses.length; i++) {
    const expected = ref.rowLosses[i];
    if (!(Math.abs(losses[i] - expected) <= 1e-6 * expected)) {
      return `losses[${i}] = ${losses[i]}, expected ${expected} (relative error ${(Math.abs(losses[i] - expected) / expected).toExponential(2)})`;
    }
    if (lse && !(Math.abs(lse[i] - ref.lse[i]) <= 1e-6 * Math.max(Math.abs(ref.lse[i]), ref.logS[i]))) {
      return `lse[${i}] = ${lse[i]}, expected ${ref.lse[i]} (log S ${ref.logS[i]})`;
    }
  }
  return null;
}

describe.each(xents.map((xent) => [xent.backend, xent] as const))('%s: confident rows (loss 1e-7 … 1e-30)', (_, xent: Xent) => {
  it.each(SHAPES)('crossEntropy $rows×$numClasses: each row loss and lse within 1e-6 relative', ({ rows, numClasses }) => {
    forEveryCall((seed) => {
      const { logits, labels } = confidentRows(rows, numClasses, seed);
      const ref = referenceCrossEntropy(logits, labels, { numClasses, reduction: 'none' });
      const result = xent.crossEntropy(logits, Int32Array.from(labels), { numClasses, reduction: 'none', lse: true, grad: true });
      expect(tinyMismatch(result.losses, result.lse, ref), `seed ${seed}`).toBeNull();
      const sum = xent.crossEntropy(logits, Int32Array.from(labels), { numClasses, reduction: 'sum' });
      const expected = ref.rowLosses.reduce((a, b) => a + b, 0);
      expect(Math.abs(sum.loss - expected), `seed ${seed}`).toBeLessThanOrEqual(1e-6 * expected);
    });
  });

  it.each(SHAPES)('crossEntropy $rows×$numClasses with class weights: within 1e-6 relative', ({ rows, numClasses }) => {
    const weight = Float32Array.from({ length: numClasses }, (_, k) => 0.5 + (k % 3));
    forEveryCall((seed) => {
      const { logits, labels } = confidentRows(rows, numClasses, seed);
      const ref = referenceCrossEntropy(logits, labels, { numClasses, reduction: 'none', weight });
      const result = xent.crossEntropy(logits, Int32Array.from(labels), { numClasses, reduction: 'none', weight, lse: true });
      expect(tinyMismatch(result.losses, result.lse, ref), `seed ${seed}`).toBeNull();
    });
  });

  it.each(SHAPES)('softCrossEntropy $rows×$numClasses, one-hot targets: within 1e-6 relative', ({ rows, numClasses }) => {
    forEveryCall((seed) => {
      const { logits, labels } = confidentRows(rows, numClasses, seed);
      const targets = new Float32Array(rows * numClasses);
      labels.forEach((y, i) => (targets[i * numClasses + y] = 1));
      const ref = referenceSoftCrossEntropy(logits, targets, { numClasses, reduction: 'none' });
      const result = xent.softCrossEntropy(logits, targets, { numClasses, reduction: 'none', lse: true, grad: true });
      expect(tinyMismatch(result.losses, result.lse, ref), `seed ${seed}`).toBeNull();
    });
  });

  it('a zero-copy batch (12×10 and 6×1000, grad in place): within 1e-6 relative', () => {
    for (const { rows, numClasses } of [{ rows: 12, numClasses: 10 }, { rows: 6, numClasses: 1000 }]) {
      const batch = xent.createBatch(rows, numClasses);
      forEveryCall((seed) => {
        const { logits, labels } = confidentRows(rows, numClasses, seed);
        const ref = referenceCrossEntropy(logits, labels, { numClasses, reduction: 'none' });
        batch.logits.set(logits);
        batch.labels.set(labels);
        const result = batch.crossEntropy({ reduction: 'none', lse: true, grad: 'inplace' });
        expect(tinyMismatch(result.losses, result.lse, ref), `seed ${seed}`).toBeNull();
      });
      batch.dispose();
    }
  });
});
