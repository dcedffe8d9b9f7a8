/**
 * Checks that run inside the browser page (bundled into it by browser.test.ts) and, where a
 * comparison needs it, in Node too. Each takes the library module as an argument and returns
 * plain data, so the test can compare the page's answers with Node's.
 */
import type * as Smoothxent from '../../src/index.js';
import type { BackendName, Xent } from '../../src/index.js';

type Library = typeof Smoothxent;

/** The seed's anchor: p = [0.1, 0.2, 0.6, 0.1], true class 2 (rainy), K = 4. */
export const ANCHOR_PROBS = [0.1, 0.2, 0.6, 0.1];
export const ANCHOR_LABEL = 2;

/** What `auto` picks, and which forced backends load (with the reason for those that do not). */
export async function backendChoice(lib: Library): Promise<{
  auto: BackendName;
  available: BackendName[];
  unavailable: Record<string, string>;
}> {
  const auto = (await lib.createXent()).backend;
  const available: BackendName[] = [];
  const unavailable: Record<string, string> = {};
  for (const backend of lib.BACKENDS) {
    try {
      available.push((await lib.createXent({ backend })).backend);
    } catch (error) {
      unavailable[backend] = String(error);
    }
  }
  return { auto, available, unavailable };
}

async function everyBackend(lib: Library): Promise<Xent[]> {
  const xents: Xent[] = [];
  for (const backend of lib.BACKENDS) {
    try {
      xents.push(await lib.createXent({ backend }));
    } catch {
      // Reported by backendChoice; here we run what loads.
    }
  }
  return xents;
}

export interface AnchorResult {
  backend: BackendName;
  hardLoss: number;
  smoothLoss: number;
  hardGrad: number[];
  smoothGrad: number[];
}

/** The anchor on every backend: logits = log p, so softmax(logits) = p. */
export async function anchorOnEveryBackend(lib: Library): Promise<AnchorResult[]> {
  const logits = Float32Array.from(ANCHOR_PROBS, Math.log);
  return (await everyBackend(lib)).map((xent) => {
    const hard = xent.crossEntropy(logits, [ANCHOR_LABEL], { numClasses: 4, grad: true });
    const smooth = xent.crossEntropy(logits, [ANCHOR_LABEL], { numClasses: 4, smoothing: 0.1, grad: true });
    return {
      backend: xent.backend,
      hardLoss: hard.loss,
      smoothLoss: smooth.loss,
      hardGrad: Array.from(hard.grad ?? []),
      smoothGrad: Array.from(smooth.grad ?? []),
    };
  });
}

/** Deterministic logits ~ N(0, σ²) (Box–Muller on a small LCG) and uniform labels. */
export function randomBatch(rows: number, numClasses: number, sigma: number) {
  let state = 12345;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 4294967296;
  };
  const logits = new Float32Array(rows * numClasses);
  for (let i = 0; i < logits.length; i++) {
    logits[i] = sigma * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  }
  const labels = Int32Array.from({ length: rows }, () => Math.floor(uniform() * numClasses));
  return { logits, labels };
}

export interface BatchComparison {
  backend: BackendName;
  loss: number;
  jsLoss: number;
  referenceLoss: number;
  /** |loss − jsLoss| / |jsLoss| */
  lossErrorVsJs: number;
  /** max_k |grad_k − jsGrad_k| · N (the gradient carries the 1/N of 'mean'). */
  gradErrorVsJs: number;
  /** The same two against the float64 reference. */
  lossErrorVsReference: number;
  gradErrorVsReference: number;
  milliseconds: number;
}

/** Label-smoothed mean loss and gradient in float64, straight from the kernel contract. */
function float64Reference(logits: Float32Array, labels: Int32Array, numClasses: number, smoothing: number) {
  const rows = labels.length;
  const grad = new Float64Array(logits.length);
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const row = logits.subarray(i * numClasses, (i + 1) * numClasses);
    let max = -Infinity;
    let sumLogits = 0;
    for (const z of row) {
      max = Math.max(max, z);
      sumLogits += z;
    }
    let sumExp = 0;
    for (const z of row) sumExp += Math.exp(z - max);
    const lse = max + Math.log(sumExp);
    total += lse - (1 - smoothing) * row[labels[i]] - (smoothing / numClasses) * sumLogits;
    for (let k = 0; k < numClasses; k++) {
      const target = smoothing / numClasses + (k === labels[i] ? 1 - smoothing : 0);
      grad[i * numClasses + k] = (Math.exp(row[k] - lse) - target) / rows;
    }
  }
  return { loss: total / rows, grad };
}

/** max_i |a_i − b_i|, with NaN reported as Infinity (a NaN must not hide behind a comparison). */
export function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const difference = Math.abs(a[i] - b[i]);
    if (!(difference <= max)) max = Number.isNaN(difference) ? Infinity : difference;
  }
  return max;
}

/**
 * A big batch (default 512 × 32000, logits ~ N(0, 3²), ε = 0.1, mean, with gradient) on every
 * backend, against the js backend and against a float64 reference.
 */
export async function largeBatchAgainstJs(lib: Library, rows = 512, numClasses = 32000): Promise<BatchComparison[]> {
  const { logits, labels } = randomBatch(rows, numClasses, 3);
  const smoothing = 0.1;
  const reference = float64Reference(logits, labels, numClasses, smoothing);
  const js = await lib.createXent({ backend: 'js' });
  const jsGrad = new Float32Array(logits.length);
  const jsLoss = js.crossEntropy(logits, labels, { numClasses, smoothing, grad: jsGrad }).loss;
  const grad = new Float32Array(logits.length);
  const comparisons: BatchComparison[] = [];
  for (const xent of await everyBackend(lib)) {
    const start = performance.now();
    const { loss } = xent.crossEntropy(logits, labels, { numClasses, smoothing, grad });
    const milliseconds = performance.now() - start;
    comparisons.push({
      backend: xent.backend,
      loss,
      jsLoss,
      referenceLoss: reference.loss,
      lossErrorVsJs: Math.abs(loss - jsLoss) / Math.abs(jsLoss),
      gradErrorVsJs: maxDifference(grad, jsGrad) * rows,
      lossErrorVsReference: Math.abs(loss - reference.loss) / Math.abs(reference.loss),
      gradErrorVsReference: maxDifference(grad, reference.grad) * rows,
      milliseconds,
    });
  }
  return comparisons;
}

export interface EvaluationOutcome {
  backend: BackendName;
  result: Smoothxent.EvaluationResult;
  temperature: number;
  /** The anchor's probabilities by xent.softmax. */
  anchorProbs: number[];
}

/**
 * The evaluation calls on every backend: a 300 × 100 batch (with a class signal) evaluated with
 * ε = 0.1, a temperature fitted, and the anchor through xent.softmax. Node compares them with
 * its own js backend.
 */
export async function evaluationOnEveryBackend(lib: Library): Promise<EvaluationOutcome[]> {
  const { logits, labels } = classifierBatch();
  const anchor = Float32Array.from(ANCHOR_PROBS, Math.log);
  return (await everyBackend(lib)).map((xent) => ({
    backend: xent.backend,
    result: xent.evaluate(logits, labels, { numClasses: 100, smoothing: 0.1 }),
    temperature: xent.fitTemperature(logits, labels, { numClasses: 100 }).temperature,
    anchorProbs: Array.from(xent.softmax(anchor, { numClasses: 4 })),
  }));
}

/** randomBatch's logits with the label's logit raised by up to 6: a classifier worth calibrating. */
export function classifierBatch(): { logits: Float32Array; labels: Int32Array } {
  const { logits, labels } = randomBatch(300, 100, 3);
  for (let i = 0; i < labels.length; i++) logits[i * 100 + labels[i]] += (6 * ((i * 37) % 100)) / 100;
  return { logits, labels };
}

export interface ErrorOutcome {
  case: string;
  /** The error's class name, or 'no error'. */
  name: string;
  message: string;
}

/**
 * Bad input, identically in Node and the page: every case must throw, before any work, an error
 * whose class and message match Node's exactly.
 */
export async function errorCases(lib: Library): Promise<ErrorOutcome[]> {
  const xent = await lib.createXent({ backend: 'js' });
  const fastest = await lib.createXent();
  const logits = Float32Array.from(ANCHOR_PROBS, Math.log);
  const cases: Array<[string, () => unknown]> = [
    ['Float64Array logits', () => fastest.crossEntropy(new Float64Array(4) as never, [2], { numClasses: 4 })],
    ['numClasses 0', () => fastest.crossEntropy(logits, [2], { numClasses: 0 })],
    ['numClasses 2.5', () => fastest.crossEntropy(logits, [2], { numClasses: 2.5 })],
    ['numClasses missing', () => fastest.crossEntropy(logits, [2], {} as never)],
    ['logits length not N·K', () => fastest.crossEntropy(new Float32Array(5), [2], { numClasses: 4 })],
    ['label out of range', () => fastest.crossEntropy(logits, [4], { numClasses: 4 })],
    ['float label', () => fastest.crossEntropy(logits, [2.5], { numClasses: 4 })],
    ['Float32Array labels', () => fastest.crossEntropy(logits, new Float32Array([2]) as never, { numClasses: 4 })],
    ['smoothing NaN', () => fastest.crossEntropy(logits, [2], { numClasses: 4, smoothing: NaN })],
    ['smoothing 1.5', () => fastest.crossEntropy(logits, [2], { numClasses: 4, smoothing: 1.5 })],
    ['smoothing "0.1"', () => fastest.crossEntropy(logits, [2], { numClasses: 4, smoothing: '0.1' as never })],
    ['unknown reduction', () => fastest.crossEntropy(logits, [2], { numClasses: 4, reduction: 'avg' as never })],
    ['unknown option', () => fastest.crossEntropy(logits, [2], { numClasses: 4, smoothin: 0.1 } as never)],
    ['grad buffer too short', () => fastest.crossEntropy(logits, [2], { numClasses: 4, grad: new Float32Array(3) })],
    ['js backend, Float64Array logits', () => xent.crossEntropy(new Float64Array(4) as never, [2], { numClasses: 4 })],
    ['evaluate, topK above K', () => fastest.evaluate(logits, [2], { numClasses: 4, topK: [1, 5] })],
    ['evaluate, bins 0', () => fastest.evaluate(logits, [2], { numClasses: 4, bins: 0 })],
    ['evaluate, shift without sequenceLength', () => fastest.evaluate(logits, [2], { numClasses: 4, shift: true })],
    ['fitTemperature, bounds [2, 1]', () => fastest.fitTemperature(logits, [2], { numClasses: 4, bounds: [2, 1] })],
    ['softmax, temperature 0', () => fastest.softmax(logits, { numClasses: 4, temperature: 0 })],
    ['explain, label 4', () => lib.explain(ANCHOR_PROBS, 4, { smoothing: 0.1 })],
    ['labelSmooth, epsilon 2', () => lib.labelSmooth(2, 2, 4)],
  ];
  const outcomes: ErrorOutcome[] = [];
  for (const [name, call] of cases) {
    try {
      call();
      outcomes.push({ case: name, name: 'no error', message: '' });
    } catch (error) {
      const e = error as Error;
      outcomes.push({ case: name, name: e.constructor.name, message: e.message });
    }
  }
  const unknownBackend = await lib.createXent({ backend: 'gpu' as never }).then(
    () => ({ name: 'no error', message: '' }),
    (e: Error) => ({ name: e.constructor.name, message: e.message }),
  );
  outcomes.push({ case: 'createXent unknown backend', ...unknownBackend });
  return outcomes;
}

/** One backend's float16 / bfloat16 calls against the float32 call on the decoded logits. */
export interface HalfOutcome {
  backend: BackendName;
  /** Whether this runtime has Float16Array (Chrome ≥ 135). */
  hasFloat16Array: boolean;
  /** Cases whose loss, losses or gradient bits differed from the float32 call's ('' when none). */
  mismatches: string[];
}

/**
 * 16-bit logits on every backend: a Float16Array (where the page has one, decoded by the
 * browser itself), its bits as a Uint16Array with dtype 'float16', and bfloat16 bits (the high
 * halves of float32 values), each against the float32 call on the decoded values, bit for bit;
 * a 16-bit gradient against the float32 gradient rounded by the browser's Float16Array.
 */
export async function halfOnEveryBackend(lib: Library): Promise<HalfOutcome[]> {
  const Float16 = (globalThis as { Float16Array?: new (values: ArrayLike<number> | ArrayBufferLike) => ArrayLike<number> & ArrayBufferView }).Float16Array;
  const { logits, labels } = randomBatch(64, 1000, 3);
  const options = { numClasses: 1000, smoothing: 0.1, reduction: 'none', lse: true } as const;
  const sameBits = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
    return true;
  };
  return (await everyBackend(lib)).map((xent) => {
    const mismatches: string[] = [];
    const check = (name: string, got: { losses: Float32Array; lse: Float32Array; grad: Float32Array }, want: typeof got) => {
      for (const key of ['losses', 'lse', 'grad'] as const) if (!sameBits(got[key], want[key])) mismatches.push(`${name}: ${key}`);
    };
    // bfloat16: the high half of each float32.
    const words = new Uint32Array(logits.buffer.slice(0));
    const bf16 = Uint16Array.from(words, (w) => w >>> 16);
    const bf16Values = new Float32Array(Uint32Array.from(bf16, (h) => h << 16).buffer);
    check('bfloat16', xent.crossEntropy(bf16, labels, { ...options, dtype: 'bfloat16', grad: true }), xent.crossEntropy(bf16Values, labels, { ...options, grad: true }));
    if (Float16) {
      const f16 = new Float16(logits);
      const decoded = Float32Array.from(f16);
      const want = xent.crossEntropy(decoded, labels, { ...options, grad: true });
      check('Float16Array', xent.crossEntropy(f16 as unknown as Uint16Array, labels, { ...options, grad: true }), want);
      const bits = new Uint16Array(f16.buffer);
      check('float16 bits', xent.crossEntropy(bits, labels, { ...options, dtype: 'float16', grad: true }), want);
      const grad16 = new Float16(new ArrayBuffer(2 * bits.length));
      xent.crossEntropy(f16 as unknown as Uint16Array, labels, { ...options, grad: grad16 as unknown as Uint16Array });
      if (!sameBits(grad16, new Float16(want.grad))) mismatches.push('float16 gradient');
    }
    return { backend: xent.backend, hasFloat16Array: Float16 !== undefined, mismatches };
  });
}
