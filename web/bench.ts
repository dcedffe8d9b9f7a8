/**
 * In-tab benchmark: loss + gradient (ε = 0.1, mean) on one batch, for every backend this
 * browser can run and the textbook JS version, drawn as ns per logit.
 *
 * Each method gets one warm-up call (compiles, grows memory), then is timed in samples of
 * several calls for a time budget; the figure is the median sample per call. The gradient buffer is allocated once and passed
 * in, so the fast paths measure compute and copying, not the allocator.
 */
import { BACKENDS, createXent, type BackendName, type Xent } from '../src/index.js';
import { formatNumber } from './format.js';
import { drawnWidth, linearScale, resetSvg, svgElement } from './svg.js';
import { textbookCrossEntropy } from './textbook.js';

const SMOOTHING = 0.1;

interface Method {
  name: BackendName | 'textbook';
  label: string;
  color: string;
  run(logits: Float32Array, labels: Int32Array, numClasses: number, grad: Float32Array): number;
}

export interface BenchResult {
  name: Method['name'];
  label: string;
  color: string;
  nsPerElement: number;
  calls: number;
  loss: number;
}

const COLORS: Record<Method['name'], string> = {
  'wasm-relaxed-simd': '#d9480f',
  'wasm-simd': '#f76707',
  wasm: '#ffa94d',
  js: '#3b5bdb',
  textbook: '#98a2b3',
};

/** Every backend that loads here (fastest first), then the textbook baseline. */
export async function benchMethods(): Promise<Method[]> {
  const methods: Method[] = [];
  for (const backend of BACKENDS) {
    let xent: Xent;
    try {
      xent = await createXent({ backend });
    } catch {
      continue; // e.g. relaxed SIMD in an older browser
    }
    methods.push({
      name: backend,
      label: backend === 'js' ? 'js (tuned fallback)' : backend,
      color: COLORS[backend],
      run: (logits, labels, numClasses, grad) =>
        xent.crossEntropy(logits, labels, { numClasses, smoothing: SMOOTHING, grad }).loss,
    });
  }
  methods.push({
    name: 'textbook',
    label: 'textbook JS',
    color: COLORS.textbook,
    run: (logits, labels, numClasses, grad) => textbookCrossEntropy(logits, labels, numClasses, SMOOTHING, grad),
  });
  return methods;
}

/** Deterministic logits ~ N(0, 2²) (Box–Muller on a small LCG) and uniform labels. */
export function randomBatch(rows: number, numClasses: number): { logits: Float32Array; labels: Int32Array } {
  let state = 0x2545f491;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 4294967296;
  };
  const logits = new Float32Array(rows * numClasses);
  for (let i = 0; i < logits.length; i += 2) {
    const radius = 2 * Math.sqrt(-2 * Math.log(uniform()));
    const angle = 2 * Math.PI * uniform();
    logits[i] = radius * Math.cos(angle);
    if (i + 1 < logits.length) logits[i + 1] = radius * Math.sin(angle);
  }
  const labels = Int32Array.from({ length: rows }, () => Math.floor(uniform() * numClasses));
  return { logits, labels };
}

const nextFrame = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Time every method on an N×K batch; `onProgress` sees the results so far after each method. */
export async function runBenchmark(
  methods: Method[],
  rows: number,
  numClasses: number,
  budgetMs: number,
  onProgress: (results: BenchResult[], running: string | null) => void,
): Promise<BenchResult[]> {
  const { logits, labels } = randomBatch(rows, numClasses);
  const grad = new Float32Array(logits.length);
  const results: BenchResult[] = [];
  for (const method of methods) {
    onProgress(results, method.label);
    await nextFrame();
    const warmUpStart = performance.now();
    const loss = method.run(logits, labels, numClasses, grad);
    // Browsers coarsen performance.now() (to 0.1 ms without cross-origin isolation), so each
    // sample times enough calls to last about 5 ms.
    const callsPerSample = Math.max(1, Math.ceil(5 / Math.max(performance.now() - warmUpStart, 0.01)));
    const times: number[] = [];
    let calls = 0;
    const start = performance.now();
    do {
      const t0 = performance.now();
      for (let c = 0; c < callsPerSample; c++) method.run(logits, labels, numClasses, grad);
      times.push((performance.now() - t0) / callsPerSample);
      calls += callsPerSample;
    } while (performance.now() - start < budgetMs || times.length < 3);
    const nsPerElement = (median(times) * 1e6) / logits.length;
    results.push({ name: method.name, label: method.label, color: method.color, nsPerElement, calls, loss });
  }
  onProgress(results, null);
  return results;
}

/**
 * Horizontal bars of ns/element, each labelled with its value and its speed-up over the
 * textbook. Drawn at the SVG's CSS width (one unit per pixel); below 600 px each method's name
 * and value go on a line above its bar instead of beside it.
 */
export function renderBenchChart(svg: SVGSVGElement, results: BenchResult[], allLabels: string[]): void {
  const width = drawnWidth(svg);
  const narrow = width < 600;
  const rowHeight = narrow ? 46 : 40;
  const margin = narrow ? { left: 4, right: 8, top: 6, bottom: 30 } : { left: 170, right: 190, top: 10, bottom: 30 };
  const barTop = narrow ? 22 : 8;
  const barHeight = narrow ? 16 : rowHeight - 16;
  const height = margin.top + margin.bottom + rowHeight * allLabels.length;
  resetSvg(svg, width, height);
  const textbook = results.find((r) => r.name === 'textbook');
  const maxValue = Math.max(1e-9, ...results.map((r) => r.nsPerElement));
  const x = linearScale(0, maxValue, margin.left, width - margin.right);

  svgElement('text', { x: margin.left, y: height - 8 }, svg, narrow ? 'ns per logit, lower is faster' : 'ns per logit (loss + gradient), lower is faster');
  allLabels.forEach((label, i) => {
    const y0 = margin.top + i * rowHeight;
    const result = results.find((r) => r.label === label);
    const speedup = result && textbook && result !== textbook ? `  ·  ${formatNumber(textbook.nsPerElement / result.nsPerElement, 1)}× textbook` : '';
    const value = result ? `${formatNumber(result.nsPerElement, result.nsPerElement < 10 ? 2 : 1)} ns${speedup}` : '';
    if (narrow) {
      svgElement('text', { class: 'bar-name', x: margin.left, y: y0 + 15 }, svg, label);
      if (value) svgElement('text', { class: 'bar-value', x: width - margin.right, y: y0 + 15, 'text-anchor': 'end' }, svg, value);
    } else {
      svgElement('text', { class: 'bar-name', x: margin.left - 12, y: y0 + rowHeight / 2 + 4, 'text-anchor': 'end' }, svg, label);
    }
    if (!result) {
      svgElement('rect', { x: margin.left, y: y0 + barTop, width: width - margin.left - margin.right, height: barHeight, fill: '#f2f4f7', rx: 3 }, svg);
      return;
    }
    const bar = svgElement('rect', {
      class: 'bar',
      x: margin.left,
      y: y0 + barTop,
      width: Math.max(2, x(result.nsPerElement) - margin.left),
      height: barHeight,
      fill: result.color,
      rx: 3,
    }, svg);
    bar.dataset.method = result.name;
    bar.dataset.ns = String(result.nsPerElement);
    if (!narrow) svgElement('text', { class: 'bar-value', x: x(result.nsPerElement) + 8, y: y0 + rowHeight / 2 + 4 }, svg, value);
  });
}
