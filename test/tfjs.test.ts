/**
 * smoothxent/tfjs in Node: tfjs-core 4.22 with its cpu and wasm backends (and tfjs-layers for
 * model.fit), against every smoothxent backend. The checks themselves live in
 * tfjs-cases.ts and tfjs-training.ts, shared with the Chromium test (tfjs-browser.test.ts).
 *
 * tfjs-core's Node bundle registers no gradients; they come from importing
 * `@tensorflow/tfjs-core/dist/register_all_gradients.js` (vitest resolves its extension-less
 * imports; plain Node needs bench/tfjs-resolve-hook.mjs).
 */
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Scalar, Tensor } from '@tensorflow/tfjs-core';
import { createTfjsLosses, type TfjsCrossEntropyOptions, type TfjsLosses, type TfjsSoftCrossEntropyOptions } from '../src/tfjs/index.js';
import { backendNames, createAllBackends } from './backends.js';
import { againstReference, againstTfjs, errorCases, randomLabels, randomLogits, type Env } from './tfjs-cases.js';
import { expectFitsAsTfjs, expectMatchesTfjs, expectNamedErrors, expectNoLeaks } from './tfjs-expect.js';
import { fitTwice, leakCounts } from './tfjs-training.js';

const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
await import('@tensorflow/tfjs-backend-cpu');
const tfjsWasm = await import('@tensorflow/tfjs-backend-wasm');
const tfl = await import('@tensorflow/tfjs-layers');
const require = createRequire(import.meta.url);
tfjsWasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm')) + path.sep);

/** The cpu backend prints an "install tfjs-node" banner on first use: keep it out of the log. */
async function useTfjsBackend(name: string): Promise<void> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void (String(args[0]).includes('tfjs-node') || warn(...args));
  try {
    if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
    tf.tidy(() => tf.scalar(0).dataSync());
  } finally {
    console.warn = warn;
  }
}

const XENT_BACKENDS = backendNames(await createAllBackends());
const SLOW = 120_000;

for (const tfjsBackend of ['cpu', 'wasm']) {
  describe(`tfjs-${tfjsBackend}`, () => {
    beforeAll(() => useTfjsBackend(tfjsBackend));

    for (const backend of XENT_BACKENDS) {
      describe(`smoothxent ${backend}`, () => {
        let env: Env;
        beforeAll(async () => {
          env = { tf, tfl, losses: await createTfjsLosses(tf, { backend }) };
          expect(env.losses.backend).toBe(backend);
        });

        it("tf.grad matches tfjs's own formulation within 1e-6 for every option tfjs can express, and the float64 reference for the rest", () => {
          // The rest: weight, ignoreIndex, zLoss, softcap, smoothing at rank 3.
          expectMatchesTfjs(againstTfjs(env), againstReference(env));
        });

        it('trains a Dense 32 relu → Dense K model with model.fit exactly as tfjs does (20 epochs)', async () => {
          expectFitsAsTfjs(await fitTwice(env, 20), 20);
        }, SLOW);
      });
    }

    it('leaks no tensor in 100 training steps of any kind', async () => {
      expectNoLeaks(await leakCounts({ tf, tfl, losses: await createTfjsLosses(tf) }));
    }, SLOW);

    it('gives named errors for bad input (TypeError / RangeError naming the tensor argument)', async () => {
      expectNamedErrors(errorCases({ tf, tfl, losses: await createTfjsLosses(tf) }));
    });
  });
}

describe('the adapter on tfjs-cpu, in detail', () => {
  let losses: TfjsLosses;
  beforeAll(async () => {
    await useTfjsBackend('cpu');
    losses = await createTfjsLosses(tf);
  });

  const N = 16;
  const K = 7;
  const data = randomLogits(41, N * K);
  const ids = randomLabels(42, N, K);

  it("adds nothing to the core's numbers: the loss and (dy = 1) the gradient are the core's, bit for bit", () => {
    const core = losses.xent.crossEntropy(data, ids, { numClasses: K, smoothing: 0.1, grad: true });
    const { value, grad } = tf.valueAndGrad((z: Tensor) => losses.crossEntropy(z, ids, { smoothing: 0.1 }))(tf.tensor2d(data, [N, K]));
    expect(Object.is(value.dataSync()[0], Math.fround(core.loss))).toBe(true);
    expect(grad.dataSync()).toEqual(core.grad);
    tf.dispose([value, grad]);
  });

  it("works in tf.variableGrads (the gradient reaches variables through tfjs ops) as tfjs's loss does", () => {
    const x = tf.tensor2d(randomLogits(46, N * 5, 1), [N, 5]);
    const weights = tf.variable(tf.tensor2d(randomLogits(47, 5 * K, 1), [5, K]));
    const oneHot = tf.oneHot(tf.tensor1d(ids, 'int32'), K);
    const ours = tf.variableGrads(() => losses.crossEntropy(tf.matMul(x, weights), ids, { smoothing: 0.1 }), [weights]);
    const theirs = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(oneHot, tf.matMul(x, weights), undefined, 0.1), [weights]);
    expect(Math.abs(ours.value.dataSync()[0] - theirs.value.dataSync()[0])).toBeLessThanOrEqual(1e-6);
    const a = ours.grads[weights.name].dataSync();
    const b = theirs.grads[weights.name].dataSync();
    expect(Math.max(...a.map((g, i) => Math.abs(g - b[i])))).toBeLessThanOrEqual(1e-6);
    tf.dispose([x, weights, oneHot, ours.value, theirs.value, ...Object.values(ours.grads), ...Object.values(theirs.grads)]);
  });

  it('computes the gradient with the loss only under a gradient tape, and folds dy into gradScale', () => {
    const seen: unknown[] = [];
    const xent = losses.xent;
    const original = xent.crossEntropy;
    (xent as { crossEntropy: unknown }).crossEntropy = (...args: Parameters<typeof original>) => {
      const { grad, gradScale } = args[2];
      seen.push({ grad: grad instanceof Float32Array ? 'buffer' : grad, gradScale });
      return original.apply(xent, args);
    };
    try {
      const logits = tf.tensor2d(data, [N, K]);
      tf.dispose(losses.crossEntropy(logits, ids)); // evaluation: loss only
      tf.dispose(tf.grad((z: Tensor) => losses.crossEntropy(z, ids))(logits)); // dy = 1: one call
      tf.dispose(tf.grad((z: Tensor) => tf.mul(losses.crossEntropy(z, ids), 3))(logits)); // dy = 3: folded
      logits.dispose();
    } finally {
      delete (xent as { crossEntropy?: unknown }).crossEntropy;
    }
    // Each call also validates its options on zero rows first (grad undefined, gradScale undefined).
    expect(seen.filter((s) => (s as { grad: unknown }).grad !== undefined)).toEqual([
      { grad: false, gradScale: 1 },
      { grad: 'buffer', gradScale: 1 },
      { grad: 'buffer', gradScale: 1 },
      { grad: 'buffer', gradScale: 3 },
    ]);
  });

  it('reads one-hot rows of any K (blocks of eight and the tail), float and int32, -0 as 0, and rejects what is not one-hot', () => {
    const classes = 13; // one block of eight, a tail of five
    const rows = [0, 7, 8, 12, 3, 11];
    const logits = tf.tensor2d(randomLogits(45, rows.length * classes), [rows.length, classes]);
    const hot = (signedZero: boolean) => {
      const values = new Float32Array(rows.length * classes).fill(signedZero ? -0 : 0);
      rows.forEach((k, i) => (values[i * classes + k] = 1));
      return tf.tensor2d(values, [rows.length, classes]);
    };
    const sparse = losses.sparseCategoricalCrossentropy({ smoothing: 0.1 });
    const expected = losses.crossEntropy(logits, rows, { smoothing: 0.1 }).dataSync()[0];
    for (const yTrue of [hot(false), hot(true), tf.oneHot(tf.tensor1d(rows, 'int32'), classes)]) {
      expect(sparse(yTrue, logits).dataSync()[0], yTrue.dtype).toBe(expected);
    }
    const broken = (row: number, k: number, value: number) => {
      const values = hot(false).dataSync().slice();
      values[row * classes + k] = value;
      return tf.tensor2d(values, [rows.length, classes]);
    };
    expect(() => sparse(broken(1, 12, 1), logits)).toThrow(/yTrue row 1 must be one-hot .*got 1 at class 12 \(and 1 at class 7\)/);
    expect(() => sparse(broken(3, 2, 1), logits)).toThrow(/yTrue row 3 must be one-hot .*got 1 at class 12 \(and 1 at class 2\)/);
    expect(() => sparse(broken(2, 8, 0), logits)).toThrow(/yTrue row 2 must be one-hot .*got no 1/);
    expect(() => sparse(broken(4, 10, Number.NaN), logits)).toThrow(/yTrue row 4 must be one-hot .*got NaN at class 10/);
    expect(() => sparse(broken(5, 11, 2), logits)).toThrow(/yTrue row 5 must be one-hot .*got 2 at class 11/);
    expect(() => sparse(broken(0, 5, 1e-45), logits)).toThrow(/yTrue row 0 must be one-hot .*at class 5/);
  });

  it('accepts every option the core has (less the managed numClasses, grad, gradScale, lse), typed and at run time', () => {
    // A key added to the core's options must be added here (the Record fails to compile) and to the adapter.
    const hard: Required<TfjsCrossEntropyOptions> = {
      smoothing: 0.1, reduction: 'mean', weight: new Float32Array(K).fill(1), ignoreIndex: -1, zLoss: 1e-4, softcap: 20, fromLogits: true,
    };
    const soft: Required<TfjsSoftCrossEntropyOptions> = {
      smoothing: 0.1, reduction: 'sum', weight: new Float32Array(K).fill(1), temperature: 2, fromLogits: true,
    };
    const logits = tf.tensor2d(data, [N, K]);
    const targets = tf.fill([N, K], 1 / K);
    const values = [losses.crossEntropy(logits, ids, hard), losses.softCrossEntropy(logits, targets, soft),
      losses.sparseCategoricalCrossentropy(hard)(tf.tensor1d(ids, 'int32'), logits), losses.categoricalCrossentropy(soft)(targets, logits)];
    for (const value of values) expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    tf.dispose([logits, targets, ...values]);
  });

  it('types: a Scalar for mean and sum, a Tensor of row losses for none, losses model.compile accepts', () => {
    const logits = tf.tensor3d(randomLogits(43, 2 * 3 * K), [2, 3, K]);
    const labels = tf.tensor2d(randomLabels(44, 6, K), [2, 3], 'int32');
    const mean: Scalar = losses.crossEntropy(logits, labels);
    const rows: Tensor = losses.crossEntropy(logits, labels, { reduction: 'none' });
    expect(mean.shape).toEqual([]);
    expect(rows.shape).toEqual([2, 3]);
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: K, inputShape: [3] })] });
    model.compile({ optimizer: 'sgd', loss: losses.sparseCategoricalCrossentropy({ smoothing: 0.1 }) });
    model.compile({ optimizer: 'sgd', loss: losses.categoricalCrossentropy({ temperature: 2 }) });
    // @ts-expect-error options are checked by type too
    expect(() => losses.crossEntropy(logits, labels, { smoothing: '0.1' })).toThrow(TypeError);
    tf.dispose([logits, labels, mean, rows]);
    model.dispose();
  });

  it('rejects what is not a tfjs namespace, and passes create options to the core (its errors renamed)', async () => {
    await expect(createTfjsLosses(null as never)).rejects.toThrow(/^createTfjsLosses: tf must be the TensorFlow\.js namespace/);
    await expect(createTfjsLosses({ tensor() {} } as never)).rejects.toThrow(/without Tensor, customGrad, scalar/);
    await expect(createTfjsLosses(tf, { backend: 'gpu' as never })).rejects.toThrow(/^createTfjsLosses: backend must be 'auto'/);
    await expect(createTfjsLosses(tf, { arenaBytes: 1 })).rejects.toThrow(RangeError);
    expect((await createTfjsLosses(tf, { backend: 'js' })).backend).toBe('js');
  });
});

describe('packaging', () => {
  const root = path.resolve(import.meta.dirname, '..');
  const graphOf = async (entry: string) =>
    (await build({ entryPoints: [path.join(root, entry)], bundle: true, write: false, metafile: true, format: 'esm', platform: 'neutral', logLevel: 'silent' }))
      .metafile.inputs;

  it('the main entry never imports the adapter or tfjs; the adapter imports no tfjs at run time, and the core only through its entry', async () => {
    const main = Object.keys(await graphOf('src/index.ts'));
    expect(main.filter((p) => p.includes('@tensorflow') || p.includes('src/tfjs/'))).toEqual([]);
    const adapter = await graphOf('src/tfjs/index.ts');
    expect(Object.keys(adapter).filter((p) => p.includes('@tensorflow'))).toEqual([]);
    const outside = Object.entries(adapter)
      .filter(([file]) => file.startsWith('src/tfjs/'))
      .flatMap(([, input]) => input.imports.map((i) => i.path).filter((p) => !p.startsWith('src/tfjs/')));
    expect(new Set(outside)).toEqual(new Set(['src/index.ts']));
  });
});
