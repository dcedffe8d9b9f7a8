/**
 * The tfjs adapter's checks of values, gradients and errors, shared by the Node test
 * (test/tfjs.test.ts: tfjs-core on its cpu and wasm backends) and the Chromium test
 * (test/tfjs-browser.test.ts). Each returns plain data, so both runtimes assert the same
 * things on the same numbers:
 * - `againstTfjs`: loss and tf.grad against tfjs's own formulation of the same loss, for
 *   everything tfjs can express (smoothing, reductions, upstream gradients, soft targets,
 *   temperature as a division, rank 3, label forms, Keras's probability losses).
 * - `againstReference`: the options tfjs cannot express (class weights, ignoreIndex, zLoss,
 *   softcap, smoothing at rank 3), against the float64 reference of test/reference.ts.
 * - `errorCases`: bad inputs, each a named error.
 */
import type * as tfjs from '@tensorflow/tfjs-core';
import type * as tflayers from '@tensorflow/tfjs-layers';
import type { Reduction, RowsResult, ScalarResult } from '../src/index.js';
import type { TfjsLosses } from '../src/tfjs/index.js';
import { assertMatchesReference, gaussian, makeRandom, perturbationForSoftcap } from './generators.js';
import { referenceCrossEntropy, referenceSoftCrossEntropy } from './reference.js';

export type Tf = typeof tfjs;
export type Tfl = typeof tflayers;
type Tensor = tfjs.Tensor;

export interface Env {
  tf: Tf;
  tfl: Tfl;
  losses: TfjsLosses;
}

// ---------------------------------------------------------------------------------------
// Data

export function randomLogits(seed: number, size: number, sigma = 2): Float32Array {
  const random = makeRandom(seed);
  return Float32Array.from({ length: size }, () => gaussian(random, sigma));
}

export function randomLabels(seed: number, rows: number, numClasses: number): Int32Array {
  const random = makeRandom(seed);
  return Int32Array.from({ length: rows }, () => Math.floor(random() * numClasses));
}

/** Rows of probabilities (a softmax of random logits), float32. */
export function randomProbabilities(seed: number, rows: number, numClasses: number, sigma = 1): Float32Array {
  const logits = randomLogits(seed, rows * numClasses, sigma);
  const out = new Float32Array(rows * numClasses);
  for (let i = 0; i < rows; i++) {
    let sum = 0;
    for (let k = 0; k < numClasses; k++) sum += Math.exp(logits[i * numClasses + k]);
    for (let k = 0; k < numClasses; k++) out[i * numClasses + k] = Math.exp(logits[i * numClasses + k]) / sum;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// tf.valueAndGrad, read back as plain arrays

interface Evaluated {
  value: number[];
  valueShape: number[];
  grad: Float32Array;
  gradShape: number[];
  gradDtype: string;
}

function evaluate(tf: Tf, f: (x: Tensor) => Tensor, x: Tensor, dy?: Tensor): Evaluated {
  const { value, grad } = tf.valueAndGrad(f)(x, dy);
  const out = {
    value: Array.from(value.dataSync()),
    valueShape: value.shape,
    grad: Float32Array.from(grad.dataSync()),
    gradShape: grad.shape,
    gradDtype: grad.dtype,
  };
  value.dispose();
  grad.dispose();
  return out;
}

export interface Comparison {
  case: string;
  /** max |ours − theirs| / max(1, |theirs|) over the loss values. */
  lossError: number;
  /** max |ours − theirs| / max(1, max |theirs|) over the gradient. */
  gradError: number;
  /** Value shapes, gradient shapes and dtypes equal; empty when they are. */
  shapeProblems: string[];
}

function compare(name: string, ours: Evaluated, theirs: Evaluated): Comparison {
  const shapeProblems: string[] = [];
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
  if (!same(ours.valueShape, theirs.valueShape)) shapeProblems.push(`value shape [${ours.valueShape}] vs [${theirs.valueShape}]`);
  if (!same(ours.gradShape, theirs.gradShape)) shapeProblems.push(`grad shape [${ours.gradShape}] vs [${theirs.gradShape}]`);
  if (ours.gradDtype !== 'float32') shapeProblems.push(`grad dtype ${ours.gradDtype}`);
  let lossError = 0;
  ours.value.forEach((v, i) => (lossError = Math.max(lossError, Math.abs(v - theirs.value[i]) / Math.max(1, Math.abs(theirs.value[i])))));
  let largest = 0;
  for (const g of theirs.grad) largest = Math.max(largest, Math.abs(g));
  let gradError = 0;
  ours.grad.forEach((g, i) => (gradError = Math.max(gradError, Math.abs(g - theirs.grad[i]))));
  if (ours.grad.length !== theirs.grad.length || ours.value.length !== theirs.value.length) shapeProblems.push('sizes differ');
  return { case: name, lossError: Number.isNaN(lossError) ? Infinity : lossError, gradError: gradError / Math.max(1, largest), shapeProblems };
}

// ---------------------------------------------------------------------------------------
// Against tfjs's own formulation

const TFJS_REDUCTION = { mean: 'SUM_BY_NONZERO_WEIGHTS', sum: 'SUM', none: 'NONE' } as const;

export function againstTfjs({ tf, tfl, losses }: Env): Comparison[] {
  const results: Comparison[] = [];
  const N = 37;
  const K = 11;
  const reductionOf = (r: Reduction) => tf.Reduction[TFJS_REDUCTION[r]];
  const logits = tf.tensor2d(randomLogits(1, N * K), [N, K]);
  const ids = randomLabels(2, N, K);
  const labels = tf.tensor1d(ids, 'int32');
  const oneHot = tf.tidy(() => tf.cast(tf.oneHot(labels, K), 'float32'));
  const tfjsLoss = (smoothing: number, reduction: Reduction, targets = oneHot) => (z: Tensor) =>
    tf.losses.softmaxCrossEntropy(targets, z, undefined, smoothing, reductionOf(reduction));
  const run = (name: string, ours: (z: Tensor) => Tensor, theirs: (z: Tensor) => Tensor, x: Tensor = logits, dy?: Tensor) =>
    results.push(compare(name, evaluate(tf, ours, x, dy), evaluate(tf, theirs, x, dy)));

  // Smoothing × reductions ('none' with tf.grad's default dy of ones).
  for (const smoothing of [0, 0.1, 0.3]) {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      run(`crossEntropy ε=${smoothing} ${reduction}`, (z) => losses.crossEntropy(z, labels, { smoothing, reduction }), tfjsLoss(smoothing, reduction));
    }
  }

  // Upstream gradients: a scalar ≠ 1 (folded into gradScale), one per row, the same for every row.
  const rowWeights = tf.tensor1d(randomLogits(3, N, 1).map(Math.abs));
  const half = tf.scalar(0.5);
  const quarter = tf.fill([N], 0.25);
  run('dy = 0.5 (mean)', (z) => losses.crossEntropy(z, labels, { smoothing: 0.1 }), tfjsLoss(0.1, 'mean'), logits, half);
  run('dy per row (none)', (z) => losses.crossEntropy(z, labels, { smoothing: 0.1, reduction: 'none' }), tfjsLoss(0.1, 'none'), logits, rowWeights);
  run('dy = 0.25 every row (none)', (z) => losses.crossEntropy(z, labels, { reduction: 'none' }), tfjsLoss(0, 'none'), logits, quarter);
  run('tf.mul(loss, 3)', (z) => tf.mul(losses.crossEntropy(z, labels, { smoothing: 0.2 }), 3), (z) => tf.mul(tfjsLoss(0.2, 'mean')(z), 3));
  run('tf.sum(tf.mul(losses, w)) (sample weights)', (z) => tf.sum(tf.mul(losses.crossEntropy(z, labels, { reduction: 'none' }), rowWeights)),
    (z) => tf.losses.softmaxCrossEntropy(oneHot, z, rowWeights, 0, tf.Reduction.SUM));

  // Two losses on one tape (two gradients in flight at once); a gradient tensor still intact
  // after later calls (tfjs-cpu keeps the uploaded array itself, tfjs-wasm copies it).
  const otherIds = randomLabels(9, N, K);
  const otherOneHot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(otherIds, 'int32'), K), 'float32'));
  run('two losses on one tape', (z) => tf.add(losses.crossEntropy(z, labels), losses.crossEntropy(z, otherIds, { smoothing: 0.2 })),
    (z) => tf.add(tfjsLoss(0, 'mean')(z), tfjsLoss(0.2, 'mean', otherOneHot)(z)));
  const kept = tf.grad((z: Tensor) => losses.crossEntropy(z, labels, { smoothing: 0.1 }))(logits);
  for (let i = 0; i < 3; i++) tf.dispose(tf.grad((z: Tensor) => losses.crossEntropy(z, otherIds))(logits));
  const theirs = evaluate(tf, tfjsLoss(0.1, 'mean'), logits);
  results.push(compare('a gradient tensor after three more calls', { ...theirs, grad: Float32Array.from(kept.dataSync()) }, theirs));
  tf.dispose([kept, otherOneHot]);

  // Label forms: float32 [N, 1], a typed array, number[]; labels disposed before the backward pass.
  const floatColumn = tf.tensor2d(Float32Array.from(ids), [N, 1]);
  run('labels float32 [N, 1]', (z) => losses.crossEntropy(z, floatColumn, { smoothing: 0.1 }), tfjsLoss(0.1, 'mean'));
  run('labels Int32Array', (z) => losses.crossEntropy(z, ids, { smoothing: 0.1 }), tfjsLoss(0.1, 'mean'));
  run('labels number[]', (z) => losses.crossEntropy(z, Array.from(ids), { smoothing: 0.1 }), tfjsLoss(0.1, 'mean'));
  run('labels disposed before backward', (z) => {
    const own = tf.tensor1d(ids, 'int32');
    const loss = losses.crossEntropy(z, own, { smoothing: 0.1 });
    own.dispose();
    return loss;
  }, tfjsLoss(0.1, 'mean'));

  // Logits whose data tfjs-cpu keeps as the Int32Array they were cast from.
  const intLogits = tf.tensor2d(Int32Array.from(randomLogits(4, N * K, 3), Math.round), [N, K], 'int32');
  const castLogits = tf.cast(intLogits, 'float32');
  run('logits tf.cast(int32, float32)', (z) => losses.crossEntropy(z, labels, { smoothing: 0.1 }), tfjsLoss(0.1, 'mean'), castLogits);

  // Any rank: [B, T, V] with labels [B, T] (tfjs smooths with shape[1] as the class count, so ε = 0 here).
  const logits3 = tf.tensor3d(randomLogits(5, 3 * 5 * 7), [3, 5, 7]);
  const ids3 = randomLabels(6, 15, 7);
  const oneHot3 = tf.tidy(() => tf.reshape(tf.cast(tf.oneHot(tf.tensor1d(ids3, 'int32'), 7), 'float32'), [3, 5, 7]));
  const labels3 = tf.tensor2d(ids3, [3, 5], 'int32');
  for (const reduction of ['mean', 'none'] as const) {
    run(`rank 3 [3, 5, 7] ${reduction}`, (z) => losses.crossEntropy(z, labels3, { reduction }), tfjsLoss(0, reduction, oneHot3), logits3);
  }

  // Soft targets, temperature as tfjs writes it (logits / T).
  const targets = tf.tensor2d(randomProbabilities(7, N, K), [N, K]);
  for (const smoothing of [0, 0.2]) {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      run(`softCrossEntropy ε=${smoothing} ${reduction}`, (z) => losses.softCrossEntropy(z, targets, { smoothing, reduction }), tfjsLoss(smoothing, reduction, targets));
    }
  }
  run('softCrossEntropy T = 2.5', (z) => losses.softCrossEntropy(z, targets, { temperature: 2.5 }), (z) => tfjsLoss(0, 'mean', targets)(tf.div(z, 2.5)));

  // Keras-style losses (yTrue, yPred), as model.compile calls them.
  const sparse = losses.sparseCategoricalCrossentropy({ smoothing: 0.1 });
  const categorical = losses.categoricalCrossentropy({ smoothing: 0.1 });
  run('sparseCategoricalCrossentropy, one-hot yTrue', (z) => sparse(oneHot, z), tfjsLoss(0.1, 'mean'));
  run('sparseCategoricalCrossentropy, int32 one-hot yTrue', (z) => sparse(tf.oneHot(labels, K), z), tfjsLoss(0.1, 'mean'));
  run('sparseCategoricalCrossentropy, yTrue [N, 1]', (z) => sparse(floatColumn, z), tfjsLoss(0.1, 'mean'));
  run('categoricalCrossentropy', (z) => categorical(targets, z), tfjsLoss(0.1, 'mean', targets));

  // fromLogits: false against tfjs-layers' Keras formulation on probabilities (none of them clipped).
  const probabilities = tf.tensor2d(randomProbabilities(8, N, K), [N, K]);
  const keras = (t: Tensor) => (p: Tensor) => tf.mean(tfl.metrics.categoricalCrossentropy(t, p));
  run('sparse, fromLogits: false', (p) => losses.sparseCategoricalCrossentropy({ fromLogits: false })(floatColumn, p), keras(oneHot), probabilities);
  run('categorical, fromLogits: false', (p) => losses.categoricalCrossentropy({ fromLogits: false })(targets, p), keras(targets), probabilities);
  run('crossEntropy fromLogits: false, none', (p) => losses.crossEntropy(p, labels, { fromLogits: false, reduction: 'none' }),
    (p) => tfl.metrics.categoricalCrossentropy(oneHot, p), probabilities);

  tf.dispose([logits, labels, oneHot, rowWeights, half, quarter, floatColumn, intLogits, castLogits, logits3, oneHot3, labels3, targets, probabilities]);
  return results;
}

// ---------------------------------------------------------------------------------------
// Against the float64 reference: what tfjs cannot express

/** Problems found (empty: all within the core's error bars, see test/generators.ts). */
export function againstReference({ tf, losses }: Env): string[] {
  const problems: string[] = [];
  const N = 29;
  const K = 13;
  const data = randomLogits(11, N * K);
  const logits = tf.tensor2d(data, [N, K]);
  const ids = randomLabels(12, N, K);
  const weight = Float32Array.from(randomLogits(13, K, 1), (w) => 0.2 + Math.abs(w));
  const withIgnored = Int32Array.from(ids, (y, i) => (i % 5 === 0 ? -1 : y));

  const check = (what: string, f: (z: Tensor) => Tensor, x: Tensor, ref: ReturnType<typeof referenceCrossEntropy>, reduction: Reduction, numClasses: number, perturbation: Float64Array | null = null) => {
    const out = evaluate(tf, f, x);
    const result: Omit<ScalarResult, 'count'> | RowsResult = reduction === 'none' ? { losses: Float32Array.from(out.value), grad: out.grad } : { loss: out.value[0], grad: out.grad };
    try {
      assertMatchesReference(result, ref, { reduction, numClasses, expectGrad: true, expectLse: false, perturbation, what });
    } catch (error) {
      problems.push(String((error as Error).message));
    }
  };

  const hardCases: Array<[string, Record<string, unknown>, Int32Array]> = [
    ['weight', { weight, smoothing: 0.1 }, ids],
    ['ignoreIndex -1', { ignoreIndex: -1, smoothing: 0.1 }, withIgnored],
    ['weight + ignoreIndex', { weight, ignoreIndex: -1 }, withIgnored],
    ['zLoss 1e-3', { zLoss: 1e-3, smoothing: 0.1 }, ids],
    ['softcap 5', { softcap: 5, smoothing: 0.1 }, ids],
    ['everything', { weight, ignoreIndex: -1, zLoss: 1e-3, softcap: 5, smoothing: 0.2 }, withIgnored],
  ];
  for (const [name, options, labels] of hardCases) {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const ref = referenceCrossEntropy(data, labels, { numClasses: K, reduction, ...(options as object) });
      const softcap = options.softcap as number | undefined;
      check(`crossEntropy ${name} ${reduction}`, (z) => losses.crossEntropy(z, labels, { ...options, reduction }), logits, ref, reduction, K, perturbationForSoftcap(N, softcap));
    }
  }

  // Rank 3 with smoothing (tfjs would smooth with the wrong class count).
  const data3 = randomLogits(14, 4 * 6 * 9);
  const ids3 = randomLabels(15, 24, 9);
  const logits3 = tf.tensor3d(data3, [4, 6, 9]);
  for (const reduction of ['mean', 'none'] as const) {
    const ref = referenceCrossEntropy(data3, ids3, { numClasses: 9, reduction, smoothing: 0.1 });
    check(`rank 3 ε=0.1 ${reduction}`, (z) => losses.crossEntropy(z, tf.tensor2d(ids3, [4, 6], 'int32'), { smoothing: 0.1, reduction }), logits3, ref, reduction, 9);
  }

  // Soft targets with class weights.
  const targetData = randomProbabilities(16, N, K);
  const targets = tf.tensor2d(targetData, [N, K]);
  for (const reduction of ['mean', 'none'] as const) {
    const ref = referenceSoftCrossEntropy(data, targetData, { numClasses: K, reduction, weight, smoothing: 0.1 });
    check(`softCrossEntropy weight ${reduction}`, (z) => losses.softCrossEntropy(z, targets, { weight, smoothing: 0.1, reduction }), logits, ref, reduction, K);
  }

  tf.dispose([logits, logits3, targets]);
  return problems;
}

// ---------------------------------------------------------------------------------------
// Bad input

export interface ErrorOutcome {
  case: string;
  name: string;
  message: string;
  /** A regular expression (source) that `${name}: ${message}` must match. */
  expected: string;
}

export function errorCases({ tf, losses }: Env): ErrorOutcome[] {
  const logits = tf.tensor2d(randomLogits(21, 4 * 5), [4, 5]);
  const labels = tf.tensor1d([0, 1, 2, 3], 'int32');
  const sparse = losses.sparseCategoricalCrossentropy();
  const categorical = losses.categoricalCrossentropy();
  // [case, the error expected: its class and the start of its message, the call]
  const cases: Array<[string, string, RegExp, () => unknown]> = [
    ['logits not a tensor', 'TypeError', /crossEntropy: logits must be a tf\.Tensor, got Float32Array\(20\)/,
      () => losses.crossEntropy(new Float32Array(20) as never, labels)],
    ['int32 logits', 'TypeError', /crossEntropy: logits must be a float32 tensor, got an int32 tensor of shape \[4, 5\]/,
      () => losses.crossEntropy(tf.zeros([4, 5], 'int32'), labels)],
    ['rank-1 logits', 'RangeError', /crossEntropy: logits must have rank ≥ 2 .*got shape \[5\]/,
      () => losses.crossEntropy(tf.zeros([5]), [0])],
    ['no classes', 'RangeError', /crossEntropy: logits must have at least one class .*\[4, 0\]/,
      () => losses.crossEntropy(tf.zeros([4, 0]), labels)],
    ['labels of the wrong rank', 'RangeError', /crossEntropy: labels must have shape \[4\] or \[4, 1\] \(logits has shape \[4, 5\]\), got shape \[4, 5\]/,
      () => losses.crossEntropy(logits, tf.zeros([4, 5], 'int32'))],
    ['mismatched N', 'RangeError', /crossEntropy: labels must have shape \[4\] .*got shape \[3\]/,
      () => losses.crossEntropy(logits, tf.tensor1d([0, 1, 2], 'int32'))],
    ['mismatched N, typed array', 'RangeError', /crossEntropy: labels must hold one class id per row \(4\), got Int32Array\(2\)/,
      () => losses.crossEntropy(logits, Int32Array.of(0, 1))],
    ['bool labels', 'TypeError', /crossEntropy: labels must be an int32 or float32 tensor/,
      () => losses.crossEntropy(logits, tf.tensor1d([true, false, true, false], 'bool'))],
    ['labels not ids', 'TypeError', /crossEntropy: labels must be a tf\.Tensor of class ids or a typed array/,
      () => losses.crossEntropy(logits, 'cat' as never)],
    ['non-integer float labels', 'RangeError', /crossEntropy: labels\[1\] must be an integer class id, got 1\.5/,
      () => losses.crossEntropy(logits, tf.tensor1d([0, 1.5, 2, 3]))],
    ['label out of range', 'RangeError', /crossEntropy: labels\[2\] must be an integer in \[0, 5\) or ignoreIndex \(-100\), got 5/,
      () => losses.crossEntropy(logits, tf.tensor1d([0, 1, 5, 3], 'int32'))],
    ['negative float label', 'RangeError', /crossEntropy: labels\[1\] must be an integer in \[0, 5\) or ignoreIndex \(-100\), got -2/,
      () => losses.crossEntropy(logits, tf.tensor1d([0, -2, 1, 3]))],
    ['sparse: yTrue out of range', 'RangeError', /sparseCategoricalCrossentropy: yTrue\[2\] must be an integer in \[0, 5\)/,
      () => sparse(tf.tensor2d([[0], [1], [7], [3]]), logits)],
    ['sparse: yTrue not one-hot', 'RangeError', /sparseCategoricalCrossentropy: yTrue row 1 must be one-hot .*got 1 at class 2 \(and 1 at class 1\)/,
      () => sparse(tf.tensor2d([[1, 0, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0]]), logits)],
    ['sparse: yTrue row of zeros', 'RangeError', /sparseCategoricalCrossentropy: yTrue row 0 must be one-hot .*got no 1/,
      () => sparse(tf.zeros([4, 5]), logits)],
    ['sparse: yPred of the wrong rank', 'RangeError', /sparseCategoricalCrossentropy: yPred must have rank ≥ 2/,
      () => sparse(labels, tf.zeros([5]))],
    ['categorical: yTrue of the wrong shape', 'RangeError', /categoricalCrossentropy: yTrue must have yPred's shape \[4, 5\], got shape \[4, 4\]/,
      () => categorical(tf.zeros([4, 4]), logits)],
    ['categorical: negative target', 'RangeError', /categoricalCrossentropy: yTrue\[0\] must be a probability ≥ 0, got -0\.2/,
      () => categorical(tf.fill([4, 5], -0.2), logits)],
    ['softCrossEntropy: targets not a tensor', 'TypeError', /softCrossEntropy: targets must be a tf\.Tensor/,
      () => losses.softCrossEntropy(logits, new Float32Array(20) as never)],
    ['smoothing out of range', 'RangeError', /crossEntropy: smoothing must be a number in \[0, 1\], got 1\.5/,
      () => losses.crossEntropy(logits, labels, { smoothing: 1.5 })],
    ['factory: smoothing out of range', 'RangeError', /sparseCategoricalCrossentropy: smoothing must be a number in \[0, 1\], got -1/,
      () => losses.sparseCategoricalCrossentropy({ smoothing: -1 })],
    ['factory: bad reduction', 'RangeError', /categoricalCrossentropy: reduction must be 'mean', 'sum' or 'none', got "avg"/,
      () => losses.categoricalCrossentropy({ reduction: 'avg' as never })],
    ['unknown option', 'TypeError', /crossEntropy: unknown option "smoothng" \(known: smoothing, reduction, weight, ignoreIndex, zLoss, softcap, fromLogits\)/,
      () => losses.crossEntropy(logits, labels, { smoothng: 0.1 } as never)],
    ['managed option grad', 'TypeError', /crossEntropy: unknown option "grad"/,
      () => losses.crossEntropy(logits, labels, { grad: true } as never)],
    ['fromLogits not a boolean', 'TypeError', /crossEntropy: fromLogits must be a boolean, got 1/,
      () => losses.crossEntropy(logits, labels, { fromLogits: 1 } as never)],
    ['weight of the wrong length', 'RangeError', /crossEntropy: weight\.length must equal numClasses \(5\), got 3/,
      () => losses.crossEntropy(logits, labels, { weight: new Float32Array(3) })],
    ['second-order gradient', 'Error', /crossEntropy: second-order gradients are not supported/,
      () => tf.grad((z: Tensor) => tf.sum(tf.grad((y: Tensor) => losses.crossEntropy(y, labels))(z)))(logits)],
  ];
  const outcomes = cases.map(([name, kind, message, run]): ErrorOutcome => {
    const expected = `^${kind}: ${message.source}`;
    try {
      tf.tidy(() => {
        run();
      });
      return { case: name, name: 'no error', message: '', expected };
    } catch (error) {
      return { case: name, name: (error as Error).name, message: (error as Error).message, expected };
    }
  });
  tf.dispose([logits, labels]);
  return outcomes;
}
