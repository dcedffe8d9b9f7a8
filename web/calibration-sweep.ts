/**
 * ECE against the training ε: the weather model trained at each ε of a grid, its test ECE at
 * T = 1 and after temperature scaling. Drawn from whichever grid points are trained so far
 * (the page trains them in the background), with the slider's ε marked.
 */
import type { CalibrationStudy } from '../src/calibration-demo.js';
import { formatNumber } from './format.js';
import { drawnWidth, linearScale, niceTicks, polylinePath, resetSvg, svgElement } from './svg.js';

/** 0, 0.05, …, 0.5: every other stop of the section's slider (step 0.025), so slider values hit the cache. */
export const SWEEP_SMOOTHINGS: readonly number[] = Array.from({ length: 11 }, (_, i) => Number((i * 0.05).toFixed(2)));
const MAX_SMOOTHING = 0.5;

export function renderSweepChart(svg: SVGSVGElement, studies: ReadonlyMap<number, CalibrationStudy>, current: number): void {
  const width = drawnWidth(svg);
  const height = Math.min(300, Math.max(220, Math.round(width * 0.45)));
  const margin = { left: 54, right: 18, top: 14, bottom: 44 };
  resetSvg(svg, width, height);
  // Grid points first (in ε order), then the slider's ε when it lies between them.
  const points = [...studies.values()].sort((a, b) => a.smoothing - b.smoothing);
  const onGrid = points.filter((study) => SWEEP_SMOOTHINGS.includes(study.smoothing));
  const yMax = Math.max(0.05, ...points.map((study) => Math.max(study.test.ece, study.calibrated.ece)));
  const yTicks = niceTicks(0, yMax, 4);
  const yTop = Math.max(yTicks[yTicks.length - 1], yMax);
  const x = linearScale(0, MAX_SMOOTHING, margin.left, width - margin.right);
  const y = linearScale(0, yTop, height - margin.bottom, margin.top);

  const grid = svgElement('g', { class: 'grid' }, svg);
  const axis = svgElement('g', { class: 'axis' }, svg);
  for (const tick of yTicks) {
    svgElement('line', { x1: margin.left, x2: width - margin.right, y1: y(tick), y2: y(tick) }, grid);
    svgElement('text', { x: margin.left - 8, y: y(tick) + 4, 'text-anchor': 'end' }, axis, formatNumber(tick, 2));
  }
  for (const tick of niceTicks(0, MAX_SMOOTHING, width < 500 ? 5 : 10)) {
    svgElement('line', { x1: x(tick), x2: x(tick), y1: margin.top, y2: height - margin.bottom }, grid);
    svgElement('text', { x: x(tick), y: height - margin.bottom + 18, 'text-anchor': 'middle' }, axis, formatNumber(tick, 2));
  }
  svgElement('line', { x1: margin.left, x2: width - margin.right, y1: y(0), y2: y(0) }, axis);
  svgElement('line', { x1: margin.left, x2: margin.left, y1: margin.top, y2: y(0) }, axis);
  svgElement('text', { x: (margin.left + width - margin.right) / 2, y: height - 6, 'text-anchor': 'middle' }, axis, 'training smoothing ε');
  const middle = margin.top + (height - margin.top - margin.bottom) / 2;
  svgElement('text', { x: 14, y: middle, 'text-anchor': 'middle', transform: `rotate(-90 14 ${middle})` }, axis, 'test ECE');

  svgElement('line', { class: 'sweep-current', x1: x(current), x2: x(current), y1: margin.top, y2: y(0), 'data-epsilon': String(current) }, svg);
  for (const [series, pick] of [['before', (s: CalibrationStudy) => s.test.ece], ['after', (s: CalibrationStudy) => s.calibrated.ece]] as const) {
    svgElement('path', { class: `curve sweep-${series}`, d: polylinePath(onGrid.map((s) => [x(s.smoothing), y(pick(s))] as const)), 'data-series': series }, svg);
    for (const study of points) {
      svgElement('circle', {
        class: `sweep-dot sweep-${series}`, cx: x(study.smoothing), cy: y(pick(study)), r: study.smoothing === current ? 5.5 : 3.5,
        'data-series': series, 'data-epsilon': String(study.smoothing), 'data-ece': String(pick(study)),
      }, svg);
    }
  }
}
