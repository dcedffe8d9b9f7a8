/**
 * The numbers behind `npm start`'s answers to the seed's questions 4 and 5 and the page's
 * calibration section (src/calibration-demo.ts), on every backend and against float64:
 * the top-1 probability at the smoothed optimum is 1 − ε + ε/K and the gradient vanishes
 * there; the weather model trained with hard labels is over-confident, smoothing lowers its
 * confidence, too much smoothing makes it under-confident, and temperature scaling fitted on
 * the validation set brings the test set's ECE down in every case. The same model trained
 * with a float64 gradient and measured with the float64 reference gives the same figures.
 */
import { describe, expect, it } from 'vitest';
import {
  OPTIMUM_CLASS_COUNTS,
  OPTIMUM_SMOOTHING,
  STUDY_SMOOTHINGS,
  WEATHER,
  logitsOf,
  studyCalibration,
  topOneAtOptimum,
  trainSoftmaxRegression,
  weatherData,
  type CalibrationStudy,
  type LossGradient,
} from '../src/calibration-demo.js';
import { createAllBackends } from './backends.js';
import { referenceEvaluate, referenceTemperature } from './eval-reference.js';
import { referenceCrossEntropy } from './reference.js';

const xents = await createAllBackends();
const data = weatherData();

/** (softmax(z) − y_smooth)/N in float64 (rounded to float32 only where the trainer stores it). */
const float64Gradient: LossGradient = (logits, labels, numClasses, smoothing, grad) => {
  grad.set(referenceCrossEntropy(logits, labels, { numClasses, smoothing }).grad);
};

/** The study in float64: the model trained with float64 gradients, measured with the reference. */
function referenceStudy(smoothing: number) {
  const model = trainSoftmaxRegression(float64Gradient, data, smoothing);
  const numClasses = data.numClasses;
  const test = logitsOf(model, data.test);
  const { temperature } = referenceTemperature(logitsOf(model, data.validation), data.validation.labels, numClasses);
  return {
    test: referenceEvaluate(test, data.test.labels, { numClasses }),
    temperature,
    calibrated: referenceEvaluate(test, data.test.labels, { numClasses, temperature }),
  };
}

describe('question 4: the top-1 probability at the smoothed optimum', () => {
  it('is 1 − ε + ε/K (0.925, 0.91, 0.9001 at ε = 0.1), and the gradient vanishes at that gap', () => {
    expect(OPTIMUM_SMOOTHING).toBe(0.1);
    expect(OPTIMUM_CLASS_COUNTS).toEqual([4, 10, 1000]);
    const expected = { 4: 0.925, 10: 0.91, 1000: 0.9001 };
    for (const xent of xents) {
      for (const K of OPTIMUM_CLASS_COUNTS) {
        const at = topOneAtOptimum(xent, OPTIMUM_SMOOTHING, K);
        const what = `${xent.backend} K = ${K}`;
        expect(at.topOne, what).toBeCloseTo(expected[K], 12);
        expect(at.topOne.toFixed(4), what).toBe(expected[K].toFixed(4));
        expect(at.gap, what).toBeCloseTo(Math.log((0.9 + 0.1 / K) / (0.1 / K)), 12);
        // The library, fed the float32 gap, sees the same probability to float32 accuracy…
        expect(Math.abs(at.evaluatedTopOne - at.topOne), what).toBeLessThanOrEqual(1e-6);
        // …and a gradient of zero up to float32 rounding (it is 0.075 at a zero gap, K = 4).
        expect(at.largestGradient, what).toBeLessThanOrEqual(1e-6);
      }
    }
  });

  it('gives a gradient away from zero off the optimum (so the check above can fail)', () => {
    const xent = xents[0];
    const logits = new Float32Array(4);
    logits[0] = topOneAtOptimum(xent, 0.1, 4).gap + 1;
    const { grad } = xent.crossEntropy(logits, [0], { numClasses: 4, smoothing: 0.1, grad: true });
    expect(Math.max(...grad.map(Math.abs))).toBeGreaterThan(0.01);
  });
});

describe('question 5: the weather model, with and without smoothing', () => {
  it('is seeded: the same data every time, 200 / 1000 / 4000 rows with balanced labels', () => {
    const again = weatherData();
    expect(again.train.features).toEqual(data.train.features);
    expect(again.test.labels).toEqual(data.test.labels);
    expect([data.train.rows, data.validation.rows, data.test.rows]).toEqual([WEATHER.trainRows, WEATHER.validationRows, WEATHER.testRows]);
    expect(data.train.features.length).toBe(WEATHER.trainRows * WEATHER.numFeatures);
    const counts = [0, 0, 0, 0];
    for (const y of data.test.labels) counts[y]++;
    expect(counts).toEqual([1000, 1000, 1000, 1000]);
  });

  const studies = new Map<string, CalibrationStudy[]>();
  for (const xent of xents) studies.set(xent.backend, STUDY_SMOOTHINGS.map((smoothing) => studyCalibration(xent, data, smoothing)));
  const reference = STUDY_SMOOTHINGS.map(referenceStudy);

  it('hard labels: over-confident on new data (confidence above accuracy by > 0.1), and T > 1 fixes most of it', () => {
    for (const [backend, [hard]] of studies) {
      expect(hard.smoothing).toBe(0);
      expect(hard.trainAccuracy, backend).toBeGreaterThan(hard.test.accuracy + 0.1); // it overfits the 200 rows
      expect(hard.test.meanConfidence - hard.test.accuracy, backend).toBeGreaterThan(0.1);
      expect(hard.test.ece, backend).toBeGreaterThan(0.1);
      expect(hard.fit.temperature, backend).toBeGreaterThan(2);
      expect(hard.fit.atBound, backend).toBe(false);
      expect(hard.calibrated.ece, backend).toBeLessThan(hard.test.ece / 4);
      expect(hard.calibrated.meanConfidence, backend).toBeLessThan(hard.test.meanConfidence);
    }
  });

  it('ε = 0.1 lowers the mean confidence and the ECE; ε = 0.3 is under-confident and wants T < 1', () => {
    for (const [backend, [hard, smoothed, heavy]] of studies) {
      expect(smoothed.smoothing).toBe(0.1);
      expect(smoothed.test.meanConfidence, backend).toBeLessThan(hard.test.meanConfidence - 0.05);
      expect(smoothed.test.ece, backend).toBeLessThan(hard.test.ece / 2);
      expect(smoothed.test.nll, backend).toBeLessThan(hard.test.nll);
      expect(heavy.test.meanConfidence, backend).toBeLessThan(heavy.test.accuracy - 0.05);
      expect(heavy.fit.temperature, backend).toBeLessThan(1);
      expect(heavy.calibrated.meanConfidence, backend).toBeGreaterThan(heavy.test.meanConfidence);
    }
  });

  it('temperature scaling never raises the ECE: on the validation set it is fitted on, and on the test set', () => {
    for (const [backend, list] of studies) {
      for (const study of list) {
        const what = `${backend} ε = ${study.smoothing}`;
        expect(study.fit.eceAfter, what).toBeLessThanOrEqual(study.fit.eceBefore);
        expect(study.fit.nllAfter, what).toBeLessThanOrEqual(study.fit.nllBefore);
        expect(study.calibrated.ece, what).toBeLessThanOrEqual(study.test.ece);
        expect(study.calibrated.ece, what).toBeLessThan(0.03);
        // Dividing the logits by T > 0 keeps every argmax: the accuracy is the same.
        expect(study.calibrated.accuracy, what).toBe(study.test.accuracy);
      }
    }
  });

  it('gives the same figures on every backend and in float64', () => {
    // Seen here: every gap ≤ 1e-7 (temperatures ≤ 4e-7 relative), the same accuracy.
    for (const [backend, list] of studies) {
      list.forEach((study, i) => {
        const ref = reference[i];
        const gaps = {
          accuracy: Math.abs(study.test.accuracy - ref.test.accuracy),
          confidence: Math.abs(study.test.meanConfidence - ref.test.meanConfidence),
          ece: Math.abs(study.test.ece - ref.test.ece),
          temperature: Math.abs(study.fit.temperature - ref.temperature) / ref.temperature,
          eceAfter: Math.abs(study.calibrated.ece - ref.calibrated.ece),
        };
        const what = `${backend} ε = ${study.smoothing}: ${JSON.stringify(gaps)}`;
        expect(gaps.accuracy, what).toBeLessThanOrEqual(1 / WEATHER.testRows);
        expect(gaps.confidence, what).toBeLessThanOrEqual(1e-6);
        // (A row whose confidence sat within 1e-6 of a bin edge could move the ECE by ~1e-4.)
        expect(gaps.ece, what).toBeLessThanOrEqual(1e-5);
        expect(gaps.temperature, what).toBeLessThanOrEqual(1e-5);
        expect(gaps.eceAfter, what).toBeLessThanOrEqual(1e-5);
      });
    }
  });
});
