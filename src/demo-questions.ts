/**
 * `npm start`, part 3: the seed's questions 4 and 5 answered with numbers the library
 * computes (src/calibration-demo.ts holds the computation, which the page draws too).
 */
import {
  OPTIMUM_CLASS_COUNTS,
  OPTIMUM_SMOOTHING,
  STUDY_SMOOTHINGS,
  WEATHER,
  WEATHER_CLASSES,
  describeStudy,
  studyCalibration,
  topOneAtOptimum,
  weatherData,
  type CalibrationStudy,
} from './calibration-demo.js';
import { fixed, section, table } from './demo-format.js';
import type { Xent } from './types.js';

function showOptimum(xent: Xent): void {
  const epsilon = OPTIMUM_SMOOTHING;
  section(`9. Question 4: the top-1 probability a smoothed model should show (ε = ${epsilon})`);
  console.log('  The smoothed loss is minimal where softmax(z) equals the smoothed target, so a perfectly');
  console.log('  fit example shows p_top = 1 − ε + ε/K, at the logit gap g* over every other class:');
  const rows = OPTIMUM_CLASS_COUNTS.map((K) => {
    const at = topOneAtOptimum(xent, epsilon, K);
    return [String(K), fixed(at.gap), fixed(at.topOne), fixed(at.evaluatedTopOne), at.largestGradient.toExponential(1)];
  });
  console.log(table(['K', 'gap g*', 'p_top = 1 − ε + ε/K', `${xent.backend} at g*`, 'max |∂L/∂z| at g*'], rows));
  console.log(`  As K grows, p_top falls toward 1 − ε = ${fixed(1 - epsilon)} and the gap grows like log(K(1 − ε)/ε).`);
  console.log('  With hard labels (ε = 0) there is no optimum: training pushes p_top toward 1.');
}

function showStudies(xent: Xent): void {
  section('10. Question 5: confidence against accuracy, a small model trained with and without smoothing');
  const K = WEATHER_CLASSES.length;
  console.log(`  Softmax regression on a synthetic weather task: ${K} classes, ${WEATHER.numFeatures} features of which ${K} carry the class`);
  console.log(`  (seed ${WEATHER.seed}); ${WEATHER.trainRows} training rows, ${WEATHER.steps} steps of full-batch gradient descent with crossEntropy's`);
  console.log(`  gradient (${xent.backend}); T from fitTemperature on ${WEATHER.validationRows} validation rows; every figure below on`);
  console.log(`  ${WEATHER.testRows} test rows (ECE over 15 bins).`);
  const data = weatherData();
  const studies: CalibrationStudy[] = STUDY_SMOOTHINGS.map((smoothing) => studyCalibration(xent, data, smoothing));
  const rows = studies.map((s) => [
    s.smoothing.toFixed(1),
    fixed(s.trainAccuracy),
    fixed(s.test.accuracy),
    fixed(s.test.meanConfidence),
    fixed(s.test.ece),
    s.fit.temperature.toFixed(3),
    fixed(s.calibrated.meanConfidence),
    fixed(s.calibrated.ece),
  ]);
  console.log(table(['ε', 'train acc', 'accuracy', 'mean conf', 'ECE', 'fitted T', 'mean conf at T', 'ECE at T'], rows));
  for (const s of studies) console.log(`  ${describeStudy(s)}`);
  const worst = Math.max(...studies.map((s) => s.calibrated.ece));
  console.log(`  Temperature scaling, the dual fix, keeps every prediction (accuracy unchanged) and brings each model's ECE to ≤ ${fixed(worst)}.`);
}

export function showQuestions(xent: Xent): void {
  showOptimum(xent);
  showStudies(xent);
}
