/**
 * 16-bit logits with the class axis anywhere (src/layout.ts × src/dtype.ts; the strided
 * kernels decode a chunk's bits in place, assembly/strided.ts, and the JS fallback decodes
 * blocks in the same layout, src/js/half.ts). On every backend, for float16 and bfloat16 bits
 * laid out [outer][K][inner]:
 * 1. crossEntropy / softCrossEntropy give, BIT FOR BIT, the float32 call with the same shape
 *    on the decoded values, and the transposed float32 rows call (gradient transposed back);
 *    a 16-bit grad (given, or 'inplace') is that f32 gradient rounded to nearest even; the
 *    float64 reference's bars hold. K = 1, 3, 21, 1000; inner = 1, 3, 4, 5, 16384.
 * 2. f16 subnormals, ±∞, NaN, ±0, values near 65504, bf16 extremes: the decoded call's bits.
 * 3. Async, the pool (threads 2, chunks starting inside an outer, a small arena) and the copy
 *    worker: one thread's bits.
 * 4. The evaluation calls (decoded, then transposed) and bad input: named errors before any
 *    work, inputs unchanged.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { HalfDtype, RowsResult, ScalarResult, Xent } from '../src/index.js';
import { decodeHalf, encodeHalf } from '../src/js/half.js';
import { createAllBackends, createPooledBackends } from './backends.js';
import { assertIdentical, assertMatchesReference, assertUnchanged, fromRows, gaussian, makeRandom, snapshot, toRows, Float16 } from './generators.js';
import { referenceCrossEntropy, referenceSoftCrossEntropy } from './reference.js';

const TIMEOUT = 300_000;
type Result = ScalarResult | RowsResult;
type Loose = Record<string, unknown>;
const FORMATS: HalfDtype[] = ['float16', 'bfloat16'];

const made: Xent[] = [];
afterAll(() => {
  for (const xent of made) xent.dispose();
});
const xents = await createAllBackends();
made.push(...xents);

const decoded = (bits: Uint16Array, format: HalfDtype) => {
  const out = new Float32Array(bits.length);
  decodeHalf(bits, 0, bits.length, format, out, 0);
  return out;
};
const encoded = (values: Float32Array, format: HalfDtype) => {
  const out = new Uint16Array(values.length);
  encodeHalf(values, 0, values.length, format, out, 0);
  return out;
};
const isNaN16 = (h: number, format: HalfDtype) => (format === 'float16' ? (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0 : (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0);

/** The same 16-bit patterns, any NaN matching any NaN (as Object.is does for the f32 results). */
function expectSameBits16(got: Uint16Array, want: Uint16Array, what: string, format: HalfDtype): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i] && !(isNaN16(got[i], format) && isNaN16(want[i], format))) {
      throw new Error(`${what}: grad[${i}] bits ${got[i].toString(16)}, want ${want[i].toString(16)}`);
    }
  }
}

/** A result with its (f32) gradient transposed to rows, to compare with the rows call. */
const asRows = (r: Result, outer: number, K: number, inner: number): Result =>
  ('grad' in r && r.grad instanceof Float32Array ? { ...r, grad: toRows(r.grad, outer, K, inner) } : r) as Result;

const F16_SPECIALS = [0x0001, 0x8001, 0x03ff, 0x0200, 0x7bff, 0xfbff, 0x7bfe, 0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x7c01];
const BF16_SPECIALS = [0x0001, 0x8001, 0x0080, 0x007f, 0x0000, 0x8000, 0x7f7f, 0xff7f, 0x7f80, 0xff80, 0x7fc0];

interface Case { outer: number; K: number; inner: number }

/**
 * A case's data: labels, 16-bit logits as rows (N(0, σ²) rounded to the format, the given
 * patterns sprinkled in, −∞ entries off the labels when asked), and the same bits laid out
 * [outer][K][inner].
 */
function makeCase(seed: number, c: Case, format: HalfDtype, sigma: number, specials: readonly number[], negInfRate = 0) {
  const random = makeRandom(seed);
  const rows = c.outer * c.inner;
  const labels = Int32Array.from({ length: rows }, () => Math.floor(random() * c.K));
  const values = Float32Array.from({ length: rows * c.K }, () => gaussian(random, sigma));
  const rowBits = encoded(values, format);
  for (let i = 0; i < specials.length && rowBits.length > 0; i++) rowBits[Math.floor(random() * rowBits.length)] = specials[i];
  if (negInfRate > 0 && c.K > 1) {
    const negInf = format === 'float16' ? 0xfc00 : 0xff80;
    for (let p = 0; p < rows; p++) for (let k = 0; k < c.K; k++) if (k !== labels[p] && random() < negInfRate) rowBits[p * c.K + k] = negInf;
  }
  const targets = new Float32Array(rows * c.K);
  for (let p = 0; p < rows; p++) {
    let s = 0;
    for (let k = 0; k < c.K; k++) s += targets[p * c.K + k] = random();
    for (let k = 0; k < c.K; k++) targets[p * c.K + k] /= s;
  }
  return { labels, rowBits, bits: fromRows(rowBits, c.outer, c.K, c.inner), rowTargets: targets, targets: fromRows(targets, c.outer, c.K, c.inner), rows };
}

const CLASS_COUNTS = [1, 3, 21, 1000];
const INNERS = [1, 3, 4, 5, 16384];
const outerFor = (K: number, inner: number) => (inner === 16384 ? 1 : K === 1000 ? 2 : 3);
const SIZES: Case[] = CLASS_COUNTS.flatMap((K) => INNERS.filter((inner) => !(inner === 16384 && K === 1000)).map((inner) => ({ K, inner, outer: outerFor(K, inner) })));

/** Option sets: different kernel paths (small K, tiles, softcap, row-wise) and outputs; `grad` 'bits' is a 16-bit buffer. */
const VARIANTS: { name: string; options: (K: number) => Loose; negInfRate?: number }[] = [
  { name: 'ε 0.1, none, f32 grad, lse', options: () => ({ smoothing: 0.1, reduction: 'none', grad: true, lse: true }) },
  { name: 'weights, ignoreIndex, zLoss, mean, 16-bit grad', options: (K) => ({ weight: Float32Array.from({ length: K }, (_, k) => 0.5 + (k % 3)), zLoss: 1e-3, smoothing: 0.05, ignoreIndex: 0, grad: 'bits', lse: true }) },
  { name: 'softcap, sum, inplace', options: () => ({ softcap: 4, reduction: 'sum', grad: 'inplace', smoothing: 0.2, gradScale: 0.5 }) },
  { name: '−∞ entries, ε 0, mean, 16-bit grad', negInfRate: 0.3, options: () => ({ grad: 'bits', lse: true }) },
];

/**
 * One 16-bit strided call and what it must equal: the float32 call with the same shape on the
 * decoded values (bits, with a 16-bit gradient as that call's f32 gradient rounded), and the
 * float32 rows call on the decoded rows. Returns the rows result (for the reference bars).
 */
function checkCall(
  xent: Xent, format: HalfDtype, c: Case, data: ReturnType<typeof makeCase>, options: Loose, soft: boolean, what: string,
): Result {
  const { outer, K, inner } = c;
  const shape = { shape: [outer, K, inner], classAxis: 1 };
  const z = decoded(data.bits, format);
  const zRows = decoded(data.rowBits, format);
  const mode = options.grad;
  const f32Options = { ...options, grad: mode === 'bits' || mode === 'inplace' ? true : mode };
  const call = (logits: Float32Array | Uint16Array, more: Loose, second: 'strided' | 'rows') =>
    (soft
      ? xent.softCrossEntropy(logits as never, second === 'strided' ? data.targets : data.rowTargets, more as never)
      : xent.crossEntropy(logits as never, data.labels, more as never)) as Result;
  const before = snapshot(data.bits);
  const input = mode === 'inplace' ? data.bits.slice() : data.bits;
  const out16 = mode === 'bits' ? new Uint16Array(data.bits.length).fill(0x1234) : null;
  const got = call(input, { ...options, ...shape, dtype: format, ...(out16 ? { grad: out16 } : {}) }, 'strided');
  if (mode !== 'inplace') assertUnchanged('logits', data.bits, before);
  const want = call(z, { ...f32Options, ...shape }, 'strided');
  const rows = call(zRows, { ...f32Options, numClasses: K }, 'rows');
  assertIdentical(asRows(want, outer, K, inner), rows, `${what}: float32 strided vs rows`);
  if (mode === 'bits' || mode === 'inplace') {
    const wantGrad = encoded((want as { grad: Float32Array }).grad, format);
    const gotGrad = mode === 'bits' ? out16 as Uint16Array : input as Uint16Array;
    expect((got as { grad: unknown }).grad).toBe(gotGrad);
    expectSameBits16(gotGrad, wantGrad, what, format);
    const { grad: _g, ...gotRest } = got as unknown as Loose;
    const { grad: _w, ...wantRest } = want as unknown as Loose;
    assertIdentical(gotRest as never, wantRest as never, what);
  } else {
    assertIdentical(got, want, what);
  }
  if (format === 'float16' && Float16 && mode !== 'inplace') {
    const f16 = new Float16(data.bits.buffer, data.bits.byteOffset, data.bits.length);
    const again = call(f16 as never, { ...options, ...shape, ...(mode === 'bits' ? { grad: new Float16(new ArrayBuffer(2 * data.bits.length)) } : {}) }, 'strided');
    const { grad: _a, ...againRest } = again as unknown as Loose;
    const { grad: _b, ...gotRest } = got as unknown as Loose;
    assertIdentical(againRest as never, gotRest as never, `${what} Float16Array`);
  }
  return rows;
}

describe.each(xents.map((x) => [x.backend, x] as const))('16-bit logits with a class axis (%s)', (_, xent) => {
  for (const format of FORMATS) {
    for (const variant of VARIANTS) {
      it(`${format} crossEntropy, ${variant.name}: the decoded float32 call's bits, the transposed call's, the reference bars`, () => {
        let seed = 11;
        for (const c of SIZES) {
          const sigma = c.K === 1000 ? 5 : 3;
          // Specials (subnormals too, whose f32 lse the relative bars do not cover) in the next tests.
          const data = makeCase(seed++, c, format, sigma, [], variant.negInfRate);
          const options = variant.options(c.K);
          const what = `${xent.backend} ${format} K=${c.K} inner=${c.inner} outer=${c.outer}`;
          const rows = checkCall(xent, format, c, data, options, false, what);
          if (options.softcap === undefined && options.grad === true) {
            const reference = referenceCrossEntropy(decoded(data.rowBits, format), data.labels, {
              numClasses: c.K, smoothing: options.smoothing as number | undefined, reduction: options.reduction as never,
            });
            assertMatchesReference(rows as never, reference, { reduction: (options.reduction as never) ?? 'mean', numClasses: c.K, expectGrad: true, expectLse: options.lse === true, what });
          }
        }
      }, TIMEOUT);
    }

    it(`${format} softCrossEntropy (temperature, f32 / 16-bit / inplace grads): the decoded call's bits and the reference bars`, () => {
      let seed = 500;
      for (const c of SIZES) {
        const data = makeCase(seed++, c, format, 3, []);
        const what = `${xent.backend} ${format} soft K=${c.K} inner=${c.inner}`;
        const rows = checkCall(xent, format, c, data, { smoothing: 0.1, temperature: 1.5, grad: true, lse: true }, true, what);
        checkCall(xent, format, c, data, { reduction: 'none', grad: 'bits' }, true, `${what} 16-bit grad`);
        checkCall(xent, format, c, data, { reduction: 'sum', grad: 'inplace', weight: Float32Array.from({ length: c.K }, (_, k) => 1 + (k % 2)) }, true, `${what} inplace`);
        const reference = referenceSoftCrossEntropy(decoded(data.rowBits, format), data.rowTargets, { numClasses: c.K, smoothing: 0.1, temperature: 1.5 });
        assertMatchesReference(rows as never, reference, { reduction: 'mean', numClasses: c.K, expectGrad: true, expectLse: true, what });
      }
    }, TIMEOUT);

    it(`${format} specials (subnormals, ±∞, NaN, ±0, the largest finite values): the decoded call's bits`, () => {
      const specials = format === 'float16' ? F16_SPECIALS : BF16_SPECIALS;
      let seed = 900;
      for (const c of [{ outer: 2, K: 3, inner: 5 }, { outer: 2, K: 21, inner: 7 }, { outer: 1, K: 1000, inner: 9 }, { outer: 3, K: 64, inner: 4 }]) {
        for (const options of [{ smoothing: 0, reduction: 'none', lse: true, grad: true }, { smoothing: 0.1, reduction: 'none', grad: 'bits' }, { softcap: 8, reduction: 'none', grad: true }] as Loose[]) {
          const data = makeCase(seed++, c, format, format === 'float16' ? 4 : 1e30, specials.concat(specials, specials));
          // A position of nothing but the extremes, one of subnormals and zeros (positions 0 and 1).
          for (let k = 0; k < c.K; k++) {
            data.bits[k * c.inner] = format === 'float16' ? [0x7bff, 0xfbff, 0x7bfe][k % 3] : [0x7f7f, 0xff7f, 0x7f7e][k % 3];
            data.bits[k * c.inner + 1] = [0x0001, 0x8001, 0x0000, 0x8000, format === 'float16' ? 0x03ff : 0x007f][k % 5];
          }
          data.rowBits.set(toRows(data.bits, c.outer, c.K, c.inner));
          checkCall(xent, format, c, data, options, false, `${xent.backend} ${format} specials K=${c.K} ${JSON.stringify(options)}`);
          const { softcap: _softcap, ...softOptions } = options;
          checkCall(xent, format, c, data, softOptions, true, `${xent.backend} ${format} soft specials K=${c.K}`);
        }
      }
    }, TIMEOUT);
  }

  it('async forms give the sync bits (16-bit grads too)', async () => {
    for (const format of FORMATS) {
      const c = { outer: 2, K: 21, inner: 150 };
      const data = makeCase(3, c, format, 3, format === 'float16' ? F16_SPECIALS : BF16_SPECIALS);
      const o = { shape: [2, 21, 150], classAxis: 1, smoothing: 0.1, dtype: format, lse: true, reduction: 'none' } as const;
      assertIdentical(await xent.crossEntropyAsync(data.bits, data.labels, { ...o, grad: true }) as Result, xent.crossEntropy(data.bits, data.labels, { ...o, grad: true }) as Result, `${format} async`);
      const a = new Uint16Array(data.bits.length);
      const b = new Uint16Array(data.bits.length);
      await xent.crossEntropyAsync(data.bits, data.labels, { ...o, grad: a });
      xent.crossEntropy(data.bits, data.labels, { ...o, grad: b });
      expectSameBits16(a, b, `${format} async 16-bit grad`, format);
      const soft = { shape: [2, 21, 150], classAxis: -2, dtype: format, grad: true } as const;
      assertIdentical(await xent.softCrossEntropyAsync(data.bits, data.targets, soft) as Result, xent.softCrossEntropy(data.bits, data.targets, soft) as Result, `${format} soft async`);
    }
  });
});

describe('16-bit logits with a class axis on the pool and the copy worker', () => {
  it('threads 2 (chunks starting inside an outer, a 64 KiB arena), sync and async, and the copy worker give one thread\'s bits', async () => {
    const pooled = await createPooledBackends(2);
    made.push(...pooled);
    for (const xent of pooled) {
      const single = xents.find((x) => x.backend === xent.backend) as Xent;
      for (const format of FORMATS) {
        for (const c of [{ outer: 3, K: 21, inner: 301 }, { outer: 2, K: 1000, inner: 23 }, { outer: 1, K: 5, inner: 2 }]) {
          const data = makeCase(c.inner, c, format, 4, format === 'float16' ? F16_SPECIALS : BF16_SPECIALS);
          const o = { shape: [c.outer, c.K, c.inner], classAxis: 1, smoothing: 0.1, dtype: format, lse: true, reduction: 'none' } as const;
          const what = `${xent.backend} threads ${xent.threads} shared ${xent.sharedMemory} ${format} ${c.outer}×${c.K}×${c.inner}`;
          const want = single.crossEntropy(data.bits, data.labels, { ...o, grad: true }) as Result;
          assertIdentical(xent.crossEntropy(data.bits, data.labels, { ...o, grad: true }) as Result, want, what);
          assertIdentical(await xent.crossEntropyAsync(data.bits, data.labels, { ...o, grad: true }) as Result, want, `${what} async`);
          const want16 = new Uint16Array(data.bits.length);
          single.crossEntropy(data.bits, data.labels, { ...o, grad: want16 });
          const sync16 = new Uint16Array(data.bits.length);
          xent.crossEntropy(data.bits, data.labels, { ...o, grad: sync16 });
          expectSameBits16(sync16, want16, `${what} 16-bit grad`, format);
          const inplace = data.bits.slice();
          await xent.crossEntropyAsync(inplace, data.labels, { ...o, grad: 'inplace' });
          expectSameBits16(inplace, want16, `${what} async inplace`, format);
          const soft = { shape: [c.outer, c.K, c.inner], classAxis: 1, dtype: format, temperature: 1.5, grad: true } as const;
          const softWant = single.softCrossEntropy(data.bits, data.targets, soft) as Result;
          assertIdentical(await xent.softCrossEntropyAsync(data.bits, data.targets, soft) as Result, softWant, `${what} soft async`);
          assertIdentical(xent.softCrossEntropy(data.bits, data.targets, soft) as Result, softWant, `${what} soft`);
        }
      }
    }
  }, TIMEOUT);
});

describe.each(xents.map((x) => [x.backend, x] as const))('16-bit logits, the class axis and the evaluation calls; bad input (%s)', (_, xent) => {
  it.each(FORMATS)('%s: class axis last is plain rows; the evaluation calls equal the calls on the decoded values', (format) => {
    const c = { outer: 2, K: 5, inner: 6 };
    const data = makeCase(7, c, format, 2, []);
    const z = decoded(data.bits, format);
    const rowLabels = Int32Array.from({ length: 10 }, (_, i) => i % 6);
    const last = { shape: [2, 5, 6], smoothing: 0.1, grad: true, reduction: 'none' } as const;
    assertIdentical(xent.crossEntropy(data.bits, rowLabels, { ...last, dtype: format }) as Result, xent.crossEntropy(z, rowLabels, last) as Result, `${format} shape, class axis last`);
    const layout = { shape: [2, 5, 6], classAxis: 1 };
    expect(xent.evaluate(data.bits, data.labels, { ...layout, dtype: format })).toStrictEqual(xent.evaluate(z, data.labels, layout));
    expect(xent.rowStats(data.bits, data.labels, { ...layout, dtype: format })).toStrictEqual(xent.rowStats(z, data.labels, layout));
    expect(xent.softmax(data.bits, { ...layout, dtype: format })).toStrictEqual(xent.softmax(z, layout));
  });

  it('bad input is a named TypeError / RangeError before any work, inputs unchanged', async () => {
    const data = makeCase(1, { outer: 2, K: 3, inner: 4 }, 'bfloat16', 1, []);
    const { bits, labels } = data;
    const before = snapshot(bits);
    const grad = new Uint16Array(24).fill(9);
    const gradBefore = snapshot(grad);
    const call = (options: Loose) => () => xent.crossEntropy(bits, labels, { dtype: 'bfloat16', ...options } as never);
    expect(call({ shape: [2, 3, 5], classAxis: 1 })).toThrow(new RangeError('crossEntropy: shape [2, 3, 5] has 30 elements, but logits.length is 24'));
    expect(call({ shape: [2, 3, -4], classAxis: 1 })).toThrow(new RangeError('crossEntropy: shape[2] must be an integer ≥ 0, got -4'));
    expect(call({ shape: [2, 3, 4], classAxis: 3 })).toThrow(/crossEntropy: classAxis must be an integer in \[-3, 2\]/);
    expect(call({ shape: [2, 3, 4], classAxis: 1, numClasses: 4 })).toThrow(new RangeError('crossEntropy: numClasses must equal shape[1] (3) when shape is given, got 4'));
    expect(call({ shape: [2, 3, 4], classAxis: 1, grad: new Uint16Array(23) })).toThrow(new RangeError('crossEntropy: grad must have logits.length (24) elements, got 23'));
    expect(call({ shape: [2, 3, 4], classAxis: 1, grad: bits.subarray(1) })).toThrow(RangeError);
    expect(() => xent.crossEntropy(bits, labels, { shape: [2, 3, 4], classAxis: 1 } as never)).toThrow(/crossEntropy: logits is a Uint16Array\(24\): give the format/);
    expect(() => xent.crossEntropy(bits, labels.subarray(1), { shape: [2, 3, 4], classAxis: 1, dtype: 'float16' })).toThrow(RangeError);
    expect(() => xent.softCrossEntropy(bits, new Float32Array(20), { shape: [2, 3, 4], classAxis: 1, dtype: 'bfloat16' })).toThrow(new RangeError('softCrossEntropy: targets.length must equal logits.length (24), got 20'));
    await expect(xent.crossEntropyAsync(bits, labels, { shape: [2, 3, 4], classAxis: -4, dtype: 'bfloat16' })).rejects.toThrow(/crossEntropyAsync: classAxis must be/);
    if (Float16) {
      const f16 = new Float16(new ArrayBuffer(48)) as unknown as Uint16Array;
      expect(call({ shape: [2, 3, 4], classAxis: 1, grad: f16 })).toThrow(new TypeError('crossEntropy: grad is a Float16Array(24) (float16), but the logits are bfloat16: pass a Uint16Array (written as bfloat16 bits) or a Float32Array'));
    }
    assertUnchanged('logits', bits, before);
    assertUnchanged('grad', grad, gradBefore);
  });
});
