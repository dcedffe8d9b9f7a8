/**
 * Bad input throws before any work: TypeError for a wrong type or a missing required
 * value, RangeError for a right-typed value out of range, with a message that names the
 * argument and the bad value. After every failing call the inputs are byte-identical and
 * a given gradient buffer (or the logits under grad: 'inplace') is untouched.
 */
import { describe, expect, it } from 'vitest';
import { createXent, type Xent } from '../src/index.js';
import { createAllBackends } from './backends.js';
import { assertUnchanged, snapshot } from './generators.js';

const xents = await createAllBackends();

type ErrorClass = typeof TypeError | typeof RangeError;

/** Arrays that must not change, and the call that must throw. */
interface Attempt {
  inputs: Record<string, ArrayBufferView | readonly number[]>;
  run: (xent: Xent) => unknown;
}

interface BadCase {
  name: string;
  error: ErrorClass;
  /** Every pattern must match the message: the argument's name and the bad value. */
  message: RegExp[];
  make: () => Attempt;
}

const N = 4;
const K = 3;

function goodLogits(): Float32Array {
  return Float32Array.from({ length: N * K }, (_, i) => Math.sin(i + 1) * 3);
}
function goodLabels(): Int32Array {
  return new Int32Array([0, 1, 2, 1]);
}
function goodTargets(): Float32Array {
  return Float32Array.from({ length: N * K }, (_, i) => [0.2, 0.3, 0.5][i % 3]);
}
/** A gradient buffer filled with a sentinel, to detect any write. */
function sentinelGrad(length = N * K): Float32Array {
  return new Float32Array(length).fill(7.25);
}

/** The arrays among `values` (typed arrays and plain arrays): these must not change. */
function watched(values: Record<string, unknown>): Attempt['inputs'] {
  const inputs: Attempt['inputs'] = {};
  for (const [name, value] of Object.entries(values)) {
    if (ArrayBuffer.isView(value) || Array.isArray(value)) inputs[name] = value as ArrayBufferView | readonly number[];
  }
  return inputs;
}

/** crossEntropy with the standard inputs, options (and inputs) overridden. */
function hard(options: Record<string, unknown>, overrides: { logits?: unknown; labels?: unknown } = {}): () => Attempt {
  return () => {
    const logits = ('logits' in overrides ? overrides.logits : goodLogits()) as Float32Array;
    const labels = ('labels' in overrides ? overrides.labels : goodLabels()) as Int32Array;
    const inputs = watched({ logits, labels, grad: options.grad, weight: options.weight });
    return {
      inputs,
      run: (xent) => xent.crossEntropy(logits, labels, { numClasses: K, ...options } as never),
    };
  };
}

/** softCrossEntropy with the standard inputs, options (and inputs) overridden. */
function soft(options: Record<string, unknown>, overrides: { logits?: unknown; targets?: unknown } = {}): () => Attempt {
  return () => {
    const logits = ('logits' in overrides ? overrides.logits : goodLogits()) as Float32Array;
    const targets = ('targets' in overrides ? overrides.targets : goodTargets()) as Float32Array;
    const inputs = watched({ logits, targets, grad: options.grad, weight: options.weight });
    return {
      inputs,
      run: (xent) => xent.softCrossEntropy(logits, targets, { numClasses: K, ...options } as never),
    };
  };
}

const withoutNumClasses = (softTargets: boolean): (() => Attempt) => () => {
  const logits = goodLogits();
  const second = softTargets ? goodTargets() : goodLabels();
  return {
    inputs: { logits, second },
    run: (xent) =>
      softTargets
        ? xent.softCrossEntropy(logits, second as Float32Array, { smoothing: 0.1 } as never)
        : xent.crossEntropy(logits, second as Int32Array, { smoothing: 0.1 } as never),
  };
};

const CROSS_ENTROPY_CASES: BadCase[] = [
  // logits
  { name: 'Float64Array logits', error: TypeError, message: [/logits/, /Float64Array/], make: hard({}, { logits: new Float64Array(N * K) }) },
  { name: 'number[] logits', error: TypeError, message: [/logits/, /array/i], make: hard({}, { logits: Array.from(goodLogits()) }) },
  { name: 'missing logits', error: TypeError, message: [/logits/], make: hard({}, { logits: undefined }) },
  { name: 'logits length 11 not a multiple of K = 3', error: RangeError, message: [/logits/, /11/], make: hard({ numClasses: 3 }, { logits: new Float32Array(11) }) },
  { name: 'labels length 5 for 4 rows of logits', error: RangeError, message: [/labels/, /5/], make: hard({}, { labels: new Int32Array([0, 1, 2, 1, 0]) }) },
  // labels
  { name: 'Float32Array labels', error: TypeError, message: [/labels/, /Float32Array/], make: hard({}, { labels: new Float32Array([0, 1, 2, 1]) }) },
  { name: 'Float64Array labels', error: TypeError, message: [/labels/, /Float64Array/], make: hard({}, { labels: new Float64Array([0, 1, 2, 1]) }) },
  { name: 'missing labels', error: TypeError, message: [/labels/], make: hard({}, { labels: undefined }) },
  // one-hot or probability targets given to crossEntropy: the message names softCrossEntropy
  { name: 'Float32Array targets of N·K (one-hot) as labels', error: TypeError, message: [/labels/, /Float32Array\(12\)/, /4 rows × 3 classes/, /softCrossEntropy/], make: hard({}, { labels: Float32Array.from({ length: N * K }, (_, i) => Number(i % K === 0)) }) },
  { name: 'number[] targets of N·K (probabilities) as labels', error: RangeError, message: [/labels\.length/, /12/, /4 rows × 3 classes/, /softCrossEntropy/], make: hard({}, { labels: Array.from({ length: N * K }, (_, i) => [0.2, 0.3, 0.5][i % 3]) }) },
  { name: 'Int32Array one-hot of N·K as labels', error: RangeError, message: [/labels\.length/, /12/, /softCrossEntropy/], make: hard({}, { labels: Int32Array.from({ length: N * K }, (_, i) => Number(i % K === 1)) }) },
  { name: 'label 1.5 in number[]', error: RangeError, message: [/labels/, /1\.5/], make: hard({}, { labels: [0, 1.5, 2, 1] }) },
  { name: 'label NaN in number[]', error: RangeError, message: [/labels/, /NaN/], make: hard({}, { labels: [0, 1, Number.NaN, 1] }) },
  { name: "label '1' (a string) in the array", error: TypeError, message: [/labels/, /1/], make: hard({}, { labels: [0, '1', 2, 1] }) },
  { name: 'label 7 ≥ K in Int32Array', error: RangeError, message: [/labels/, /7/], make: hard({}, { labels: new Int32Array([0, 1, 2, 7]) }) },
  { name: 'label 9 ≥ K in number[]', error: RangeError, message: [/labels/, /9/], make: hard({}, { labels: [0, 9, 2, 1] }) },
  { name: 'negative label −1 (ignoreIndex is −100)', error: RangeError, message: [/labels/, /-1/], make: hard({}, { labels: new Int32Array([0, -1, 2, 1]) }) },
  { name: 'label −100 when ignoreIndex is 5', error: RangeError, message: [/labels/, /-100/], make: hard({ ignoreIndex: 5 }, { labels: new Int32Array([0, -100, 2, 1]) }) },
  { name: 'label 200 ≥ K in Uint8Array', error: RangeError, message: [/labels/, /200/], make: hard({}, { labels: new Uint8Array([0, 200, 2, 1]) }) },
  { name: 'label 4000000000 in Uint32Array', error: RangeError, message: [/labels/, /4000000000/], make: hard({}, { labels: new Uint32Array([0, 4e9, 2, 1]) }) },
  { name: 'BigInt label 5n ≥ K', error: RangeError, message: [/labels/, /5/], make: hard({}, { labels: new BigInt64Array([0n, 1n, 2n, 5n]) }) },
  { name: 'BigInt label 2^40', error: RangeError, message: [/labels/, /1099511627776/], make: hard({}, { labels: new BigInt64Array([0n, 2n ** 40n, 2n, 1n]) }) },
  { name: 'BigInt label −3n', error: RangeError, message: [/labels/, /-3/], make: hard({}, { labels: new BigInt64Array([0n, -3n, 2n, 1n]) }) },
  // numClasses
  { name: 'numClasses 0', error: RangeError, message: [/numClasses/, /0/], make: hard({ numClasses: 0 }) },
  { name: 'numClasses 2.5', error: RangeError, message: [/numClasses/, /2\.5/], make: hard({ numClasses: 2.5 }) },
  { name: 'numClasses NaN', error: RangeError, message: [/numClasses/, /NaN/], make: hard({ numClasses: Number.NaN }) },
  { name: 'numClasses −3', error: RangeError, message: [/numClasses/, /-3/], make: hard({ numClasses: -3 }) },
  { name: 'numClasses Infinity', error: RangeError, message: [/numClasses/, /Infinity/], make: hard({ numClasses: Infinity }) },
  { name: "numClasses '4' (a string)", error: TypeError, message: [/numClasses/, /4/], make: hard({ numClasses: '4' }) },
  { name: 'numClasses missing', error: TypeError, message: [/numClasses/], make: withoutNumClasses(false) },
  // smoothing
  { name: 'smoothing NaN', error: RangeError, message: [/smoothing/, /NaN/], make: hard({ smoothing: Number.NaN }) },
  { name: 'smoothing −0.1', error: RangeError, message: [/smoothing/, /-0\.1/], make: hard({ smoothing: -0.1 }) },
  { name: 'smoothing 1.1', error: RangeError, message: [/smoothing/, /1\.1/], make: hard({ smoothing: 1.1 }) },
  { name: "smoothing '0.1' (a string)", error: TypeError, message: [/smoothing/, /0\.1/], make: hard({ smoothing: '0.1' }) },
  // reduction and unknown names
  { name: "reduction 'avg'", error: RangeError, message: [/reduction/, /avg/], make: hard({ reduction: 'avg' }) },
  { name: 'reduction 1 (a number)', error: TypeError, message: [/reduction/, /1/], make: hard({ reduction: 1 }) },
  { name: 'unknown option smoothng', error: TypeError, message: [/smoothng/], make: hard({ smoothng: 0.1 }) },
  { name: 'temperature (an option of softCrossEntropy only)', error: TypeError, message: [/temperature/], make: hard({ temperature: 2 }) },
  { name: 'options missing', error: TypeError, message: [/options|numClasses/], make: () => {
    const logits = goodLogits();
    const labels = goodLabels();
    return { inputs: { logits, labels }, run: (xent) => xent.crossEntropy(logits, labels, undefined as never) };
  } },
  { name: 'options null', error: TypeError, message: [/options|numClasses/], make: () => {
    const logits = goodLogits();
    const labels = goodLabels();
    return { inputs: { logits, labels }, run: (xent) => xent.crossEntropy(logits, labels, null as never) };
  } },
  // grad
  { name: 'grad Float32Array of length 5', error: RangeError, message: [/grad/, /5/], make: hard({ grad: sentinelGrad(5) }) },
  { name: 'grad Float32Array of length 13', error: RangeError, message: [/grad/, /13/], make: hard({ grad: sentinelGrad(13) }) },
  { name: 'grad Float64Array', error: TypeError, message: [/grad/, /Float64Array/], make: hard({ grad: new Float64Array(N * K) }) },
  { name: "grad 'yes'", error: TypeError, message: [/grad/, /yes/], make: hard({ grad: 'yes' }) },
  // gradScale
  { name: 'gradScale NaN', error: RangeError, message: [/gradScale/, /NaN/], make: hard({ gradScale: Number.NaN, grad: sentinelGrad() }) },
  { name: 'gradScale Infinity', error: RangeError, message: [/gradScale/, /Infinity/], make: hard({ gradScale: Infinity }) },
  { name: "gradScale '2' (a string)", error: TypeError, message: [/gradScale/, /2/], make: hard({ gradScale: '2' }) },
  // weight
  { name: 'weight of length 2 for K = 3', error: RangeError, message: [/weight/, /2/], make: hard({ weight: new Float32Array([1, 1]) }) },
  { name: 'weight with a negative entry', error: RangeError, message: [/weight/, /-1/], make: hard({ weight: new Float32Array([1, -1, 1]), grad: sentinelGrad() }) },
  { name: 'weight with NaN', error: RangeError, message: [/weight/, /NaN/], make: hard({ weight: new Float32Array([1, Number.NaN, 1]) }) },
  { name: 'weight with Infinity', error: RangeError, message: [/weight/, /Infinity/], make: hard({ weight: new Float32Array([1, Infinity, 1]) }) },
  { name: 'weight as number[]', error: TypeError, message: [/weight/, /array/i], make: hard({ weight: [1, 1, 1] }) },
  { name: 'weight as Float64Array', error: TypeError, message: [/weight/, /Float64Array/], make: hard({ weight: new Float64Array([1, 1, 1]) }) },
  // ignoreIndex, softcap, zLoss, lse
  { name: 'ignoreIndex 1.5', error: RangeError, message: [/ignoreIndex/, /1\.5/], make: hard({ ignoreIndex: 1.5 }) },
  { name: "ignoreIndex '-100' (a string)", error: TypeError, message: [/ignoreIndex/, /-100/], make: hard({ ignoreIndex: '-100' }) },
  { name: 'softcap 0', error: RangeError, message: [/softcap/, /0/], make: hard({ softcap: 0 }) },
  { name: 'softcap −1', error: RangeError, message: [/softcap/, /-1/], make: hard({ softcap: -1 }) },
  { name: 'softcap NaN', error: RangeError, message: [/softcap/, /NaN/], make: hard({ softcap: Number.NaN }) },
  { name: 'zLoss −1', error: RangeError, message: [/zLoss/, /-1/], make: hard({ zLoss: -1 }) },
  { name: 'zLoss NaN', error: RangeError, message: [/zLoss/, /NaN/], make: hard({ zLoss: Number.NaN }) },
  { name: "lse 'yes'", error: TypeError, message: [/lse/, /yes/], make: hard({ lse: 'yes' }) },
  // validation happens before any work: nothing is written when the LAST label is bad
  { name: "a bad last label with grad 'inplace'", error: RangeError, message: [/labels/, /8/], make: hard({ grad: 'inplace' }, { labels: new Int32Array([0, 1, 2, 8]) }) },
  { name: 'a bad last label with a given grad buffer', error: RangeError, message: [/labels/, /8/], make: hard({ grad: sentinelGrad(), reduction: 'none' }, { labels: [0, 1, 2, 8] }) },
  { name: "a negative weight with grad 'inplace' and reduction sum", error: RangeError, message: [/weight/, /-2/], make: hard({ grad: 'inplace', reduction: 'sum', weight: new Float32Array([1, 1, -2]) }) },
];

const SOFT_CASES: BadCase[] = [
  { name: 'Float64Array logits', error: TypeError, message: [/logits/, /Float64Array/], make: soft({}, { logits: new Float64Array(N * K) }) },
  { name: 'targets of length 11', error: RangeError, message: [/targets/, /11/], make: soft({}, { targets: new Float32Array(11) }) },
  { name: 'targets of length 15 (whole rows, but more than the logits)', error: RangeError, message: [/targets/, /15/], make: soft({}, { targets: new Float32Array(15) }) },
  { name: 'targets as Float64Array', error: TypeError, message: [/targets/, /Float64Array/], make: soft({}, { targets: new Float64Array(N * K) }) },
  { name: 'targets as number[]', error: TypeError, message: [/targets/, /array/i], make: soft({}, { targets: Array.from(goodTargets()) }) },
  { name: 'missing targets', error: TypeError, message: [/targets/], make: soft({}, { targets: undefined }) },
  { name: 'a negative target', error: RangeError, message: [/targets/, /-0\.5/], make: soft({ grad: sentinelGrad() }, { targets: new Float32Array([0.2, 0.3, 0.5, 1, 0, 0, 0.5, 0.5, 0, 1.5, -0.5, 0]) }) },
  { name: 'a NaN target', error: RangeError, message: [/targets/, /NaN/], make: soft({ grad: 'inplace' }, { targets: new Float32Array([0.2, 0.3, 0.5, 1, 0, 0, 0.5, 0.5, 0, 1, 0, Number.NaN]) }) },
  { name: 'temperature 0', error: RangeError, message: [/temperature/, /0/], make: soft({ temperature: 0 }) },
  { name: 'temperature −1', error: RangeError, message: [/temperature/, /-1/], make: soft({ temperature: -1 }) },
  { name: 'temperature NaN', error: RangeError, message: [/temperature/, /NaN/], make: soft({ temperature: Number.NaN }) },
  { name: 'numClasses 0', error: RangeError, message: [/numClasses/, /0/], make: soft({ numClasses: 0 }) },
  { name: 'numClasses missing', error: TypeError, message: [/numClasses/], make: withoutNumClasses(true) },
  { name: 'smoothing 1.1', error: RangeError, message: [/smoothing/, /1\.1/], make: soft({ smoothing: 1.1 }) },
  { name: "reduction 'avg'", error: RangeError, message: [/reduction/, /avg/], make: soft({ reduction: 'avg' }) },
  { name: 'grad Float32Array of length 5', error: RangeError, message: [/grad/, /5/], make: soft({ grad: sentinelGrad(5) }) },
  { name: 'weight with a negative entry', error: RangeError, message: [/weight/, /-1/], make: soft({ weight: new Float32Array([1, -1, 1]) }) },
  { name: 'gradScale NaN', error: RangeError, message: [/gradScale/, /NaN/], make: soft({ gradScale: Number.NaN }) },
  { name: 'unknown option smoothng', error: TypeError, message: [/smoothng/], make: soft({ smoothng: 0.1 }) },
  { name: 'ignoreIndex (an option of crossEntropy only)', error: TypeError, message: [/ignoreIndex/], make: soft({ ignoreIndex: -100 }) },
];

function expectFailure(xent: Xent, bad: BadCase): void {
  const attempt = bad.make();
  const before = Object.fromEntries(Object.entries(attempt.inputs).map(([name, value]) => [name, snapshot(value)]));
  let error: unknown;
  try {
    attempt.run(xent);
  } catch (caught) {
    error = caught;
  }
  expect(error, 'the call must throw').toBeInstanceOf(bad.error);
  // A RangeError is not a TypeError and vice versa, but guard against subclasses anyway.
  expect((error as Error).name).toBe(bad.error.name);
  for (const pattern of bad.message) expect((error as Error).message).toMatch(pattern);
  for (const [name, value] of Object.entries(attempt.inputs)) assertUnchanged(name, value, before[name]);
}

describe.each(xents.map((xent) => ({ backend: xent.backend, xent })))('bad input on $backend', ({ xent }) => {
  describe('crossEntropy', () => {
    it.each(CROSS_ENTROPY_CASES.map((bad) => ({ ...bad, label: `${bad.name} → ${bad.error.name}` })))('$label', (bad) => {
      expectFailure(xent, bad);
    });
  });

  describe('softCrossEntropy', () => {
    it.each(SOFT_CASES.map((bad) => ({ ...bad, label: `${bad.name} → ${bad.error.name}` })))('$label', (bad) => {
      expectFailure(xent, bad);
    });
  });

  describe('accepted edge values (no error)', () => {
    it("grad 'inplace' returns the logits array itself", () => {
      const logits = goodLogits();
      const result = xent.crossEntropy(logits, goodLabels(), { numClasses: K, grad: 'inplace' });
      expect(result.grad).toBe(logits);
    });

    it('smoothing 0 and 1, gradScale 0 and negative, zLoss 0, weight of zeros, ignoreIndex inside [0, K)', () => {
      const labels = goodLabels();
      const run = (options: Record<string, unknown>): void => {
        expect(() => xent.crossEntropy(goodLogits(), labels, { numClasses: K, ...options })).not.toThrow();
      };
      run({ smoothing: 0 });
      run({ smoothing: 1 });
      run({ gradScale: 0, grad: true });
      run({ gradScale: -3, grad: true });
      run({ zLoss: 0 });
      run({ weight: new Float32Array(K) });
      run({ ignoreIndex: 1 });
      run({ ignoreIndex: 1e6 });
    });

    it('labels equal to a custom ignoreIndex outside [0, K) are accepted', () => {
      const result = xent.crossEntropy(goodLogits(), new Uint8Array([0, 255, 2, 255]), { numClasses: K, ignoreIndex: 255, reduction: 'none' });
      expect(result.losses[1]).toBe(0);
      expect(result.losses[3]).toBe(0);
    });

    it('soft targets that do not sum to 1 are accepted', () => {
      const targets = new Float32Array(N * K).fill(0.9);
      expect(() => xent.softCrossEntropy(goodLogits(), targets, { numClasses: K })).not.toThrow();
    });
  });
});

describe('createXent', () => {
  it("rejects backend 'gpu' with a RangeError naming it", async () => {
    const error = await createXent({ backend: 'gpu' as never }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toMatch(/backend/);
    expect((error as Error).message).toMatch(/gpu/);
  });

  it('rejects backend 5 (not a string) with a TypeError', async () => {
    const error = await createXent({ backend: 5 as never }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/backend/);
  });

  it('rejects an unknown option with a TypeError naming it', async () => {
    const error = await createXent({ bogus: 1 } as never).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/bogus/);
  });

  it('rejects arenaBytes below 64 KiB, NaN or a string', async () => {
    const small = await createXent({ arenaBytes: 1000 }).catch((caught: unknown) => caught);
    expect(small).toBeInstanceOf(RangeError);
    expect((small as Error).message).toMatch(/arenaBytes/);
    expect((small as Error).message).toMatch(/1000/);
    const notANumber = await createXent({ arenaBytes: Number.NaN }).catch((caught: unknown) => caught);
    expect(notANumber).toBeInstanceOf(RangeError);
    expect((notANumber as Error).message).toMatch(/NaN/);
    const text = await createXent({ arenaBytes: '65536' as never }).catch((caught: unknown) => caught);
    expect(text).toBeInstanceOf(TypeError);
    expect((text as Error).message).toMatch(/arenaBytes/);
  });
});
