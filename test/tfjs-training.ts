/**
 * The tfjs adapter in training, shared by the Node and the Chromium test:
 * - `fitTwice`: a real tfjs-layers model (Dense 32 relu → Dense K) trained with model.fit,
 *   twice from the same initial weights: once with smoothxent's sparse loss (fed one-hot
 *   targets, as fit requires), once with tf.losses.softmaxCrossEntropy(oneHot, logits,
 *   undefined, ε). Returns both runs' per-epoch losses and their largest differences.
 * - `leakCounts`: tf.memory().numTensors before and after 100 training steps of each kind
 *   (custom loop, model.fit, evaluation, fromLogits: false, 'none' with sample weights, soft
 *   targets, calls that throw), plus the same fit with tfjs's own loss as a control.
 */
import type * as tfjs from '@tensorflow/tfjs-core';
import type { Env } from './tfjs-cases.js';
import { randomLabels, randomLogits } from './tfjs-cases.js';

type Tensor = tfjs.Tensor;

const FEATURES = 8;
const CLASSES = 5;
const SAMPLES = 96;
const BATCH = 32;
const SMOOTHING = 0.1;

/** A small dataset with something to learn: labels are the argmax of a fixed linear map (plus noise). */
function dataset(tf: Env['tf']) {
  const features = randomLogits(31, SAMPLES * FEATURES, 1);
  const teacher = randomLogits(32, FEATURES * CLASSES, 1);
  const noise = randomLogits(33, SAMPLES * CLASSES, 0.5);
  const ids = new Int32Array(SAMPLES);
  for (let i = 0; i < SAMPLES; i++) {
    let best = -Infinity;
    for (let k = 0; k < CLASSES; k++) {
      let score = noise[i * CLASSES + k];
      for (let f = 0; f < FEATURES; f++) score += features[i * FEATURES + f] * teacher[f * CLASSES + k];
      if (score > best) [best, ids[i]] = [score, k];
    }
  }
  const x = tf.tensor2d(features, [SAMPLES, FEATURES]);
  const labels = tf.tensor1d(ids, 'int32');
  const oneHot = tf.tidy(() => tf.cast(tf.oneHot(labels, CLASSES), 'float32'));
  return { x, labels, oneHot, dispose: () => tf.dispose([x, labels, oneHot]) };
}

/**
 * Seeded initial weights: the two fits of one run start from the same weights anyway, but where
 * those weights come from tfjs's unseeded random initializer, each run trains a different model,
 * and how far two fits drift apart (Adam turns the last-bit differences of two correct losses
 * into steps of up to its learning rate on weights whose gradient is near zero) varied from run
 * to run: once 1.3e-4 in Chromium on tfjs-wasm, against the bar of 1e-4. Seeded, every run of an
 * environment trains the same model: 1.2e-7 … 3.6e-7 on tfjs-cpu and tfjs-wasm, in Node and Chromium.
 */
function buildModel({ tfl }: Env) {
  const seeded = (seed: number) => tfl.initializers.glorotUniform({ seed });
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 32, activation: 'relu', inputShape: [FEATURES], kernelInitializer: seeded(41) }),
      tfl.layers.dense({ units: CLASSES, kernelInitializer: seeded(42) }),
    ],
  });
}

export interface FitComparison {
  ours: number[];
  theirs: number[];
  /** max over epochs of |ours − theirs| / |theirs|. */
  lossError: number;
  /** max |w_ours − w_theirs| over every final weight. */
  weightError: number;
}

export async function fitTwice(env: Env, epochs = 20): Promise<FitComparison> {
  const { tf, losses } = env;
  const data = dataset(tf);
  const ours = buildModel(env);
  const theirs = buildModel(env);
  theirs.setWeights(ours.getWeights());
  ours.compile({ optimizer: tf.train.adam(0.01), loss: losses.sparseCategoricalCrossentropy({ smoothing: SMOOTHING }) });
  theirs.compile({
    optimizer: tf.train.adam(0.01),
    loss: (yTrue: Tensor, yPred: Tensor) => tf.losses.softmaxCrossEntropy(yTrue, yPred, undefined, SMOOTHING),
  });
  const fit = async (model: typeof ours) =>
    (await model.fit(data.x, data.oneHot, { epochs, batchSize: BATCH, shuffle: false, verbose: 0 })).history.loss as number[];
  const oursLosses = await fit(ours);
  const theirsLosses = await fit(theirs);
  let lossError = 0;
  oursLosses.forEach((loss, epoch) => (lossError = Math.max(lossError, Math.abs(loss - theirsLosses[epoch]) / Math.abs(theirsLosses[epoch]))));
  const theirWeights = theirs.getWeights();
  let weightError = 0;
  ours.getWeights().forEach((weight, i) => {
    const a = weight.dataSync();
    const b = theirWeights[i].dataSync();
    for (let j = 0; j < a.length; j++) weightError = Math.max(weightError, Math.abs(a[j] - b[j]));
  });
  ours.dispose();
  theirs.dispose();
  data.dispose();
  return { ours: oursLosses, theirs: theirsLosses, lossError, weightError };
}

export interface LeakCount {
  case: string;
  before: number;
  after: number;
}

const STEPS = 100;

export async function leakCounts(env: Env): Promise<LeakCount[]> {
  const { tf, losses } = env;
  const data = dataset(tf);
  const counts: LeakCount[] = [];
  const logitsOf = (model: ReturnType<typeof buildModel>) => model.apply(data.x, { training: true }) as Tensor;

  /** One warm-up step (the optimizer creates its slots), then STEPS counted steps. */
  const measure = async (name: string, step: () => unknown) => {
    await step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < STEPS; i++) await step();
    counts.push({ case: name, before, after: tf.memory().numTensors });
  };

  const customLoop = (loss: (logits: Tensor) => Tensor) => {
    const model = buildModel(env);
    const optimizer = tf.train.adam(0.01);
    return {
      step: () => tf.dispose(optimizer.minimize(() => loss(logitsOf(model)) as tfjs.Scalar, true) ?? []),
      dispose: () => {
        model.dispose();
        optimizer.dispose();
      },
    };
  };
  const rowWeights = tf.tensor1d(randomLogits(34, SAMPLES, 1).map(Math.abs));
  const loops: Array<[string, (logits: Tensor) => Tensor]> = [
    ['custom loop, crossEntropy', (z) => losses.crossEntropy(z, data.labels, { smoothing: SMOOTHING })],
    ['custom loop, fromLogits: false', (z) => losses.crossEntropy(tf.softmax(z), data.labels, { fromLogits: false })],
    ["custom loop, 'none' with sample weights", (z) => tf.mean(tf.mul(losses.crossEntropy(z, data.labels, { reduction: 'none' }), rowWeights))],
    ['custom loop, softCrossEntropy', (z) => losses.softCrossEntropy(z, data.oneHot, { smoothing: SMOOTHING })],
  ];
  for (const [name, loss] of loops) {
    const loop = customLoop(loss);
    await measure(name, loop.step);
    loop.dispose();
  }

  // Calls that throw under a tape, before any tensor is made. (A model step whose loss throws
  // still leaks the tensors tfjs saved for the model's own ops, whatever the loss: tfjs
  // disposes saved tensors only after a backward pass.)
  const bad = tf.tensor1d(Int32Array.from({ length: SAMPLES }, (_, i) => (i === 7 ? CLASSES : i % CLASSES)), 'int32');
  const fractional = tf.tensor1d(Float32Array.from({ length: SAMPLES }, (_, i) => (i === 7 ? 1.5 : i % CLASSES)));
  const probabilities = tf.softmax(data.oneHot);
  const throwing = (loss: (z: Tensor) => Tensor) => () => {
    try {
      tf.dispose(tf.grad(loss)(probabilities));
    } catch {
      // expected
    }
  };
  await measure('a call that throws under a tape (label out of range)', throwing((z) => losses.crossEntropy(z, bad)));
  await measure('fromLogits: false, a call that throws (fractional label)', throwing((p) => losses.crossEntropy(p, fractional, { fromLogits: false })));

  await measure('outside a tape (evaluation)', () => tf.dispose(losses.crossEntropy(data.oneHot, data.labels)));

  for (const [name, loss] of [
    ['model.fit, smoothxent', losses.sparseCategoricalCrossentropy({ smoothing: SMOOTHING })],
    ['model.fit, tfjs (control)', (yTrue: Tensor, yPred: Tensor) => tf.losses.softmaxCrossEntropy(yTrue, yPred, undefined, SMOOTHING)],
  ] as const) {
    const model = buildModel(env);
    model.compile({ optimizer: tf.train.adam(0.01), loss });
    // SAMPLES / BATCH = 3 steps per epoch: one epoch per counted "step" here is 3 fit steps.
    await measure(name, () => model.fit(data.x, data.oneHot, { epochs: 1, batchSize: BATCH, shuffle: false, verbose: 0 }));
    await measure(`${name}, evaluate`, () => tf.dispose(model.evaluate(data.x, data.oneHot, { batchSize: BATCH }) as Tensor));
    model.dispose();
  }
  tf.dispose([rowWeights, bad, fractional, probabilities]);
  data.dispose();
  return counts;
}
