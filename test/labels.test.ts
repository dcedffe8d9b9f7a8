/**
 * The label check and count (LabelCounter, src/backend.ts): the wasm scan
 * (assembly/labels.ts, through the bridge) and the JS loop (src/js/labels.ts) give the same
 * number — the same count, the same f64 bits of a weighted denominator, the same first bad
 * index — as a plain reference, on arrays long enough for the SIMD body, the scalar tail and
 * several passes through a 64 KiB arena. The public API then names the first bad label.
 * The same for the soft targets' check (every target ≥ 0).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { IndexArray, LabelCounter, TargetChecker } from '../src/backend.js';
import { countLabels, firstBadTarget } from '../src/js/labels.js';
import { WasmBackend } from '../src/wasm/bridge.js';
import { compile, type WasmBackendName } from '../src/wasm/load.js';
import { BACKENDS } from '../src/index.js';
import { createAllBackends, mayLack } from './backends.js';

/** The definition, in the plainest words. */
function reference(labels: ArrayLike<number>, K: number, ignoreIndex: number, weight: Float32Array | null): number {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== ignoreIndex && !(labels[i] >= 0 && labels[i] < K)) return -1 - i;
  }
  let counted = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] !== ignoreIndex) counted += weight ? weight[labels[i]] : 1;
  return counted;
}

const counters: { name: string; count: LabelCounter; check: TargetChecker }[] = [{ name: 'js', count: countLabels, check: firstBadTarget }];
for (const name of BACKENDS.filter((b) => b !== 'js') as WasmBackendName[]) {
  try {
    const backend = WasmBackend.fromModule(name, await compile(name), 64 * 1024);
    counters.push({ name: `${name} (64 KiB arena)`, count: backend.countLabels, check: backend.firstBadTarget });
  } catch (error) {
    if (!mayLack(name)) throw error;
  }
}

const TYPES = [Int32Array, Uint8Array, Uint16Array, Uint32Array] as const;

describe.each(counters)('countLabels on $name', ({ count }) => {
  it('equals the reference: count, weighted f64 sum and first bad index (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40000 }),
        fc.integer({ min: 1, max: 250 }),
        fc.constantFrom(0, 1, 2, 3),
        fc.constantFrom<number | 'K'>(-100, 0, 'K', 255),
        fc.boolean(),
        fc.option(fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), value: fc.constantFrom<number | 'K'>(-1, 'K', 1000, -7, 254) })),
        fc.integer(),
        (n, K, type, ignoreSpec, weighted, bad, seed) => {
          const ignoreIndex = ignoreSpec === 'K' ? K : ignoreSpec;
          let state = seed >>> 0;
          const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
          const values: number[] = Array.from({ length: n }, () => (next() % 16 === 0 ? ignoreIndex : next() % K));
          if (bad && n > 0) values[Math.min(n - 1, Math.floor(bad.at * n))] = bad.value === 'K' ? K : bad.value;
          const Type = TYPES[type];
          // Values a type cannot hold (a negative label in a Uint8Array) wrap, as they would for a caller.
          const labels: IndexArray = Type.from(values);
          const weight = weighted ? Float32Array.from({ length: K }, () => (next() % 1000) / 7) : null;
          const expected = reference(labels, K, ignoreIndex, weight);
          expect(Object.is(count(labels, K, ignoreIndex, weight), expected)).toBe(true);
        },
      ),
      { seed: 9090, numRuns: 150 },
    );
  });

  it('finds a bad label in each position of a SIMD vector, the tail, and later passes', () => {
    const n = 40003;
    for (const at of [0, 1, 2, 3, 4, 5, 6, 7, 16383, 16384, 16385, 32767, 40000, 40001, 40002]) {
      const labels = new Int32Array(n).fill(2);
      labels[at] = 3;
      const later = n - 1 - (at % 7);
      if (later > at) labels[later] = -5; // a later bad label must not win
      expect(count(labels, 3, -100, null)).toBe(-1 - at);
    }
  });

  it('reads Uint32 labels ≥ 2³¹ as the large numbers they are, not as negatives', () => {
    const labels = new Uint32Array(1000).fill(1);
    labels[500] = 2 ** 32 - 100; // −100 as an int32
    expect(count(labels, 3, -100, null)).toBe(-1 - 500);
  });

  it('counts an all-ignored array as 0 and an empty one as 0', () => {
    expect(count(new Int32Array(5000).fill(-100), 10, -100, null)).toBe(0);
    expect(count(new Int32Array(5000).fill(-100), 10, -100, new Float32Array(10).fill(2))).toBe(0);
    expect(count(new Int32Array(0), 10, -100, null)).toBe(0);
  });
});

describe.each(counters)('firstBadTarget on $name', ({ check }) => {
  it('finds the first target that is not ≥ 0 (NaN, −∞, a negative tiny) anywhere, across passes', () => {
    const n = 40003; // 64 KiB arena: passes of 16384 floats
    expect(check(new Float32Array(n).fill(0.25))).toBe(-1);
    expect(check(new Float32Array(0))).toBe(-1);
    expect(check(Float32Array.of(0, -0, 1, Infinity, 3e38, 1e-45))).toBe(-1);
    for (const bad of [Number.NaN, -1e-45, -Infinity, -2]) {
      for (const at of [0, 1, 3, 4, 7, 8, 9, 16383, 16384, 16391, 32768, 40000, 40002]) {
        const targets = new Float32Array(n).fill(0.5);
        targets[at] = bad;
        if (at + 5 < n) targets[at + 5] = -1; // a later bad target must not win
        expect(check(targets)).toBe(at);
      }
    }
  });

  it('agrees with the plain loop on random arrays (property)', () => {
    fc.assert(
      fc.property(
        fc.float32Array({ minLength: 0, maxLength: 300 }),
        fc.integer({ min: 0, max: 20000 }),
        (head, padding) => {
          const targets = new Float32Array(padding + head.length);
          targets.fill(0.125, 0, padding);
          targets.set(head, padding);
          let expected = -1;
          for (let i = 0; i < targets.length && expected < 0; i++) if (!(targets[i] >= 0)) expected = i;
          expect(check(targets)).toBe(expected);
        },
      ),
      { seed: 9191, numRuns: 150 },
    );
  });
});

describe('the public API names the first bad target of a long array', async () => {
  const xents = await createAllBackends({ arenaBytes: 64 * 1024 });
  it.each(xents.map((xent) => ({ xent, name: xent.backend })))('$name', ({ xent }) => {
    const rows = 9000;
    const K = 5;
    const logits = Float32Array.from({ length: rows * K }, (_, i) => Math.sin(i));
    const targets = new Float32Array(rows * K).fill(0.2);
    targets[33333] = -0.5;
    targets[44000] = Number.NaN;
    const grad = new Float32Array(rows * K).fill(3.5);
    expect(() => xent.softCrossEntropy(logits, targets, { numClasses: K, grad })).toThrow(RangeError);
    expect(() => xent.softCrossEntropy(logits, targets, { numClasses: K, grad })).toThrow(/targets\[33333\].*got -0\.5$/);
    expect(grad.every((g) => g === 3.5)).toBe(true);
    targets[33333] = 0.2;
    expect(() => xent.softCrossEntropy(logits, targets, { numClasses: K, grad })).toThrow(/targets\[44000\].*got NaN$/);
  });
});

describe('the public API names the first bad label of a long array', async () => {
  const xents = await createAllBackends({ arenaBytes: 64 * 1024 });
  it.each(xents.map((xent) => ({ xent, name: xent.backend })))('$name', ({ xent }) => {
    const rows = 20000;
    const K = 5;
    const logits = Float32Array.from({ length: rows * K }, (_, i) => Math.sin(i));
    const labels = Uint16Array.from({ length: rows }, (_, i) => i % K);
    labels[17001] = 5;
    labels[19000] = 9;
    const grad = new Float32Array(rows * K).fill(3.5);
    const before = logits.slice();
    expect(() => xent.crossEntropy(logits, labels, { numClasses: K, grad })).toThrow(RangeError);
    expect(() => xent.crossEntropy(logits, labels, { numClasses: K, grad })).toThrow(/labels\[17001\].*got 5$/);
    expect(grad.every((g) => g === 3.5)).toBe(true);
    expect(logits).toEqual(before);
    const batch = xent.createBatch(rows, K);
    batch.logits.set(logits);
    batch.labels.set(labels);
    batch.grad.fill(3.5);
    expect(() => batch.crossEntropy({ grad: true })).toThrow(/labels\[17001\].*got 5$/);
    expect(batch.grad.every((g) => g === 3.5)).toBe(true);
    batch.labels[17001] = 1;
    batch.labels[19000] = 1;
    const { loss } = batch.crossEntropy({ smoothing: 0.1 });
    expect(loss).toBeCloseTo(xent.crossEntropy(batch.logits, batch.labels, { numClasses: K, smoothing: 0.1 }).loss, 12);
    batch.dispose();
  });
});
