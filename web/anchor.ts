/**
 * The seed's worked example, live: weather classes, an ε slider and editable probabilities.
 * The trace and both losses come from `explain` (float64); the fused kernel then computes the
 * same smoothed loss from logits = log p, to show the fast path agrees with the textbook one.
 */
import { explain, type Explanation, type Xent } from '../src/index.js';
import { compareValues, formatNumber, formatSigned, setNumber } from './format.js';
import { linearScale, resetSvg, svgElement } from './svg.js';

export const CLASS_NAMES = ['sunny', 'cloudy', 'rainy', 'snowy'];
export const ANCHOR_PROBS = [0.1, 0.2, 0.6, 0.1];
export const ANCHOR_LABEL = 2;

export interface AnchorState {
  /** What the reader typed, one per class; p is these divided by their sum. */
  weights: number[];
  label: number;
  epsilon: number;
}

/** p = weights / Σ weights (the inputs make sure the weights are ≥ 0 and not all 0). */
export function normalise(weights: readonly number[]): number[] {
  const total = weights.reduce((sum, w) => sum + w, 0);
  return weights.map((w) => w / total);
}

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export function renderAnchor(state: AnchorState, xent: Xent): Explanation {
  const probs = normalise(state.weights);
  const explanation = explain(probs, state.label, {
    smoothing: state.epsilon,
    classNames: CLASS_NAMES,
    from: 'probs',
  });
  renderTrace(explanation, state.label);
  renderTargetsChart(explanation);

  setNumber(byId('hard-ce'), explanation.hardCE);
  setNumber(byId('smooth-ce'), explanation.smoothCE);
  setNumber(byId('optimal-gap'), explanation.optimalGap, state.epsilon === 0 ? 'none (∞)' : formatNumber(explanation.optimalGap, 2));
  renderKernelCheck(explanation, state, xent);
  byId('true-class-name').textContent = CLASS_NAMES[state.label];
  return explanation;
}

function renderTrace(explanation: Explanation, label: number): void {
  const body = byId<HTMLTableElement>('trace').tBodies[0];
  body.replaceChildren();
  explanation.rows.forEach((row, k) => {
    const tr = document.createElement('tr');
    tr.dataset.class = row.className;
    if (k === label) tr.className = 'is-true';
    const cells: Array<[string, number, string]> = [
      ['p', explanation.probs[k], formatNumber(explanation.probs[k])],
      ['yHard', row.yHard, formatNumber(row.yHard, 0)],
      ['ySmooth', row.ySmooth, formatNumber(row.ySmooth)],
      ['logP', row.logP, formatNumber(row.logP)],
      ['term', row.term, formatNumber(row.term)],
      ['gradHard', explanation.gradHard[k], formatSigned(explanation.gradHard[k])],
      ['gradSmooth', explanation.gradSmooth[k], formatSigned(explanation.gradSmooth[k])],
    ];
    const name = document.createElement('td');
    name.textContent = row.className;
    tr.appendChild(name);
    for (const [column, value, text] of cells) {
      const td = document.createElement('td');
      td.dataset.col = column;
      setNumber(td, value, text);
      if (column.startsWith('grad')) td.className = value < -5e-5 ? 'neg' : value > 5e-5 ? 'pos' : '';
      tr.appendChild(td);
    }
    body.appendChild(tr);
  });
  const totalTerm = explanation.rows.reduce((sum, row) => sum + row.term, 0);
  const foot = document.createElement('tr');
  foot.innerHTML =
    `<td>Σ</td><td>1</td><td>1</td><td>1</td><td></td>` +
    `<td data-col="term">${formatNumber(totalTerm)}</td><td>0</td><td>0</td>`;
  body.appendChild(foot);
}

/** Per class: p (grey bar), y_smooth (orange bar), y_hard (blue outline). */
function renderTargetsChart(explanation: Explanation): void {
  const svg = byId('targets-chart') as unknown as SVGSVGElement;
  const width = 220;
  const height = 190;
  const top = 10;
  const bottom = 160;
  resetSvg(svg, width, height);
  const y = linearScale(0, 1, bottom, top);
  for (const tick of [0, 0.5, 1]) {
    svgElement('line', { x1: 24, x2: width - 4, y1: y(tick), y2: y(tick), stroke: '#eef0f3' }, svg);
    svgElement('text', { x: 20, y: y(tick) + 4, 'text-anchor': 'end' }, svg, String(tick));
  }
  const groupWidth = (width - 30) / explanation.rows.length;
  explanation.rows.forEach((row, k) => {
    const x0 = 28 + k * groupWidth;
    const barWidth = (groupWidth - 10) / 2;
    const p = explanation.probs[k];
    svgElement('rect', { x: x0, y: y(p), width: barWidth, height: bottom - y(p), fill: 'var(--pred)', rx: 2 }, svg);
    svgElement('rect', { x: x0 + barWidth + 2, y: y(row.ySmooth), width: barWidth, height: bottom - y(row.ySmooth), fill: 'var(--smooth)', rx: 2 }, svg);
    if (row.yHard > 0) {
      svgElement('rect', { x: x0 - 2, y: y(1) , width: 2 * barWidth + 6, height: bottom - y(1), fill: 'none', stroke: 'var(--hard)', 'stroke-width': 2, rx: 3 }, svg);
    }
    svgElement('text', { x: x0 + barWidth + 1, y: bottom + 16, 'text-anchor': 'middle' }, svg, row.className);
  });
}

/** The fused kernel on logits = log p (float32) must reproduce explain's float64 smoothed CE. */
function renderKernelCheck(explanation: Explanation, state: AnchorState, xent: Xent): void {
  const logits = Float32Array.from(explanation.rows, (row) => row.logP);
  const { loss } = xent.crossEntropy(logits, [state.label], {
    numClasses: CLASS_NAMES.length,
    smoothing: state.epsilon,
  });
  setNumber(byId('kernel-loss'), loss);
  const check = byId('kernel-check');
  const { agrees, difference } = compareValues(loss, explanation.smoothCE);
  check.textContent = agrees
    ? `${xent.backend}: agrees with explain() (${difference})`
    : `${xent.backend}: differs from explain() (${difference})`;
  check.classList.toggle('is-bad', !agrees);
  check.dataset.agrees = String(agrees);
}

/** Build the ε slider, class select and probability inputs; call `onChange` after every edit. */
export function setUpAnchorControls(state: AnchorState, onChange: () => void): void {
  const slider = byId<HTMLInputElement>('epsilon');
  const sliderValue = byId<HTMLOutputElement>('epsilon-value');
  const showEpsilon = () => {
    sliderValue.textContent = state.epsilon.toFixed(3);
  };
  slider.value = String(state.epsilon);
  showEpsilon();
  slider.addEventListener('input', () => {
    state.epsilon = Number(slider.value);
    showEpsilon();
    onChange();
  });

  const select = byId<HTMLSelectElement>('true-class');
  select.replaceChildren(...CLASS_NAMES.map((name, k) => new Option(name, String(k), false, k === state.label)));
  select.addEventListener('change', () => {
    state.label = Number(select.value);
    markTrueInput();
    onChange();
  });

  const container = byId('prob-inputs');
  const reasons: HTMLElement[] = [];
  const inputs = CLASS_NAMES.map((name, k) => {
    const label = document.createElement('label');
    label.dataset.class = name;
    label.innerHTML = `<span>p(${name})</span>`;
    const input = document.createElement('input');
    Object.assign(input, { type: 'number', min: '0', max: '1', step: '0.01', value: String(state.weights[k]) });
    input.dataset.class = name;
    input.addEventListener('input', () => {
      if (validate()) onChange();
    });
    const reason = document.createElement('small');
    reason.className = 'reason';
    reason.id = `reason-${name}`;
    input.setAttribute('aria-describedby', reason.id);
    label.append(input, reason);
    container.appendChild(label);
    reasons.push(reason);
    return input;
  });

  /**
   * Checks every box; marks the invalid ones with a short reason. When all are valid, the
   * weights take the boxes' values (true); otherwise the state keeps the last valid weights,
   * and the table's caption says that it shows them (false).
   */
  const validate = (): boolean => {
    const values = inputs.map((input) => (input.value.trim() === '' ? NaN : Number(input.value)));
    const why: string[] = values.map((value) => (Number.isNaN(value) ? 'enter a number' : value < 0 ? 'must be ≥ 0' : ''));
    if (why.every((reason) => reason.length === 0) && values.every((value) => value === 0)) why.fill('all zero');
    inputs.forEach((input, k) => {
      reasons[k].textContent = why[k];
      if (why[k]) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    });
    const valid = why.every((reason) => reason.length === 0);
    const caption = byId('trace').querySelector('caption');
    if (caption) {
      caption.textContent = valid ? '' : 'Showing the last valid input: fix the marked probabilities to update.';
      caption.hidden = valid;
    }
    if (valid) state.weights = values;
    return valid;
  };
  const markTrueInput = () =>
    inputs.forEach((input, k) => input.parentElement?.classList.toggle('is-true', k === state.label));
  markTrueInput();

  byId('reset-probs').addEventListener('click', () => {
    inputs.forEach((input, k) => (input.value = String(ANCHOR_PROBS[k])));
    validate();
    onChange();
  });
}
