/**
 * Calibration, live: the weather model of `npm start` (src/calibration-demo.ts, the same code
 * and seed) trained in this tab at the ε of the section's slider. Its reliability diagram on
 * the test set before and after temperature scaling (reliabilityDiagram of evaluate, T from
 * fitTemperature on the validation set), the figures behind them, and ECE against ε.
 *
 * A training takes ~0.1–0.3 s, so the slider never queues them: while one runs, only the
 * latest ε is remembered, and each ε is trained once (cached). The sweep for the ECE chart
 * trains the remaining grid points one per task in between, so the slider stays responsive.
 */
import { reliabilityDiagram, type EvaluationResult, type Xent } from '../src/index.js';
import { WEATHER, describeStudy, studyCalibration, weatherData, type CalibrationStudy, type WeatherData } from '../src/calibration-demo.js';
import { renderSweepChart, SWEEP_SMOOTHINGS } from './calibration-sweep.js';
import { formatNumber, setNumber } from './format.js';
import { drawnWidth, redrawOnResize } from './svg.js';

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** The diagrams' size: their box's width (one SVG unit per CSS px), tall enough for the caption on a phone. */
function diagramSize(box: HTMLElement): { width: number; height: number } {
  const width = Math.min(520, Math.max(240, drawnWidth(box, 420)));
  return { width, height: Math.max(360, width) };
}

function renderDiagram(side: 'before' | 'after', result: EvaluationResult, title: string): void {
  const box = byId(`reliability-${side}-box`);
  box.innerHTML = reliabilityDiagram(result, { ...diagramSize(box), title });
  const svg = box.querySelector('svg');
  if (svg) {
    svg.id = `reliability-${side}`;
    svg.dataset.testid = `reliability-${side}`;
  }
}

function renderStudy(study: CalibrationStudy): void {
  const epsilon = formatNumber(study.smoothing, 3);
  const temperature = study.fit.temperature;
  renderDiagram('before', study.test, `Before: T = 1 (trained at ε = ${epsilon})`);
  renderDiagram('after', study.calibrated, `After temperature scaling: T = ${formatNumber(temperature, 3)}`);
  setNumber(byId('cal-accuracy'), study.test.accuracy);
  setNumber(byId('cal-confidence-before'), study.test.meanConfidence);
  setNumber(byId('cal-confidence-after'), study.calibrated.meanConfidence);
  setNumber(byId('cal-ece-before'), study.test.ece);
  setNumber(byId('cal-ece-after'), study.calibrated.ece);
  setNumber(byId('cal-temperature'), temperature, formatNumber(temperature, 3));
  byId('cal-summary').textContent = describeStudy(study);
  byId('calibration').dataset.epsilon = String(study.smoothing);
}

export function setUpCalibration(xent: Xent): void {
  // The note's figures from the model's own settings.
  document.querySelectorAll<HTMLElement>('#calibration [data-weather]').forEach((span) => {
    span.textContent = String(WEATHER[span.dataset.weather as keyof typeof WEATHER]);
  });
  const section = byId('calibration');
  const slider = byId<HTMLInputElement>('calibration-epsilon');
  const shown = byId('calibration-epsilon-value');
  const sweepChart = document.getElementById('calibration-sweep') as unknown as SVGSVGElement;
  let data: WeatherData | undefined;
  const studies = new Map<number, CalibrationStudy>();
  const studyAt = (smoothing: number): CalibrationStudy => {
    let study = studies.get(smoothing);
    if (!study) {
      data ??= weatherData();
      study = studyCalibration(xent, data, smoothing);
      studies.set(smoothing, study);
    }
    return study;
  };

  let current: CalibrationStudy | undefined;
  const drawSweep = () => renderSweepChart(sweepChart, studies, current?.smoothing ?? Number(slider.value));
  let wanted = Number(slider.value);
  let running = false;

  /** One task: the wanted ε if it is not drawn yet, else the next grid point of the sweep. */
  const work = () => {
    if (current?.smoothing !== wanted) {
      current = studyAt(wanted);
      renderStudy(current);
    } else {
      const next = SWEEP_SMOOTHINGS.find((smoothing) => !studies.has(smoothing));
      if (next !== undefined) studyAt(next);
    }
    drawSweep();
    const sweepDone = SWEEP_SMOOTHINGS.every((smoothing) => studies.has(smoothing));
    sweepChart.dataset.state = sweepDone ? 'done' : 'running';
    if (current.smoothing === wanted) section.dataset.state = 'done';
    if (current.smoothing !== wanted || !sweepDone) setTimeout(work, 0);
    else running = false;
  };
  const request = () => {
    wanted = Number(slider.value);
    shown.textContent = formatNumber(wanted, 3);
    if (current?.smoothing !== wanted) section.dataset.state = 'running';
    if (!running) {
      running = true;
      setTimeout(work, 0);
    }
  };

  slider.addEventListener('input', request);
  // The first ε is drawn now, before the page says it is ready; the sweep follows in tasks.
  current = studyAt(wanted);
  renderStudy(current);
  section.dataset.state = 'done';
  drawSweep();
  running = true;
  setTimeout(work, 0);
  for (const side of ['before', 'after'] as const) {
    redrawOnResize(byId(`reliability-${side}-box`), () => current && renderStudy(current));
  }
  redrawOnResize(sweepChart, drawSweep);
}
