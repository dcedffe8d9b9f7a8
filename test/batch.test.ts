/**
 * Zero-copy batches on every backend: results equal crossEntropy on copies BIT FOR BIT,
 * grad: true returns the batch's own gradient view, 'inplace' writes over batch.logits,
 * views stay valid (same length, not detached, same contents) while other calls and
 * batches allocate lots of memory, and after dispose() every call throws (dispose is idempotent).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Batch, BatchOptions, Reduction } from '../src/types.js';
import type { Xent } from '../src/index.js';
import { createAllBackends } from './backends.js';
import {
  assertIdentical,
  assertUnchanged,
  gaussian,
  makeRandom,
  randomLabels,
  reductionArbitrary,
  seedArbitrary,
  sigmaArbitrary,
  smoothingArbitrary,
  snapshot,
} from './generators.js';

const xents = await createAllBackends();
const TIMEOUT = 120_000;

/** Fills a batch with reproducible data; returns copies of what was written. */
function fillBatch(batch: Batch, seed: number, sigma = 3, ignoredRate = 0.1, ignoreIndex = -100): { logits: Float32Array; labels: Int32Array } {
  const random = makeRandom(seed);
  for (let i = 0; i < batch.logits.length; i++) batch.logits[i] = gaussian(random, sigma);
  batch.labels.set(randomLabels(random, batch.rows, batch.numClasses, batch.numClasses, ignoredRate, ignoreIndex));
  return { logits: batch.logits.slice(), labels: batch.labels.slice() };
}

/** Batch call vs crossEntropy on copies, bit for bit; checks the batch's inputs and views. */
function checkBatchCall(xent: Xent, batch: Batch, options: BatchOptions & { reduction?: Reduction }): void {
  const logits = batch.logits.slice();
  const labels = batch.labels.slice();
  const logitsBefore = snapshot(batch.logits);
  const labelsBefore = snapshot(batch.labels);
  const grad = options.grad ?? false;
  const expected = xent.crossEntropy(grad === 'inplace' ? logits.slice() : logits, labels, {
    ...options,
    numClasses: batch.numClasses,
    grad: grad === 'inplace' ? 'inplace' : grad,
  });
  const result = batch.crossEntropy(options);
  assertIdentical(result, expected, 'batch vs crossEntropy on copies');
  if (grad === true) expect(result.grad).toBe(batch.grad);
  if (grad === 'inplace') expect(result.grad).toBe(batch.logits);
  if (grad === false) expect(result.grad).toBeUndefined();
  // (Byte comparisons: toEqual on 300 000-element typed arrays takes seconds.)
  if (grad !== 'inplace') assertUnchanged('batch.logits', batch.logits, logitsBefore);
  assertUnchanged('batch.labels', batch.labels, labelsBefore);
}

describe.each(xents.map((xent) => ({ backend: xent.backend, xent })))('createBatch on $backend', ({ xent }) => {
  it('exposes views of the right types and lengths', () => {
    const batch = xent.createBatch(5, 7);
    expect(batch.rows).toBe(5);
    expect(batch.numClasses).toBe(7);
    expect(batch.logits).toBeInstanceOf(Float32Array);
    expect(batch.logits.length).toBe(35);
    expect(batch.labels).toBeInstanceOf(Int32Array);
    expect(batch.labels.length).toBe(5);
    expect(batch.grad).toBeInstanceOf(Float32Array);
    expect(batch.grad.length).toBe(35);
    batch.dispose();
  });

  it('defaults to reduction mean without a gradient', () => {
    const batch = xent.createBatch(4, 3);
    const { logits, labels } = fillBatch(batch, 1, 2, 0);
    const result = batch.crossEntropy();
    expect(Object.keys(result)).toEqual(['loss', 'count']);
    expect(result.count).toBe(4); // fillBatch(…, 0): no row ignored
    assertIdentical(result, xent.crossEntropy(logits, labels, { numClasses: 3 }));
    batch.dispose();
  });

  it(
    'equals crossEntropy on copies bit for bit (smoothing, reductions, grad true / inplace / false)',
    () => {
      fc.assert(
        fc.property(
          fc.constantFrom(1, 2, 3, 5, 8, 17, 100, 1001, 32003),
          fc.integer({ min: 0, max: 40 }),
          seedArbitrary,
          sigmaArbitrary,
          smoothingArbitrary,
          reductionArbitrary,
          fc.constantFrom<boolean | 'inplace'>(true, false, 'inplace'),
          (numClasses, rowsWanted, seed, sigma, smoothing, reduction, grad) => {
            const rows = Math.min(rowsWanted, Math.floor(300_000 / numClasses));
            const batch = xent.createBatch(rows, numClasses);
            try {
              fillBatch(batch, seed, sigma);
              checkBatchCall(xent, batch, { smoothing, reduction, grad });
              // A second call on the same batch (new data) is right too.
              fillBatch(batch, seed + 1, sigma);
              checkBatchCall(xent, batch, { smoothing, reduction, grad: grad === 'inplace' ? true : grad });
            } finally {
              batch.dispose();
            }
          },
        ),
        { seed: 777, numRuns: 60 },
      );
    },
    TIMEOUT,
  );

  it(
    'equals crossEntropy on copies bit for bit with every option (weight, ignoreIndex, zLoss, softcap, gradScale, lse)',
    () => {
      fc.assert(
        fc.property(
          fc.constantFrom(1, 3, 7, 64, 1001),
          fc.integer({ min: 0, max: 30 }),
          seedArbitrary,
          smoothingArbitrary,
          reductionArbitrary,
          fc.constantFrom<boolean | 'inplace'>(true, false, 'inplace'),
          fc.record({
            weighted: fc.boolean(),
            ignoreIndex: fc.constantFrom(undefined, -100, 0),
            zLoss: fc.constantFrom(undefined, 1e-4),
            softcap: fc.constantFrom(undefined, 15),
            gradScale: fc.constantFrom(undefined, 0.25, -1),
            lse: fc.boolean(),
          }),
          (numClasses, rows, seed, smoothing, reduction, grad, extra) => {
            const batch = xent.createBatch(rows, numClasses);
            try {
              fillBatch(batch, seed, 20, 0.2, extra.ignoreIndex ?? -100);
              const options: BatchOptions & { reduction?: Reduction } = { smoothing, reduction, grad, lse: extra.lse };
              if (extra.weighted) options.weight = Float32Array.from({ length: numClasses }, (_, k) => (k % 4) / 2);
              if (extra.ignoreIndex !== undefined) options.ignoreIndex = extra.ignoreIndex;
              if (extra.zLoss !== undefined) options.zLoss = extra.zLoss;
              if (extra.softcap !== undefined) options.softcap = extra.softcap;
              if (extra.gradScale !== undefined) options.gradScale = extra.gradScale;
              checkBatchCall(xent, batch, options);
            } finally {
              batch.dispose();
            }
          },
        ),
        { seed: 778, numRuns: 60 },
      );
    },
    TIMEOUT,
  );

  it(
    'keeps its views valid while other calls and batches allocate lots of memory',
    () => {
      const batch = xent.createBatch(64, 1000);
      const written = fillBatch(batch, 5);
      const views = { logits: batch.logits, labels: batch.labels, grad: batch.grad };
      checkBatchCall(xent, batch, { smoothing: 0.1, grad: true });
      const gradBefore = batch.grad.slice();

      // A single row far larger than the default 16 MiB arena forces the backend's memory to grow.
      const huge = new Float32Array(5_000_000);
      huge[123] = 5;
      xent.crossEntropy(huge, [123], { numClasses: huge.length, grad: true, smoothing: 0.1 });
      // Other batches come and go.
      for (let round = 0; round < 3; round++) {
        const other = xent.createBatch(2000, 1000);
        other.logits.fill(1);
        other.crossEntropy({ grad: true });
        other.dispose();
      }
      const kept = xent.createBatch(100, 3000);
      kept.logits.fill(-1);

      for (const [name, view] of Object.entries(views)) {
        const current = batch[name as keyof typeof views];
        expect(current, `${name} is the same object`).toBe(view);
        expect(view.byteLength, `${name} is not detached`).toBeGreaterThan(0);
      }
      expect(batch.logits.length).toBe(64 * 1000);
      expect(batch.labels.length).toBe(64);
      expect(batch.grad.length).toBe(64 * 1000);
      assertUnchanged('batch.logits', batch.logits, snapshot(written.logits));
      assertUnchanged('batch.labels', batch.labels, snapshot(written.labels));
      assertUnchanged('batch.grad', batch.grad, snapshot(gradBefore));
      checkBatchCall(xent, batch, { smoothing: 0.1, grad: true, reduction: 'none' });
      kept.dispose();
      batch.dispose();
    },
    TIMEOUT,
  );

  it('batches do not share memory', () => {
    const a = xent.createBatch(3, 4);
    const b = xent.createBatch(3, 4);
    a.logits.fill(1);
    b.logits.fill(2);
    a.labels.fill(1);
    b.labels.fill(3);
    expect(Array.from(a.logits).every((value) => value === 1)).toBe(true);
    expect(Array.from(a.labels).every((value) => value === 1)).toBe(true);
    a.crossEntropy({ grad: true });
    b.crossEntropy({ grad: 'inplace' });
    expect(Array.from(a.logits).every((value) => value === 1)).toBe(true);
    a.dispose();
    b.dispose();
  });

  it('a batch of 0 rows gives loss 0', () => {
    const batch = xent.createBatch(0, 5);
    expect(batch.logits.length).toBe(0);
    const result = batch.crossEntropy({ grad: true, reduction: 'sum' });
    expect(result.loss).toBe(0);
    expect(result.grad!.length).toBe(0);
    batch.dispose();
  });

  it('after dispose() every call throws an Error naming the disposal; dispose() again is a no-op', () => {
    const batch = xent.createBatch(2, 3);
    fillBatch(batch, 6);
    batch.dispose();
    expect(() => batch.crossEntropy()).toThrow(/disposed/);
    expect(() => batch.crossEntropy({ grad: true, reduction: 'none' })).toThrow(/disposed/);
    // Like close() on a stream: releasing twice is harmless, and stays disposed.
    expect(() => batch.dispose()).not.toThrow();
    expect(() => batch.crossEntropy()).toThrow(/disposed/);
  });

  it('disposing one batch leaves the others working', () => {
    const a = xent.createBatch(4, 5);
    const b = xent.createBatch(4, 5);
    fillBatch(a, 7);
    fillBatch(b, 8);
    a.dispose();
    checkBatchCall(xent, b, { grad: true, smoothing: 0.2 });
    const c = xent.createBatch(4, 5);
    fillBatch(c, 9);
    checkBatchCall(xent, c, { grad: 'inplace' });
    checkBatchCall(xent, b, { grad: false, reduction: 'sum' });
    b.dispose();
    c.dispose();
  });

  describe('bad input', () => {
    it('rejects bad shapes: rows −1 / 2.5, numClasses 0 / NaN', () => {
      expect(() => xent.createBatch(-1, 3)).toThrow(RangeError);
      expect(() => xent.createBatch(-1, 3)).toThrow(/rows/);
      expect(() => xent.createBatch(2.5, 3)).toThrow(/rows.*2\.5|2\.5.*rows/);
      expect(() => xent.createBatch(2, 0)).toThrow(RangeError);
      expect(() => xent.createBatch(2, 0)).toThrow(/numClasses/);
      expect(() => xent.createBatch(2, Number.NaN)).toThrow(/NaN/);
      expect(() => xent.createBatch('2' as never, 3)).toThrow(TypeError);
    });

    it('rejects a label out of range before writing anything', () => {
      const batch = xent.createBatch(3, 4);
      fillBatch(batch, 10, 2, 0);
      batch.labels[2] = 4;
      batch.grad.fill(7.25);
      const logits = batch.logits.slice();
      for (const grad of [true, 'inplace'] as const) {
        expect(() => batch.crossEntropy({ grad })).toThrow(RangeError);
        expect(() => batch.crossEntropy({ grad })).toThrow(/labels.*4|4.*labels/);
        expect(batch.logits).toEqual(logits);
        expect(Array.from(batch.grad).every((value) => value === 7.25)).toBe(true);
      }
      batch.dispose();
    });

    it('rejects numClasses and a grad buffer as batch options (TypeError naming them)', () => {
      const batch = xent.createBatch(2, 3);
      fillBatch(batch, 11, 1, 0);
      expect(() => batch.crossEntropy({ numClasses: 3 } as never)).toThrow(TypeError);
      expect(() => batch.crossEntropy({ numClasses: 3 } as never)).toThrow(/numClasses/);
      expect(() => batch.crossEntropy({ grad: new Float32Array(6) } as never)).toThrow(TypeError);
      expect(() => batch.crossEntropy({ grad: new Float32Array(6) } as never)).toThrow(/grad/);
      expect(() => batch.crossEntropy({ smoothing: 2 })).toThrow(RangeError);
      batch.dispose();
    });
  });
});
