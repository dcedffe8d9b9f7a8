/**
 * The page: the seed's worked example, the loss along the logit gap, a model's calibration
 * with and without smoothing and temperature scaling, and an in-tab benchmark, all computed
 * by smoothxent in this browser. Plain DOM, no framework.
 *
 * Query parameters (used by the browser test): `benchMs` (time budget per method, default 600),
 * `shape` (preselected benchmark shape, e.g. 256x1000).
 */
import './style.css';
import { createXent, type Xent } from '../src/index.js';
import { ANCHOR_LABEL, ANCHOR_PROBS, CLASS_NAMES, renderAnchor, setUpAnchorControls, type AnchorState } from './anchor.js';
import { benchMethods, renderBenchChart, runBenchmark } from './bench.js';
import { setUpCalibration } from './calibration.js';
import { gapSummary, renderGapChart } from './gap-chart.js';
import { redrawOnResize } from './svg.js';

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const svgById = (id: string) => document.getElementById(id) as unknown as SVGSVGElement;

function renderAll(state: AnchorState, xent: Xent): void {
  const explanation = renderAnchor(state, xent);
  const gapChart = svgById('gap-chart');
  renderGapChart(gapChart, {
    xent,
    epsilon: state.epsilon,
    label: state.label,
    numClasses: CLASS_NAMES.length,
    optimalGap: explanation.optimalGap,
  });
  byId('gap-epsilon').textContent = state.epsilon.toFixed(3);
  byId('gap-summary').textContent = gapSummary(state.epsilon, explanation.optimalGap, gapChart);
}

async function setUpBenchmark(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const budgetMs = Number(params.get('benchMs') ?? 600);
  const shapeSelect = byId<HTMLSelectElement>('bench-shape');
  const preselected = params.get('shape');
  if (preselected && Array.from(shapeSelect.options).some((o) => o.value === preselected)) shapeSelect.value = preselected;
  const button = byId<HTMLButtonElement>('bench-run');
  const status = byId('bench-status');
  const chart = svgById('bench-chart');

  const methods = await benchMethods();
  const labels = methods.map((m) => m.label);
  let shown: Parameters<typeof renderBenchChart>[1] = [];
  renderBenchChart(chart, shown, labels);
  redrawOnResize(chart, () => renderBenchChart(chart, shown, labels));

  button.addEventListener('click', async () => {
    const [rows, numClasses] = shapeSelect.value.split('x').map(Number);
    button.disabled = shapeSelect.disabled = true;
    status.dataset.state = 'running';
    try {
      const results = await runBenchmark(methods, rows, numClasses, budgetMs, (partial, running) => {
        shown = partial.slice();
        renderBenchChart(chart, shown, labels);
        status.textContent = running ? `timing ${running}…` : '';
      });
      const fastest = results.reduce((best, r) => (r.nsPerElement < best.nsPerElement ? r : best));
      status.textContent = `${rows} × ${numClasses}: fastest is ${fastest.label}`;
      status.dataset.state = 'done';
    } catch (error) {
      status.textContent = `benchmark failed: ${(error as Error).message}`;
      status.dataset.state = 'error';
    } finally {
      button.disabled = shapeSelect.disabled = false;
    }
  });
}

async function main(): Promise<void> {
  const xent = await createXent();
  const badge = byId('backend-badge');
  badge.textContent = xent.backend;
  badge.title = 'the backend createXent() picked in this browser';

  const state: AnchorState = { weights: ANCHOR_PROBS.slice(), label: ANCHOR_LABEL, epsilon: 0.1 };
  setUpAnchorControls(state, () => renderAll(state, xent));
  renderAll(state, xent);
  redrawOnResize(svgById('gap-chart'), () => renderAll(state, xent));
  setUpCalibration(xent);
  await setUpBenchmark();

  const pageStatus = byId('page-status');
  pageStatus.textContent = 'ready';
  document.body.dataset.ready = 'true';
}

main().catch((error: unknown) => {
  const pageStatus = byId('page-status');
  pageStatus.textContent = `failed to start: ${(error as Error).message}`;
  pageStatus.dataset.error = String(error);
  document.body.dataset.ready = 'error';
  throw error;
});
