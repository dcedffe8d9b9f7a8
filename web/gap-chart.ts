/**
 * The loss as a function of the true-class logit gap g: logits [0, …, g, …, 0].
 * Both curves are one batched `crossEntropy` call each (one row per g, reduction 'none'),
 * so the chart is drawn from the library's own numbers.
 *
 * Closed forms, for checking by eye: hard CE = log(1 + (K−1)e^(−g)), falling towards 0 forever;
 * smoothed CE = log(e^g + K − 1) − (1 − ε + ε/K)·g, minimal at g* = log((1 − ε + ε/K)/(ε/K)).
 */
import type { Xent } from '../src/index.js';
import { formatNumber } from './format.js';
import { drawnWidth, linearScale, niceTicks, polylinePath, resetSvg, svgElement } from './svg.js';

const GAP_MIN = -2;
const GAP_MAX = 10;
const GAP_STEP = 0.05;

/** Row losses at every gap: logits are 0 except `gap` at the true class. */
function lossAlongGap(xent: Xent, gaps: Float32Array, label: number, numClasses: number, smoothing: number): Float32Array {
  const logits = new Float32Array(gaps.length * numClasses);
  gaps.forEach((gap, row) => (logits[row * numClasses + label] = gap));
  const labels = new Int32Array(gaps.length).fill(label);
  return xent.crossEntropy(logits, labels, { numClasses, smoothing, reduction: 'none' }).losses;
}

export interface GapChartInput {
  xent: Xent;
  epsilon: number;
  label: number;
  numClasses: number;
  /** g* from explain (Infinity for ε = 0). */
  optimalGap: number;
}

export function renderGapChart(svg: SVGSVGElement, input: GapChartInput): void {
  const { xent, epsilon, label, numClasses, optimalGap } = input;
  const count = Math.round((GAP_MAX - GAP_MIN) / GAP_STEP) + 1;
  const gaps = Float32Array.from({ length: count }, (_, i) => GAP_MIN + i * GAP_STEP);
  const hard = lossAlongGap(xent, gaps, label, numClasses, 0);
  const smooth = lossAlongGap(xent, gaps, label, numClasses, epsilon);
  const hasOptimum = Number.isFinite(optimalGap) && optimalGap <= GAP_MAX;
  const optimumLoss = hasOptimum
    ? lossAlongGap(xent, Float32Array.of(optimalGap), label, numClasses, epsilon)[0]
    : NaN;

  // Drawn at its CSS width: one unit per pixel, so the text is 12 px at any width.
  const width = drawnWidth(svg);
  const height = Math.min(330, Math.max(240, Math.round(width * 0.6)));
  const margin = { left: 54, right: 22, top: 16, bottom: 44 };
  resetSvg(svg, width, height);
  svg.dataset.epsilon = String(epsilon);
  svg.dataset.optimum = String(optimalGap);
  svg.dataset.optimumLoss = String(optimumLoss);

  const yMax = Math.max(...hard, ...smooth);
  const yTicks = niceTicks(0, yMax, 5);
  const yTop = Math.max(yTicks[yTicks.length - 1], yMax);
  const x = linearScale(GAP_MIN, GAP_MAX, margin.left, width - margin.right);
  const y = linearScale(0, yTop, height - margin.bottom, margin.top);

  // Grid and axes.
  const grid = svgElement('g', { class: 'grid' }, svg);
  const axis = svgElement('g', { class: 'axis' }, svg);
  for (const tick of yTicks) {
    svgElement('line', { x1: margin.left, x2: width - margin.right, y1: y(tick), y2: y(tick) }, grid);
    svgElement('text', { x: margin.left - 8, y: y(tick) + 4, 'text-anchor': 'end' }, axis, String(tick));
  }
  for (const tick of niceTicks(GAP_MIN, GAP_MAX, Math.max(4, Math.min(12, Math.floor((width - margin.left - margin.right) / 60))))) {
    svgElement('line', { x1: x(tick), x2: x(tick), y1: margin.top, y2: height - margin.bottom }, grid);
    svgElement('text', { x: x(tick), y: height - margin.bottom + 18, 'text-anchor': 'middle' }, axis, formatNumber(tick, 0));
  }
  svgElement('line', { x1: margin.left, x2: width - margin.right, y1: y(0), y2: y(0) }, axis);
  svgElement('line', { x1: margin.left, x2: margin.left, y1: margin.top, y2: y(0) }, axis);
  svgElement('text', { x: (margin.left + width - margin.right) / 2, y: height - 6, 'text-anchor': 'middle' }, axis,
    'logit gap g = z_true − z_other');
  svgElement('text', { x: 14, y: margin.top + (height - margin.top - margin.bottom) / 2, 'text-anchor': 'middle',
    transform: `rotate(-90 14 ${margin.top + (height - margin.top - margin.bottom) / 2})` }, axis, 'loss');

  // The two curves.
  const points = (losses: Float32Array) => Array.from(gaps, (gap, i) => [x(gap), y(losses[i])] as const);
  svgElement('path', { class: 'curve hard', d: polylinePath(points(hard)), 'data-series': 'hard' }, svg);
  svgElement('path', { class: 'curve smooth', d: polylinePath(points(smooth)), 'data-series': 'smooth' }, svg);
  // (On a phone there is no room beside the optimum's label: the legend says the same.)
  if (width >= 560) {
    svgElement('text', { class: 'hard-label', x: x(GAP_MAX) - 4, y: y(hard[count - 1]) - 10, 'text-anchor': 'end' }, svg,
      'hard CE → 0 only as g → ∞');
  }

  // The smoothed optimum: where softmax equals the smoothed target.
  if (hasOptimum) {
    const ox = x(optimalGap);
    const oy = y(optimumLoss);
    svgElement('line', { class: 'optimum-line', x1: ox, x2: ox, y1: oy, y2: y(0) }, svg);
    svgElement('circle', { class: 'optimum-dot', cx: ox, cy: oy, r: 5.5, 'data-testid': 'optimum-dot' }, svg);
    const rightHalf = ox > (margin.left + width) / 2;
    svgElement('text', { class: 'optimum-label', x: ox + (rightHalf ? -10 : 10), y: oy - 12, 'text-anchor': rightHalf ? 'end' : 'start' },
      svg, `g* = ${formatNumber(optimalGap, 2)}, loss ${formatNumber(optimumLoss, 3)}`);
  }
}

/** One line under the chart, e.g. "ε = 0.1: minimum 0.3449 at g* = 3.61 (softmax = smoothed target)". */
export function gapSummary(epsilon: number, optimalGap: number, svg: SVGSVGElement): string {
  if (epsilon === 0) return 'ε = 0: the two curves coincide and have no minimum.';
  if (optimalGap > GAP_MAX) return `g* = ${formatNumber(optimalGap, 2)} lies beyond the right edge.`;
  return `minimum ${formatNumber(Number(svg.dataset.optimumLoss), 4)} at g* = ${formatNumber(optimalGap, 2)}, where softmax = smoothed target`;
}
