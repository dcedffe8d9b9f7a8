/**
 * evaluator.add / addAsync with the layouts and dtypes evaluate takes (src/eval.ts rowsOf):
 * on every backend, float32, float16 and bfloat16 logits (a Float16Array too where the
 * runtime has one), laid out N×C×H×W (classAxis 1) or N×T×C (the last axis): one add equals
 * evaluate on the same data, and batches streamed one image at a time (any split along the
 * outer axis) equal it too, bit for bit (result and state); the pool's addAsync as well; bad
 * input throws before anything changes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { HalfDtype, Xent } from '../src/index.js';
import { encodeHalf } from '../src/js/half.js';
import { createAllBackends } from './backends.js';
import { gaussian, makeRandom, snapshot, assertUnchanged, Float16 } from './generators.js';

const TIMEOUT = 300_000;
type Format = 'float32' | HalfDtype;
const FORMATS: Format[] = ['float32', 'float16', 'bfloat16'];

const made: Xent[] = [];
afterAll(() => {
  for (const xent of made) xent.dispose();
});
const xents = await createAllBackends();
made.push(...xents);

interface Case { name: string; shape: number[]; classAxis?: number; sequenceLength?: number }
const CASES: Case[] = [
  { name: 'N×C×H×W, C = 21', shape: [3, 21, 6, 5], classAxis: 1 },
  { name: 'N×C×T, C = 1000, shifted sequences of T', shape: [2, 1000, 7], classAxis: -2, sequenceLength: 7 },
  { name: 'N×T×C (class axis last), C = 3', shape: [4, 9, 3] },
];

/** Logits of a case in a format (float32 values, or 16-bit bits of N(0, 3²) values), labels with some ignored (255). */
function makeCase(seed: number, c: Case, format: Format) {
  const random = makeRandom(seed);
  const n = c.shape.reduce((a, b) => a * b, 1);
  const axis = c.classAxis === undefined ? c.shape.length - 1 : (c.classAxis + c.shape.length) % c.shape.length;
  const K = c.shape[axis];
  const values = Float32Array.from({ length: n }, () => gaussian(random, 3));
  const labels = Int32Array.from({ length: n / K }, () => (random() < 0.1 ? 255 : Math.floor(random() * K)));
  if (format === 'float32') return { logits: values as Float32Array | Uint16Array, labels, K, dtype: {} };
  const bits = new Uint16Array(n);
  encodeHalf(values, 0, n, format, bits, 0);
  return { logits: bits as Float32Array | Uint16Array, labels, K, dtype: { dtype: format } };
}

describe.each(xents.map((x) => [x.backend, x] as const))('evaluator.add with shape, classAxis and dtype (%s)', (_, xent) => {
  for (const format of FORMATS) {
    it(`${format}: one add, and one add per outer index, equal evaluate bit for bit (sync and async)`, async () => {
      let seed = 1;
      for (const c of CASES) {
        const { logits, labels, K, dtype } = makeCase(seed++, c, format);
        const layout = { shape: c.shape, ...(c.classAxis === undefined ? {} : { classAxis: c.classAxis }) };
        const settings = { numClasses: K, smoothing: 0.1, topK: K >= 5 ? [1, 5] : [2], bins: 10, ignoreIndex: 255, ...(c.sequenceLength ? { sequenceLength: c.sequenceLength, shift: true } : {}) };
        const what = `${xent.backend} ${format} ${c.name}`;
        const before = snapshot(logits);
        const want = xent.evaluate(logits as never, labels, { ...settings, ...layout, ...dtype } as never);
        const whole = xent.createEvaluator(settings);
        whole.add(logits as never, labels, { ...layout, ...dtype } as never);
        expect(whole.result(), what).toStrictEqual(want);
        assertUnchanged('logits', logits, before);
        // Streamed one outer index (image, sequence) at a time: positions stay in order.
        const [outer, ...rest] = c.shape;
        const perOuter = logits.length / outer;
        const positions = labels.length / outer;
        const streamed = xent.createEvaluator(settings);
        const streamedAsync = xent.createEvaluator(settings);
        for (let o = 0; o < outer; o++) {
          const piece = logits.subarray(o * perOuter, (o + 1) * perOuter);
          const pieceLabels = labels.subarray(o * positions, (o + 1) * positions);
          const options = { shape: [1, ...rest], ...(c.classAxis === undefined ? {} : { classAxis: c.classAxis }), ...dtype };
          streamed.add(piece as never, pieceLabels, options as never);
          await streamedAsync.addAsync(piece as never, pieceLabels, options as never);
        }
        expect(streamed.result(), `${what} streamed`).toStrictEqual(want);
        expect(streamed.state(), `${what} streamed state`).toStrictEqual(whole.state());
        expect(streamedAsync.result(), `${what} streamed async`).toStrictEqual(want);
        if (format === 'float16' && Float16) {
          const f16 = new Float16(logits.buffer, logits.byteOffset, logits.length);
          const native = xent.createEvaluator(settings);
          native.add(f16 as never, labels, layout);
          expect(native.result(), `${what} Float16Array`).toStrictEqual(want);
        }
      }
    }, TIMEOUT);
  }

  it('bad input is a named error before anything changes', async () => {
    const { logits, labels } = makeCase(9, CASES[0], 'bfloat16');
    const evaluator = xent.createEvaluator({ numClasses: 21, ignoreIndex: 255 });
    const f32 = makeCase(9, CASES[0], 'float32');
    evaluator.add(f32.logits as Float32Array, f32.labels, { shape: [3, 21, 6, 5], classAxis: 1 });
    const state = evaluator.state();
    const before = snapshot(logits);
    const add = (z: unknown, options: unknown) => () => evaluator.add(z as never, labels, options as never);
    expect(add(logits, { shape: [3, 21, 6, 5], classAxis: 1 })).toThrow(/evaluator\.add: logits is a Uint16Array\(1890\): give the format/);
    expect(add(f32.logits, { shape: [3, 21, 6, 5], classAxis: 1, dtype: 'float16' })).toThrow(TypeError);
    expect(add(logits, { shape: [3, 21, 6, 6], classAxis: 1, dtype: 'bfloat16' })).toThrow(new RangeError('evaluator.add: shape [3, 21, 6, 6] has 2268 elements, but logits.length is 1890'));
    expect(add(logits, { shape: [3, 6, 21, 5], classAxis: 1, dtype: 'bfloat16' })).toThrow(new RangeError("evaluator.add: the class axis of shape [3, 6, 21, 5] has 6 classes, but this evaluator's numClasses is 21"));
    expect(add(logits, { shape: [3, 21, 6, 5], classAxis: 4, dtype: 'bfloat16' })).toThrow(/evaluator\.add: classAxis must be an integer in \[-4, 3\]/);
    expect(add(logits, { shape: [3, 21, 6, 5], classAxis: 1, dtype: 'bfloat16', smoothing: 0.1 })).toThrow(new TypeError('evaluator.add: unknown option "smoothing" (known: shape, classAxis, dtype)'));
    expect(add(logits, 'NCHW')).toThrow(TypeError);
    expect(() => evaluator.add(logits as never, labels.subarray(1), { shape: [3, 21, 6, 5], classAxis: 1, dtype: 'bfloat16' })).toThrow(RangeError);
    await expect(evaluator.addAsync(logits, labels, { shape: [3, 21, 6, 5], classAxis: 1, dtype: 'bfloat16', signal: 5 as never })).rejects.toThrow(TypeError);
    await expect(evaluator.addAsync(logits, labels, { shape: [3, 21, 6, 5], classAxis: 1 })).rejects.toThrow(/evaluator\.addAsync: logits is a Uint16Array/);
    await expect(evaluator.addAsync(logits, labels, { shape: [3, 21, 6, 5], numClasses: 21, dtype: 'bfloat16' } as never)).rejects.toThrow(new TypeError('evaluator.addAsync: unknown option "numClasses" (known: shape, classAxis, dtype, signal)'));
    expect(evaluator.state()).toStrictEqual(state);
    assertUnchanged('logits', logits, before);
  });
});

describe('evaluator.addAsync with a class axis on the pool', () => {
  it('threads 2: the same result as evaluate on one thread, streamed or not', async () => {
    const pooled = await createAllBackends({ threads: 2 });
    made.push(...pooled);
    for (const xent of pooled) {
      const single = xents.find((x) => x.backend === xent.backend) as Xent;
      for (const format of FORMATS) {
        const c = { name: 'N×C×H×W', shape: [4, 21, 40, 30], classAxis: 1 };
        const { logits, labels, dtype } = makeCase(77, c, format);
        const settings = { numClasses: 21, ignoreIndex: 255, bins: 15, topK: [3] };
        const want = single.evaluate(logits as never, labels, { ...settings, shape: c.shape, classAxis: 1, ...dtype } as never);
        const evaluator = xent.createEvaluator(settings);
        for (let o = 0; o < 4; o++) {
          await evaluator.addAsync(logits.subarray(o * 25200, (o + 1) * 25200) as never, labels.subarray(o * 1200, (o + 1) * 1200), { shape: [1, 21, 40, 30], classAxis: 1, ...dtype } as never);
        }
        expect(evaluator.result(), `${xent.backend} threads 2 ${format}`).toStrictEqual(want);
      }
    }
  }, TIMEOUT);
});
