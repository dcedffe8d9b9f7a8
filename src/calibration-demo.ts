/**
 * The numbers behind the seed's questions 4 and 5, computed with the library: what `npm start`
 * prints and the page's calibration section draws (one implementation for both, tested in
 * test/calibration-demo.test.ts).
 *
 * Question 4, the top-1 probability a smoothed model should show: the smoothed loss is
 * minimal where softmax(z) equals the smoothed target, so a perfectly fit example shows
 * p_top = 1 − ε + ε/K, at the logit gap g* = log((1 − ε + ε/K)/(ε/K)) over every other class.
 *
 * Question 5, confidence against accuracy: a small synthetic "weather model" — softmax
 * regression on overlapping Gaussian clusters, 4 classes, 32 features of which 4 carry the
 * class, only 200 training rows — trained by full-batch gradient descent with crossEntropy's
 * own gradient. With hard labels it fits the training rows ever more confidently and is
 * over-confident on new data; smoothing caps the confidence it can learn; too much smoothing
 * makes it under-confident. Temperature scaling (fitted on a validation set, measured on a
 * test set) is the dual fix: one T > 1 softens an over-confident model, T < 1 sharpens an
 * under-confident one.
 *
 * Everything is seeded and computed in float32/float64 arithmetic that JavaScript engines
 * share (the features are float32, so one ulp of a libm difference in Box–Muller rarely
 * survives), so Node and the page print the same figures; backends differ in the last bits
 * of their gradients only, which 500 steps of a convex problem do not amplify.
 */
import { gaussian, makeRandom } from './random.js';
import type { EvaluationResult, TemperatureFit, Xent } from './types.js';

// ---------------------------------------------------------------------------------------------
// Question 4

/** Question 4's cases: ε = 0.1 at K = 4 (the weather example), 10 and 1000. */
export const OPTIMUM_SMOOTHING = 0.1;
export const OPTIMUM_CLASS_COUNTS = [4, 10, 1000] as const;

export interface OptimumTopOne {
  numClasses: number;
  smoothing: number;
  /** g* = log((1 − ε + ε/K)/(ε/K)), in float64. */
  gap: number;
  /** 1 − ε + ε/K: the smoothed target of the true class, which the optimum predicts. */
  topOne: number;
  /** The library's meanConfidence of the one row [g*, 0, …, 0] (float32 logits). */
  evaluatedTopOne: number;
  /** max_k |∂L/∂z_k| of crossEntropy at that row: 0 up to float32 rounding at the optimum. */
  largestGradient: number;
}

/** The top-1 probability at the smoothed optimum, in closed form and from the library at that gap. */
export function topOneAtOptimum(xent: Xent, smoothing: number, numClasses: number): OptimumTopOne {
  const other = smoothing / numClasses;
  const topOne = 1 - smoothing + other;
  const gap = Math.log(topOne / other);
  const logits = new Float32Array(numClasses);
  logits[0] = gap;
  const evaluated = xent.evaluate(logits, [0], { numClasses, smoothing });
  const { grad } = xent.crossEntropy(logits, [0], { numClasses, smoothing, grad: true });
  let largestGradient = 0;
  for (const g of grad) largestGradient = Math.max(largestGradient, Math.abs(g));
  return { numClasses, smoothing, gap, topOne, evaluatedTopOne: evaluated.meanConfidence, largestGradient };
}

// ---------------------------------------------------------------------------------------------
// Question 5: data

export const WEATHER_CLASSES = ['sunny', 'cloudy', 'rainy', 'snowy'] as const;

/** Rows of features with their labels. */
export interface LabeledSet {
  rows: number;
  /** rows × features, row-major. */
  features: Float32Array;
  labels: Int32Array;
}

export interface WeatherData {
  numClasses: number;
  numFeatures: number;
  train: LabeledSet;
  validation: LabeledSet;
  test: LabeledSet;
}

export const WEATHER = {
  seed: 7,
  numFeatures: 32,
  /** Class k's mean is `separation` along feature k (and 0 elsewhere); every feature has unit noise. */
  separation: 2,
  trainRows: 200,
  validationRows: 1000,
  testRows: 4000,
  steps: 500,
  learningRate: 0.5,
} as const;

function clusters(uniform: () => number, rows: number, numClasses: number, numFeatures: number, separation: number): LabeledSet {
  const features = new Float32Array(rows * numFeatures);
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const label = i % numClasses;
    labels[i] = label;
    for (let d = 0; d < numFeatures; d++) features[i * numFeatures + d] = gaussian(uniform, 1) + (d === label ? separation : 0);
  }
  return { rows, features, labels };
}

/** The weather model's data: the same numbers on every platform (seeded, float32 features). */
export function weatherData(): WeatherData {
  const uniform = makeRandom(WEATHER.seed);
  const numClasses = WEATHER_CLASSES.length;
  const make = (rows: number) => clusters(uniform, rows, numClasses, WEATHER.numFeatures, WEATHER.separation);
  return { numClasses, numFeatures: WEATHER.numFeatures, train: make(WEATHER.trainRows), validation: make(WEATHER.validationRows), test: make(WEATHER.testRows) };
}

// ---------------------------------------------------------------------------------------------
// Question 5: the model

/** Softmax regression: logits = W·x + b, W stored class by class (numClasses × numFeatures). */
export interface LinearModel {
  numClasses: number;
  numFeatures: number;
  weights: Float64Array;
  bias: Float64Array;
}

export function logitsOf(model: LinearModel, set: LabeledSet, out = new Float32Array(set.rows * model.numClasses)): Float32Array {
  const { numClasses: K, numFeatures: D, weights, bias } = model;
  const x = set.features;
  for (let i = 0; i < set.rows; i++) {
    const row = i * D;
    for (let k = 0; k < K; k++) {
      let z = bias[k];
      const w = k * D;
      for (let d = 0; d < D; d++) z += x[row + d] * weights[w + d];
      out[i * K + k] = z;
    }
  }
  return out;
}

/**
 * Writes ∂L/∂z of the mean smoothed cross-entropy of `logits` (rows × numClasses) into `grad`:
 * (softmax(z) − y_smooth)/N. The library's crossEntropy is one (see `libraryGradient`); the
 * tests train the same model with a float64 one and compare.
 */
export type LossGradient = (logits: Float32Array, labels: Int32Array, numClasses: number, smoothing: number, grad: Float32Array) => void;

/** crossEntropy's own gradient (mean reduction, written into `grad`). */
export const libraryGradient = (xent: Xent): LossGradient => (logits, labels, numClasses, smoothing, grad) => {
  xent.crossEntropy(logits, labels, { numClasses, smoothing, grad });
};

/**
 * Full-batch gradient descent on the mean smoothed cross-entropy from zero weights: each step
 * one call of `gradient` gives ∂L/∂z = (softmax(z) − y_smooth)/N, and the chain rule through
 * z = W·x + b gives ∂L/∂W = Σ_i (∂L/∂z_i)·x_iᵀ and ∂L/∂b = Σ_i ∂L/∂z_i.
 */
export function trainSoftmaxRegression(gradient: LossGradient, data: WeatherData, smoothing: number, steps: number = WEATHER.steps, learningRate: number = WEATHER.learningRate): LinearModel {
  const { numClasses: K, numFeatures: D, train } = data;
  const model: LinearModel = { numClasses: K, numFeatures: D, weights: new Float64Array(K * D), bias: new Float64Array(K) };
  const logits = new Float32Array(train.rows * K);
  const grad = new Float32Array(train.rows * K);
  const weightGrad = new Float64Array(K * D);
  const biasGrad = new Float64Array(K);
  const x = train.features;
  const { weights, bias } = model;
  for (let step = 0; step < steps; step++) {
    logitsOf(model, train, logits);
    gradient(logits, train.labels, K, smoothing, grad);
    weightGrad.fill(0);
    biasGrad.fill(0);
    for (let i = 0; i < train.rows; i++) {
      const row = i * D;
      for (let k = 0; k < K; k++) {
        const g = grad[i * K + k];
        biasGrad[k] += g;
        const w = k * D;
        for (let d = 0; d < D; d++) weightGrad[w + d] += g * x[row + d];
      }
    }
    for (let j = 0; j < weightGrad.length; j++) weights[j] -= learningRate * weightGrad[j];
    for (let k = 0; k < K; k++) bias[k] -= learningRate * biasGrad[k];
  }
  return model;
}

/** Question 5's models: hard labels, the seed's ε = 0.1, and too much smoothing. */
export const STUDY_SMOOTHINGS = [0, 0.1, 0.3] as const;

export interface CalibrationStudy {
  smoothing: number;
  /** Accuracy on the 200 training rows. */
  trainAccuracy: number;
  /** The test set at T = 1. */
  test: EvaluationResult;
  /** fitTemperature on the validation set (its eceBefore / eceAfter are the validation set's). */
  fit: TemperatureFit;
  /** The test set at the fitted T. */
  calibrated: EvaluationResult;
}

/** Train at `smoothing`, evaluate on the test set, fit T on the validation set, evaluate the test set at T. */
export function studyCalibration(xent: Xent, data: WeatherData, smoothing: number): CalibrationStudy {
  const model = trainSoftmaxRegression(libraryGradient(xent), data, smoothing);
  const numClasses = data.numClasses;
  const train = xent.evaluate(logitsOf(model, data.train), data.train.labels, { numClasses });
  const testLogits = logitsOf(model, data.test);
  const fit = xent.fitTemperature(logitsOf(model, data.validation), data.validation.labels, { numClasses });
  return {
    smoothing,
    trainAccuracy: train.accuracy,
    test: xent.evaluate(testLogits, data.test.labels, { numClasses }),
    fit,
    calibrated: xent.evaluate(testLogits, data.test.labels, { numClasses, temperature: fit.temperature }),
  };
}

const four = (x: number) => x.toFixed(4);

/** One sentence per model, from its numbers: which way it is miscalibrated and what T does. */
export function describeStudy(s: CalibrationStudy): string {
  const gap = s.test.meanConfidence - s.test.accuracy;
  const lead = s.smoothing === 0 ? 'Hard labels' : `ε = ${s.smoothing}`;
  const how = gap > 0 ? `over-confident by ${four(gap)}` : `under-confident by ${four(-gap)}`;
  const fix = s.fit.temperature > 1 ? `T = ${s.fit.temperature.toFixed(2)} > 1 softens it` : `T = ${s.fit.temperature.toFixed(2)} < 1 sharpens it`;
  return `${lead}: confidence ${four(s.test.meanConfidence)} against accuracy ${four(s.test.accuracy)}, ${how} (ECE ${four(s.test.ece)}); ${fix} (ECE ${four(s.calibrated.ece)}).`;
}
