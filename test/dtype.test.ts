/**
 * 16-bit logits (src/dtype.ts, assembly/half.ts, src/js/half.ts): float16 and bfloat16.
 *
 * 1. Decoding and encoding, exhaustively: all 65536 float16 and all 65536 bfloat16 bit
 *    patterns decoded by every kernel binary and the JS fallback, against a hand-written
 *    float64 decoder (and, where the runtime has them, Math.f16round and Float16Array); every
 *    pattern, every midpoint between neighbours and the floats either side of it encoded,
 *    against a float64 nearest-even reference (and Math.f16round).
 * 2. crossEntropy / softCrossEntropy (sync, async, on the pool and on the copy worker) on
 *    16-bit logits give the float32 call's bits on the decoded values, on every backend, and
 *    meet the float64 reference's bars; f16 subnormals, ±∞, NaN, ±0, values near 65504; bf16
 *    extremes; a 16-bit grad is the f32 gradient rounded to nearest even, 'inplace' too.
 * 3. Bad input: named TypeError / RangeError before any work, inputs unchanged.
 * Node 20 has no Float16Array: the Uint16Array form is tested everywhere, Float16Array where
 * it exists (CI runs Node 20 and Node 24).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createXent, type HalfDtype, type RowsResult, type ScalarResult, type Xent } from '../src/index.js';
import { decodeHalf, encodeHalf } from '../src/js/half.js';
import { compile, instantiateWith } from '../src/wasm/load.js';
import { createAllBackends, createPooledBackends, testsRelaxed } from './backends.js';
import { assertIdentical, assertMatchesReference, assertUnchanged, gaussian, makeRandom, snapshot, Float16 } from './generators.js';
import { referenceCrossEntropy, referenceSoftCrossEntropy } from './reference.js';

type Result = ScalarResult | RowsResult;
const FORMATS: HalfDtype[] = ['float16', 'bfloat16'];
const f16round = (Math as { f16round?: (x: number) => number }).f16round;

const made: Xent[] = [];
afterAll(() => {
  for (const xent of made) xent.dispose();
});
const xents = await createAllBackends();
made.push(...xents);

// ---------------------------------------------------------------------------------------
// float64 references

/** The value of 16-bit bits, computed in float64 from the fields. */
function referenceValue(bits: number, format: HalfDtype): number {
  const [exponentBits, mantissaBits, bias] = format === 'float16' ? [5, 10, 15] : [8, 7, 127];
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> mantissaBits) & ((1 << exponentBits) - 1);
  const mantissa = bits & ((1 << mantissaBits) - 1);
  if (exponent === (1 << exponentBits) - 1) return mantissa ? NaN : sign * Infinity;
  if (exponent === 0) return sign * mantissa * 2 ** (1 - bias - mantissaBits);
  return sign * (1 + mantissa / 2 ** mantissaBits) * 2 ** (exponent - bias);
}

/** The largest finite positive pattern of each format, and the values of 0…that pattern (ascending). */
const MAX_FINITE = { float16: 0x7bff, bfloat16: 0x7f7f };
const POSITIVE = Object.fromEntries(FORMATS.map((f) => [f, Float64Array.from({ length: MAX_FINITE[f] + 1 }, (_, h) => referenceValue(h, f))])) as Record<HalfDtype, Float64Array>;

/** The nearest 16-bit pattern to x, ties to the even pattern, ±∞ past the largest finite value's half ulp. */
function referenceEncode(x: number, format: HalfDtype): number {
  if (Number.isNaN(x)) return -1; // any NaN
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  const values = POSITIVE[format];
  const top = values.length - 1;
  const halfUlp = (values[top] - values[top - 1]) / 2;
  if (a >= values[top] + halfUlp) return sign | (top + 1); // ∞ (top + 1 is its pattern)
  let lo = 0;
  let hi = top;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (values[mid] <= a) lo = mid;
    else hi = mid - 1;
  }
  if (lo === top) return sign | top;
  const below = a - values[lo];
  const above = values[lo + 1] - a;
  const pick = below < above ? lo : above < below ? lo + 1 : lo % 2 === 0 ? lo : lo + 1;
  return sign | pick;
}

const ALL_PATTERNS = Uint16Array.from({ length: 65536 }, (_, h) => h);
const isNaNPattern = (h: number, format: HalfDtype) => Number.isNaN(referenceValue(h, format));

/** f32 inputs for the encoders: every pattern's value, every midpoint and the floats beside it, random floats, specials. */
function encoderInputs(format: HalfDtype): Float32Array {
  const out: number[] = [];
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const beside = (x: number, step: number) => {
    f32[0] = x;
    u32[0] += step;
    return f32[0];
  };
  const values = POSITIVE[format];
  for (let h = 0; h < values.length; h++) {
    const v = values[h];
    const next = h + 1 < values.length ? values[h + 1] : v + (v - values[h - 1]); // the last midpoint: toward 2^16 or 2^128
    const mid = Math.fround((v + next) / 2);
    for (const x of [v, mid, beside(mid, 1), mid > 0 ? beside(mid, -1) : 0]) out.push(x, -x);
  }
  const random = makeRandom(12);
  for (let i = 0; i < 50_000; i++) {
    u32[0] = Math.floor(random() * 2 ** 32);
    out.push(f32[0]);
  }
  out.push(Infinity, -Infinity, NaN, -NaN, 0, -0, 2 ** -149, -(2 ** -149), 3.4028234663852886e38, -3.4028234663852886e38, 65504, 65519.99, 65520, 65536, 2 ** -24, 2 ** -25, 2 ** -26);
  return Float32Array.from(out);
}

// ---------------------------------------------------------------------------------------
// 1. Decoding and encoding

/** decode(bits) and encode(values) of one implementation: a kernel binary or the JS fallback. */
type Codec = { name: string; decode(bits: Uint16Array, format: HalfDtype): Float32Array; encode(values: Float32Array, format: HalfDtype): Uint16Array };
const FORMAT_CODE = { float16: 1, bfloat16: 2 } as const;

async function kernelCodec(name: 'wasm' | 'wasm-simd' | 'wasm-relaxed-simd'): Promise<Codec> {
  const { exports, memory } = await instantiateWith(await compile(name), 64);
  const at = exports.heapBase();
  return {
    name,
    // In place, as the kernels use it: the bits in the upper half of the f32 region.
    decode(bits, format) {
      const n = bits.length;
      new Uint16Array(memory.buffer, at + 2 * n, n).set(bits);
      exports.decodeHalf(at + 2 * n, at, n, FORMAT_CODE[format]);
      return new Float32Array(memory.buffer, at, n).slice();
    },
    encode(values, format) {
      const n = values.length;
      new Float32Array(memory.buffer, at, n).set(values);
      exports.encodeHalf(at, at, n, FORMAT_CODE[format]);
      return new Uint16Array(memory.buffer, at, n).slice();
    },
  };
}

const jsCodec: Codec = {
  name: 'js',
  decode(bits, format) {
    const out = new Float32Array(bits.length);
    decodeHalf(bits, 0, bits.length, format, out, 0);
    return out;
  },
  encode(values, format) {
    const out = new Uint16Array(values.length);
    encodeHalf(values, 0, values.length, format, out, 0);
    return out;
  },
};

const kernelNames = testsRelaxed() ? (['wasm', 'wasm-simd', 'wasm-relaxed-simd'] as const) : (['wasm', 'wasm-simd'] as const);
const codecs: Codec[] = [jsCodec, ...(await Promise.all(kernelNames.map(kernelCodec)))];

describe.each(codecs.map((c) => [c.name, c] as const))('decoding and encoding (%s)', (_, codec) => {
  it.each(FORMATS)('decodes all 65536 %s patterns exactly (NaN payloads kept)', (format) => {
    const got = codec.decode(ALL_PATTERNS, format);
    const gotBits = new Uint32Array(got.buffer);
    const bad: string[] = [];
    for (let h = 0; h < 65536; h++) {
      const want = referenceValue(h, format);
      if (Number.isNaN(want)) {
        const shift = format === 'float16' ? 13 : 16;
        const wantBits = format === 'float16' ? (((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13)) >>> 0 : (h << 16) >>> 0;
        if (gotBits[h] !== wantBits) bad.push(`${h.toString(16)}: NaN bits ${gotBits[h].toString(16)}, want ${wantBits.toString(16)} (payload << ${shift})`);
      } else if (!Object.is(got[h], want)) {
        bad.push(`${h.toString(16)}: ${got[h]}, want ${want}`);
      }
      if (bad.length > 5) break;
    }
    expect(bad).toEqual([]);
    // Independent references where this runtime has them (Node ≥ 24): Float16Array and Math.f16round.
    if (format === 'float16' && Float16) {
      const native = new Float16(ALL_PATTERNS.buffer);
      for (let h = 0; h < 65536; h++) if (!Object.is(native[h], got[h]) && !(Number.isNaN(native[h]) && Number.isNaN(got[h]))) throw new Error(`Float16Array[${h}] ${native[h]} vs ${got[h]}`);
    }
    if (format === 'float16' && f16round) for (let h = 0; h < 65536; h++) if (!Number.isNaN(got[h])) expect(f16round(got[h])).toBe(got[h]);
  });

  it.each(FORMATS)('round-trips all 65536 %s patterns (NaN stays NaN, quieted)', (format) => {
    const back = codec.encode(codec.decode(ALL_PATTERNS, format), format);
    const quiet = format === 'float16' ? 0x200 : 0x40;
    for (let h = 0; h < 65536; h++) {
      const want = isNaNPattern(h, format) ? h | quiet : h;
      if (back[h] !== want) throw new Error(`${format} ${h.toString(16)} came back as ${back[h].toString(16)}`);
    }
  });

  it.each(FORMATS)('encodes to the nearest %s, ties to even, overflow to ±∞, subnormals exact', (format) => {
    const values = encoderInputs(format);
    const got = codec.encode(values, format);
    const bad: string[] = [];
    for (let i = 0; i < values.length; i++) {
      const want = referenceEncode(values[i], format);
      const ok = want < 0 ? isNaNPattern(got[i], format) && (got[i] & 0x8000) === (Object.is(Math.sign(values[i]), -0) ? 0 : got[i] & 0x8000) : got[i] === want;
      if (!ok) bad.push(`${values[i]} → ${got[i].toString(16)}, want ${want.toString(16)}`);
      if (format === 'float16' && f16round && want >= 0 && !Object.is(referenceValue(got[i], format), f16round(values[i]))) bad.push(`${values[i]}: f16round ${f16round(values[i])}`);
      if (bad.length > 5) break;
    }
    expect(bad).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// 2. The calls

/** 16-bit logits: N(0, σ²) values rounded to the format, with the given special patterns sprinkled in. */
function halfLogits(seed: number, length: number, format: HalfDtype, sigma: number, specials: readonly number[] = []): Uint16Array {
  const random = makeRandom(seed);
  const values = Float32Array.from({ length }, () => gaussian(random, sigma));
  const bits = new Uint16Array(length);
  encodeHalf(values, 0, length, format, bits, 0);
  for (let i = 0; i < specials.length && length > 0; i++) bits[Math.floor(random() * length)] = specials[i];
  return bits;
}

const decoded = (bits: Uint16Array, format: HalfDtype) => jsCodec.decode(bits, format);
const labelsFor = (seed: number, rows: number, K: number) => {
  const random = makeRandom(seed + 1);
  return Int32Array.from({ length: rows }, () => Math.floor(random() * K));
};
const targetsFor = (seed: number, rows: number, K: number) => {
  const random = makeRandom(seed + 2);
  const t = Float32Array.from({ length: rows * K }, () => random());
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += t[r * K + k];
    for (let k = 0; k < K; k++) t[r * K + k] /= s;
  }
  return t;
};

/** The float16 view of bits, where the runtime has Float16Array. */
const asFloat16 = (bits: Uint16Array) => (Float16 ? (new Float16(bits.buffer, bits.byteOffset, bits.length) as unknown as Uint16Array) : null);

const F16_SPECIALS = [0x0001, 0x8001, 0x03ff, 0x0200, 0x7bff, 0xfbff, 0x7bfe, 0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x7c01];
const BF16_SPECIALS = [0x7f7f, 0xff7f, 0x0001, 0x8001, 0x0080, 0x007f, 0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc0];

const CASES = [
  { name: 'K = 1', rows: 9, K: 1, sigma: 1 },
  { name: 'K = 3, 2 rows (row-wise)', rows: 2, K: 3, sigma: 2 },
  { name: 'K = 21', rows: 37, K: 21, sigma: 3 },
  { name: 'K = 64 (small-K kernel)', rows: 41, K: 64, sigma: 1 },
  { name: 'K = 1000', rows: 23, K: 1000, sigma: 5 },
  { name: 'K = 1000, large logits', rows: 6, K: 1000, sigma: 2e4 },
] as const;

const OPTION_SETS = [
  { smoothing: 0.1, grad: true },
  { smoothing: 0, reduction: 'none', lse: true, grad: true },
  { smoothing: 0.2, reduction: 'sum', gradScale: 0.5, zLoss: 1e-4, lse: true },
  { smoothing: 0.1, softcap: 30, grad: true, ignoreIndex: 0 },
] as const;

/**
 * The same 16-bit patterns, any NaN matching any NaN (as Object.is does for the f32 results:
 * JS engines do not keep a NaN's sign and payload through arithmetic).
 */
function expectSameBits16(got: Uint16Array, want: Uint16Array, what: string, format: HalfDtype = 'float16'): void {
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i] && !(isNaNPattern(got[i], format) && isNaNPattern(want[i], format))) {
      throw new Error(`${what}: grad[${i}] bits ${got[i].toString(16)}, want ${want[i].toString(16)}`);
    }
  }
}

/** The f32 gradient rounded to 16 bits by the JS encoder (itself checked above). */
const encoded = (grad: Float32Array, format: HalfDtype) => jsCodec.encode(grad, format);

describe.each(xents.map((x) => [x.backend, x] as const))('16-bit logits (%s)', (_, xent) => {
  it.each(FORMATS)('crossEntropy on %s gives the float32 call on the decoded values, bit for bit, and meets the float64 bars', (format) => {
    for (const [c, caseIndex] of CASES.map((c, i) => [c, i] as const)) {
      for (const [o, optionIndex] of OPTION_SETS.map((o, i) => [o, i] as const)) {
        const seed = 100 * caseIndex + optionIndex;
        const bits = halfLogits(seed, c.rows * c.K, format, c.sigma);
        const labels = labelsFor(seed, c.rows, c.K);
        const z = decoded(bits, format);
        const options = { ...o, numClasses: c.K };
        const before = snapshot(bits);
        const got = xent.crossEntropy(bits, labels, { ...options, dtype: format }) as Result;
        assertUnchanged('logits', bits, before);
        const want = xent.crossEntropy(z, labels, options) as Result;
        assertIdentical(got, want, `${format} ${c.name} ${JSON.stringify(o)}`);
        const reduction = 'reduction' in o ? o.reduction : 'mean';
        const ref = referenceCrossEntropy(z, labels, options);
        if (!('softcap' in o)) assertMatchesReference(got, ref, { reduction, numClasses: c.K, expectGrad: 'grad' in o, expectLse: 'lse' in o });
        const f16 = format === 'float16' ? asFloat16(bits) : null;
        if (f16) assertIdentical(xent.crossEntropy(f16, labels, options) as Result, want, `Float16Array ${c.name}`);
      }
    }
  });

  it.each(FORMATS)('softCrossEntropy on %s gives the float32 call on the decoded values, bit for bit', (format) => {
    for (const c of CASES) {
      for (const o of [{ smoothing: 0.1, grad: true }, { temperature: 2, reduction: 'none', lse: true, grad: true }] as const) {
        const bits = halfLogits(c.rows + c.K, c.rows * c.K, format, c.sigma);
        const targets = targetsFor(c.K, c.rows, c.K);
        const z = decoded(bits, format);
        const options = { ...o, numClasses: c.K };
        const want = xent.softCrossEntropy(z, targets, options) as Result;
        assertIdentical(xent.softCrossEntropy(bits, targets, { ...options, dtype: format }) as Result, want, `${format} soft ${c.name}`);
        if (o.reduction === undefined) assertMatchesReference(want, referenceSoftCrossEntropy(z, targets, options), { reduction: 'mean', numClasses: c.K, expectGrad: true, expectLse: false });
      }
    }
  });

  it.each(FORMATS)('special %s values (subnormals, ±∞, NaN, ±0, the largest finite values) give the float32 call\'s bits', (format) => {
    const specials = format === 'float16' ? F16_SPECIALS : BF16_SPECIALS;
    for (const K of [3, 21, 64, 1000]) {
      for (const smoothing of [0, 0.1]) {
        const rows = 16;
        const bits = halfLogits(K, rows * K, format, format === 'float16' ? 4 : 1e30, specials.concat(specials));
        // A row of nothing but the extremes, one of only subnormals and zeros.
        for (let k = 0; k < K; k++) {
          bits[k] = format === 'float16' ? [0x7bff, 0xfbff, 0x7bfe][k % 3] : [0x7f7f, 0xff7f, 0x7f7e][k % 3];
          bits[K + k] = [0x0001, 0x8001, 0x0000, 0x8000, 0x03ff][k % 5];
        }
        const labels = labelsFor(K, rows, K);
        const z = decoded(bits, format);
        const options = { numClasses: K, smoothing, reduction: 'none', lse: true, grad: true } as const;
        assertIdentical(xent.crossEntropy(bits, labels, { ...options, dtype: format }) as Result, xent.crossEntropy(z, labels, options) as Result, `${format} specials K ${K}`);
        const f16 = format === 'float16' ? asFloat16(bits) : null;
        if (f16) assertIdentical(xent.crossEntropy(f16, labels, options) as Result, xent.crossEntropy(z, labels, options) as Result, `Float16Array specials K ${K}`);
      }
    }
  });

  it.each(FORMATS)('a 16-bit grad (%s) is the float32 gradient rounded to nearest even; \'inplace\' writes it over the logits', (format) => {
    for (const c of CASES) {
      const bits = halfLogits(c.K, c.rows * c.K, format, c.sigma);
      const labels = labelsFor(c.K, c.rows, c.K);
      const z = decoded(bits, format);
      const options = { numClasses: c.K, smoothing: 0.1, reduction: 'sum', gradScale: 3 } as const;
      const f32 = xent.crossEntropy(z, labels, { ...options, grad: true });
      const want = encoded(f32.grad, format);
      const grad = new Uint16Array(bits.length).fill(0x1234);
      const got = xent.crossEntropy(bits, labels, { ...options, dtype: format, grad });
      expect(got.grad).toBe(grad);
      expect(got.loss).toBe(f32.loss);
      expectSameBits16(grad, want, `${format} ${c.name}`, format);
      // The true class's term is subtracted in f32 before rounding: its element is the
      // rounded f32 value, which for a confident row is far from round16(p) − round16(1).
      const copy = bits.slice();
      const inplace = xent.crossEntropy(copy, labels, { ...options, dtype: format, grad: 'inplace' });
      expect(inplace.grad).toBe(copy);
      expectSameBits16(copy, want, `${format} inplace ${c.name}`, format);
      const soft = targetsFor(c.K, c.rows, c.K);
      const softWant = encoded(xent.softCrossEntropy(z, soft, { numClasses: c.K, grad: true }).grad, format);
      const softGrad = new Uint16Array(bits.length);
      xent.softCrossEntropy(bits, soft, { numClasses: c.K, dtype: format, grad: softGrad });
      expectSameBits16(softGrad, softWant, `${format} soft ${c.name}`, format);
      if (format === 'float16' && Float16) {
        const f16 = asFloat16(bits.slice()) as unknown as Uint16Array;
        const out = asFloat16(new Uint16Array(bits.length)) as unknown as Uint16Array;
        expect(xent.crossEntropy(f16, labels, { ...options, grad: out }).grad).toBe(out);
        expectSameBits16(new Uint16Array(out.buffer), want, `Float16Array grad ${c.name}`);
        xent.crossEntropy(f16, labels, { ...options, grad: 'inplace' });
        expectSameBits16(new Uint16Array(f16.buffer), want, `Float16Array inplace ${c.name}`);
      }
    }
  });

  it('mean with nothing counted: a zero 16-bit gradient', () => {
    const bits = halfLogits(5, 12, 'bfloat16', 1);
    const grad = new Uint16Array(12).fill(7);
    const r = xent.crossEntropy(bits, [-100, -100, -100], { numClasses: 4, dtype: 'bfloat16', grad });
    expect(r.loss).toBe(0);
    expect(Array.from(grad)).toEqual(new Array(12).fill(0));
  });

  it('async forms give the sync bits', async () => {
    for (const format of FORMATS) {
      const bits = halfLogits(3, 300 * 21, format, 3);
      const labels = labelsFor(3, 300, 21);
      const o = { numClasses: 21, smoothing: 0.1, dtype: format, lse: true } as const;
      assertIdentical(await xent.crossEntropyAsync(bits, labels, { ...o, grad: true }) as Result, xent.crossEntropy(bits, labels, { ...o, grad: true }) as Result, `${format} async`);
      const a = new Uint16Array(bits.length);
      const b = new Uint16Array(bits.length);
      await xent.crossEntropyAsync(bits, labels, { ...o, grad: a });
      xent.crossEntropy(bits, labels, { ...o, grad: b });
      expectSameBits16(a, b, `${format} async 16-bit grad`, format);
      const targets = targetsFor(4, 300, 21);
      assertIdentical(await xent.softCrossEntropyAsync(bits, targets, { numClasses: 21, dtype: format, grad: true }) as Result, xent.softCrossEntropy(bits, targets, { numClasses: 21, dtype: format, grad: true }) as Result, `${format} soft async`);
    }
  });
});

// ---------------------------------------------------------------------------------------
// The evaluation calls: 16-bit logits decoded to float32 first, the same results

describe.each(xents.map((x) => [x.backend, x] as const))('evaluation calls on 16-bit logits (%s)', (_, xent) => {
  it.each(FORMATS)('softmax, rowStats, evaluate, fitTemperature and their async forms on %s equal the calls on the decoded values', async (format) => {
    for (const [rows, K] of [[50, 7], [33, 1000]] as const) {
      const bits = halfLogits(rows * K, rows * K, format, 3, format === 'float16' ? F16_SPECIALS.slice(0, 8) : BF16_SPECIALS.slice(0, 7));
      const labels = labelsFor(K, rows, K);
      const z = decoded(bits, format);
      const before = snapshot(bits);
      const inputs: Uint16Array[] = [bits];
      const f16 = format === 'float16' ? asFloat16(bits) : null;
      if (f16) inputs.push(f16);
      for (const input of inputs) {
        const dtype = input === bits ? { dtype: format } : {};
        expect(xent.softmax(input, { numClasses: K, temperature: 2, ...dtype })).toStrictEqual(xent.softmax(z, { numClasses: K, temperature: 2 }));
        expect(await xent.softmaxAsync(input, { numClasses: K, log: true, ...dtype })).toStrictEqual(xent.softmax(z, { numClasses: K, log: true }));
        expect(xent.rowStats(input, labels, { numClasses: K, ...dtype })).toStrictEqual(xent.rowStats(z, labels, { numClasses: K }));
        expect(await xent.rowStatsAsync(input, null, { numClasses: K, ...dtype })).toStrictEqual(xent.rowStats(z, null, { numClasses: K }));
        const evaluation = { numClasses: K, smoothing: 0.1, bins: 10 };
        expect(xent.evaluate(input, labels, { ...evaluation, ...dtype })).toStrictEqual(xent.evaluate(z, labels, evaluation));
        expect(await xent.evaluateAsync(input, labels, { ...evaluation, ...dtype })).toStrictEqual(xent.evaluate(z, labels, evaluation));
        const finite = z.map((v) => (Number.isFinite(v) ? v : 0));
        const finiteBits = jsCodec.encode(finite, format);
        const finiteInput = input === bits ? finiteBits : (asFloat16(finiteBits) as Uint16Array);
        expect(xent.fitTemperature(finiteInput, labels, { numClasses: K, ...dtype })).toStrictEqual(xent.fitTemperature(finite, labels, { numClasses: K }));
        expect(await xent.fitTemperatureAsync(finiteInput, labels, { numClasses: K, ...dtype })).toStrictEqual(xent.fitTemperature(finite, labels, { numClasses: K }));
      }
      assertUnchanged('logits', bits, before);
      expect(() => xent.softmax(bits, { numClasses: K, dtype: format, out: 'inplace' })).toThrow(new RangeError(`softmax: out: 'inplace' needs float32 logits (these are ${format}): pass out a Float32Array, or none`));
      expect(() => xent.rowStats(bits, labels, { numClasses: K })).toThrow(/rowStats: logits is a Uint16Array\(\d+\): give the format/);
      expect(() => xent.evaluate(z, labels, { numClasses: K, dtype: format })).toThrow(TypeError);
      await expect(xent.fitTemperatureAsync(bits, labels, { numClasses: K, dtype: 'half' as never })).rejects.toThrow(RangeError);
      assertUnchanged('logits', bits, before);
    }
  });
});

// ---------------------------------------------------------------------------------------
// The pool (threads 2, 3: each worker decodes its own chunks) and the copy worker

describe('16-bit logits on the pool and the copy worker', () => {
  it('threads 2 and 3, sync and async, and the copy worker give one thread\'s bits', async () => {
    const pooled = await createPooledBackends(3);
    made.push(...pooled);
    for (const xent of pooled) {
      const single = xents.find((x) => x.backend === xent.backend) as Xent;
      for (const format of FORMATS) {
        for (const [rows, K] of [[403, 21], [37, 1000], [2, 5]] as const) {
          const bits = halfLogits(rows, rows * K, format, 4, format === 'float16' ? F16_SPECIALS : BF16_SPECIALS);
          const labels = labelsFor(rows, rows, K);
          const o = { numClasses: K, smoothing: 0.1, dtype: format, lse: true, reduction: 'none' } as const;
          const what = `${xent.backend} threads ${xent.threads} shared ${xent.sharedMemory} ${format} ${rows}×${K}`;
          const want = single.crossEntropy(bits, labels, { ...o, grad: true }) as Result;
          assertIdentical(xent.crossEntropy(bits, labels, { ...o, grad: true }) as Result, want, what);
          assertIdentical(await xent.crossEntropyAsync(bits, labels, { ...o, grad: true }) as Result, want, `${what} async`);
          const want16 = new Uint16Array(bits.length);
          single.crossEntropy(bits, labels, { ...o, grad: want16 });
          const sync16 = new Uint16Array(bits.length);
          xent.crossEntropy(bits, labels, { ...o, grad: sync16 });
          expectSameBits16(sync16, want16, `${what} 16-bit grad`, format);
          const inplace = bits.slice();
          await xent.crossEntropyAsync(inplace, labels, { ...o, grad: 'inplace' });
          expectSameBits16(inplace, want16, `${what} async inplace`, format);
          const targets = targetsFor(rows, rows, K);
          const soft = { numClasses: K, dtype: format, temperature: 1.5, grad: true } as const;
          assertIdentical(await xent.softCrossEntropyAsync(bits, targets, soft) as Result, single.softCrossEntropy(bits, targets, soft) as Result, `${what} soft async`);
          assertIdentical(xent.softCrossEntropy(bits, targets, soft) as Result, single.softCrossEntropy(bits, targets, soft) as Result, `${what} soft`);
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------------------
// 3. Bad input

describe.each(xents.map((x) => [x.backend, x] as const))('bad 16-bit input (%s)', (_, xent) => {
  it('is a named TypeError / RangeError before any work, inputs unchanged', () => {
    const bits = halfLogits(1, 12, 'bfloat16', 1);
    const before = snapshot(bits);
    const labels = Int32Array.of(0, 1, 2);
    const grad = new Uint16Array(12).fill(9);
    const gradBefore = snapshot(grad);
    const call = (logits: unknown, options: Record<string, unknown>) => () => xent.crossEntropy(logits as Uint16Array, labels, { numClasses: 4, ...options });
    expect(call(bits, {})).toThrow(new TypeError("crossEntropy: logits is a Uint16Array(12): give the format of its 16-bit bits with dtype: 'float16' or 'bfloat16'"));
    expect(call(new Float32Array(12), { dtype: 'float16' })).toThrow(new TypeError("crossEntropy: dtype \"float16\" is for 16-bit logits (a Uint16Array of raw bits or a Float16Array), but logits is a Float32Array(12): leave dtype out for float32 logits"));
    expect(call(bits, { dtype: 'float8' })).toThrow(new RangeError("crossEntropy: dtype must be 'float16' or 'bfloat16' (the format of 16-bit logits), got \"float8\""));
    expect(call(bits, { dtype: 16 })).toThrow(TypeError);
    expect(call(bits, { dtype: 'bfloat16', grad: new Uint16Array(11) })).toThrow(new RangeError('crossEntropy: grad must have logits.length (12) elements, got 11'));
    expect(call(bits, { dtype: 'bfloat16', grad: new Float32Array(13) })).toThrow(new RangeError('crossEntropy: grad must have logits.length (12) elements, got 13'));
    expect(call(bits, { dtype: 'bfloat16', grad: new Float64Array(12) })).toThrow(TypeError);
    expect(call(bits, { dtype: 'bfloat16', grad: bits.subarray(1, 13 - 0) })).toThrow(RangeError);
    expect(call(new Float32Array(12), { grad })).toThrow(TypeError);
    expect(call(bits.subarray(0, 10), { dtype: 'float16' })).toThrow(new RangeError('crossEntropy: logits.length must be a multiple of numClasses (4), got 10'));
    expect(call(new Int16Array(12), { dtype: 'float16' })).toThrow(TypeError);
    expect(() => xent.softCrossEntropy(bits, new Float32Array(8), { numClasses: 4, dtype: 'bfloat16' })).toThrow(new RangeError('softCrossEntropy: targets.length must equal logits.length (12), got 8'));
    expect(() => xent.softCrossEntropy(bits, new Float32Array(grad.buffer, 0, 6) as never, { numClasses: 2, dtype: 'bfloat16', grad: new Float32Array(12) })).toThrow(RangeError);
    if (Float16) {
      const f16 = asFloat16(bits.slice()) as unknown as Uint16Array;
      const f16Before = snapshot(f16);
      expect(call(f16, { dtype: 'bfloat16' })).toThrow(new RangeError("crossEntropy: dtype 'bfloat16' contradicts logits, a Float16Array(12) (float16): pass bfloat16 bits as a Uint16Array, or leave dtype out"));
      expect(call(bits, { dtype: 'bfloat16', grad: asFloat16(new Uint16Array(12)) })).toThrow(new TypeError('crossEntropy: grad is a Float16Array(12) (float16), but the logits are bfloat16: pass a Uint16Array (written as bfloat16 bits) or a Float32Array'));
      expect(call(new Float32Array(12), { grad: asFloat16(new Uint16Array(12)) })).toThrow(TypeError);
      assertUnchanged('Float16Array logits', f16, f16Before);
    }
    expect(call(new Uint8Array(12), {})).toThrow(new TypeError('crossEntropy: logits must be a Float32Array, got Uint8Array(12)'));
    assertUnchanged('logits', bits, before);
    assertUnchanged('grad', grad, gradBefore);
  });
});

it('createXent still works without a Float16Array in the runtime (the type is only detected)', async () => {
  const xent = await createXent({ backend: 'js' });
  made.push(xent);
  expect(xent.crossEntropy(Uint16Array.of(0x3c00, 0), [0], { numClasses: 2, dtype: 'float16' }).loss).toBeCloseTo(Math.log(1 + Math.exp(-1)), 6);
});

// 16-bit logits with the class axis anywhere: test/layout-half.test.ts.
