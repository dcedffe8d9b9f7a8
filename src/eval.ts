/**
 * Evaluating a model, not just its loss: softmax, per-row statistics, a streaming evaluator
 * (NLL, perplexity, accuracy, top-k, calibration bins, ECE/MCE/ACE, Brier, entropy) and
 * temperature scaling. Options are validated in eval-options.ts; the per-row work is the
 * backend's (assembly/stats.ts, js/stats.ts), which also adds each row to the evaluation's
 * f64 sums in row order — so an evaluation streamed in any split of `add` calls equals the
 * one-shot one bit for bit. This module turns sums into results and states.
 *
 * Definitions (N rows counted, bin b of B equal-width bins over [0, 1] holding confidences in
 * (b/B, (b+1)/B], 0 in the first bin and 1 in the last):
 *   ece = Σ_b (n_b/N)·|acc_b − conf_b| = Σ_b |correct_b − Σconf_b| / N
 *   mce = max over non-empty b of |acc_b − conf_b|
 *   ace = ece over equal-mass bins: rows sorted by confidence (stable in row order), bin b
 *         holding sorted rows [⌊bN/B⌋, ⌊(b+1)N/B⌋)
 * Every mean over no rows is 0 (as crossEntropy's 'mean' with nothing counted), so that a
 * result never holds NaN unless the logits did; perplexity = exp(nll) is then 1.
 */
import type { Accumulation, Backend, IndexArray, RowStatsOutputs, StatsRequest, TemperatureRequest } from './backend.js';
import { SUM_BRIER, SUM_CONFIDENCE, SUM_CORRECT, SUM_COUNT, SUM_ENTROPY, SUM_NLL, SUM_SMOOTHED, SUM_TOPK, sumsLength } from './backend.js';
import { evaluatorOptionsOf, fitOptionsOf, prepareBatch, prepareRowStats, prepareSoftmax } from './eval-options.js';
import { checkKnownKeys, checkOptionsObject, describe, LAYOUT_KEYS, withoutSignal } from './options.js';
import { float32LogitsOf } from './dtype.js';
import { classLayoutOf, toRowLayout } from './layout.js';
import { throwIfAborted } from './threads/abort.js';
import type {
  CalibrationBin, EvaluationResult, Evaluator, EvaluatorState, LabeledRowStats, ResolvedEvaluatorOptions,
  RowStats, StateNumber, TemperatureFit,
} from './types.js';

/** The backend a call of rows × numClasses runs on (auto sends tiny calls to JS). */
export type Pick = (rows: number, numClasses: number) => Backend;

export function softmaxWith(pick: Pick, logits: unknown, options: unknown): Float32Array {
  const { request, deliver } = prepareSoftmax(logits, options);
  pick(request.rows, request.numClasses).softmax(request);
  return deliver();
}

export function rowStatsWith(pick: Pick, logits: unknown, labels: unknown, options: unknown): RowStats | LabeledRowStats {
  const request = prepareRowStats(logits, labels, options, (rows, K) => pick(rows, K).countLabels);
  const out = rowStatsOutputs(request.rows, request.labels !== null);
  pick(request.rows, request.numClasses).rowStats(request, out);
  return rowStatsResult(out);
}

/** rowStats' output arrays for `rows` rows (the last two only with labels). */
export function rowStatsOutputs(rows: number, labeled: boolean): RowStatsOutputs {
  return {
    lse: new Float32Array(rows),
    confidence: new Float32Array(rows),
    prediction: new Int32Array(rows),
    entropy: new Float32Array(rows),
    targetLogProb: labeled ? new Float32Array(rows) : null,
    rank: labeled ? new Int32Array(rows) : null,
  };
}

export function rowStatsResult(out: RowStatsOutputs): RowStats | LabeledRowStats {
  const { lse, confidence, prediction, entropy, targetLogProb, rank } = out;
  return targetLogProb && rank ? { lse, confidence, prediction, entropy, targetLogProb, rank } : { lse, confidence, prediction, entropy };
}

// ---------------------------------------------------------------------------------------
// Results from sums

/** The equal-width bins, ece and mce from the sums. */
function calibrationOf(sums: Float64Array, topKs: number, bins: number): { bins: CalibrationBin[]; ece: number; mce: number } {
  const N = sums[SUM_COUNT];
  const binCount = SUM_TOPK + topKs;
  const list: CalibrationBin[] = [];
  let ece = 0;
  let mce = 0;
  for (let b = 0; b < bins; b++) {
    const count = sums[binCount + b];
    const confidence = sums[binCount + bins + b];
    const correct = sums[binCount + 2 * bins + b];
    const bin = {
      lo: b / bins,
      hi: (b + 1) / bins,
      count,
      meanConfidence: count > 0 ? confidence / count : 0,
      accuracy: count > 0 ? correct / count : 0,
    };
    list.push(bin);
    if (count > 0) {
      ece += Math.abs(correct - confidence) / N;
      const gap = Math.abs(bin.accuracy - bin.meanConfidence);
      mce = gap > mce || gap !== gap ? gap : mce;
    }
  }
  return { bins: list, ece, mce };
}

function resultOf(sums: Float64Array, ace: number, options: ResolvedEvaluatorOptions): EvaluationResult {
  const count = sums[SUM_COUNT];
  const mean = (index: number) => (count > 0 ? sums[index] / count : 0);
  const topK: Record<number, number> = {};
  options.topK.forEach((k, t) => (topK[k] = mean(SUM_TOPK + t)));
  const { bins, ece, mce } = calibrationOf(sums, options.topK.length, options.bins);
  const nll = mean(SUM_NLL);
  return {
    count,
    nll,
    perplexity: Math.exp(nll),
    smoothedLoss: mean(SUM_SMOOTHED),
    accuracy: mean(SUM_CORRECT),
    topK,
    meanConfidence: mean(SUM_CONFIDENCE),
    ece,
    mce,
    ace,
    brier: mean(SUM_BRIER),
    entropy: mean(SUM_ENTROPY),
    bins,
  };
}

// ---------------------------------------------------------------------------------------
// States: plain JSON-safe objects

const FORMAT = 'smoothxent-evaluator';

function encodeNumber(value: number): StateNumber {
  if (Number.isFinite(value)) return value;
  return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
}

function decodeNumber(value: unknown, what: string): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (value === 'NaN') return NaN;
  if (value === 'Infinity') return Infinity;
  if (value === '-Infinity') return -Infinity;
  throw new TypeError(`evaluator.merge: state.${what} must be a number (or 'NaN', 'Infinity', '-Infinity'), got ${describe(value)}`);
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUE = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) BASE64_VALUE[BASE64.charCodeAt(i)] = i;

/** Standard base64 of the keys as little-endian bytes (the same on every platform, no Buffer or btoa). */
function keysToBase64(keys: Uint32Array): string {
  const bytes = new Uint8Array(keys.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < keys.length; i++) view.setUint32(4 * i, keys[i], true);
  const parts: string[] = [];
  let line = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i];
    const b = i + 1 < bytes.length ? bytes[i + 1] : 0;
    const c = i + 2 < bytes.length ? bytes[i + 2] : 0;
    line += BASE64[a >> 2] + BASE64[((a & 3) << 4) | (b >> 4)] +
      (i + 1 < bytes.length ? BASE64[((b & 15) << 2) | (c >> 6)] : '=') +
      (i + 2 < bytes.length ? BASE64[c & 63] : '=');
    if (line.length >= 8192) {
      parts.push(line);
      line = '';
    }
  }
  parts.push(line);
  return parts.join('');
}

function keysFromBase64(text: unknown): Uint32Array {
  if (typeof text !== 'string') throw new TypeError(`evaluator.merge: state.rows must be a base64 string, got ${describe(text)}`);
  if (text.length % 4 !== 0) throw new RangeError(`evaluator.merge: state.rows must be base64 (a multiple of 4 characters), got ${text.length} characters`);
  const bytes = new Uint8Array((text.length / 4) * 3);
  for (let i = 0, o = 0; i < text.length; i += 4, o += 3) {
    const values = [0, 1, 2, 3].map((j) => {
      const code = text.charCodeAt(i + j);
      return code === 61 /* = */ ? 0 : code < 128 ? BASE64_VALUE[code] : -1;
    });
    if (values.some((v) => v < 0)) throw new RangeError(`evaluator.merge: state.rows is not base64 (at character ${i})`);
    bytes[o] = (values[0] << 2) | (values[1] >> 4);
    bytes[o + 1] = ((values[1] & 15) << 4) | (values[2] >> 2);
    bytes[o + 2] = ((values[2] & 3) << 6) | values[3];
  }
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const length = bytes.length - padding;
  if (length % 4 !== 0) throw new RangeError(`evaluator.merge: state.rows must hold 4 bytes per row, got ${length} bytes`);
  const keys = new Uint32Array(length / 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < keys.length; i++) keys[i] = view.getUint32(4 * i, true);
  return keys;
}

function sameOptions(a: ResolvedEvaluatorOptions, b: unknown): string | null {
  if (typeof b !== 'object' || b === null) return 'options';
  const other = b as Record<string, unknown>;
  for (const key of Object.keys(a) as (keyof ResolvedEvaluatorOptions)[]) {
    const mine = a[key];
    const theirs = other[key];
    const equal = Array.isArray(mine)
      ? Array.isArray(theirs) && theirs.length === mine.length && mine.every((v, i) => v === theirs[i])
      : Object.is(mine, theirs);
    if (!equal) return key;
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// The evaluator

/** Options of evaluator.add (a batch's layout and dtype, as evaluate takes them) and addAsync. */
const ADD_KEYS = [...LAYOUT_KEYS, 'dtype'] as const;
const ASYNC_KEYS = ['signal'] as const;
const ADD_ASYNC_KEYS = [...ADD_KEYS, ...ASYNC_KEYS] as const;

/** An evaluation's per-row work and sums, off the calling thread (a worker pool, src/threads/). */
export type AccumulateAsync = (request: StatsRequest, into: Accumulation, signal: AbortSignal | null, where: string) => Promise<number>;

/** Evaluations always run on one backend (never the tiny-call JS shortcut), so that a row's numbers do not depend on the batch it came in. */
export class EvaluatorImpl implements Evaluator {
  readonly options: Readonly<ResolvedEvaluatorOptions>;
  private sums: Float64Array;
  private keys = new Uint32Array(0);
  private size = 0;
  private readonly topK: Int32Array;
  /** addAsync calls run one after another; while one runs, the sync changes throw. */
  private tail: Promise<void> = Promise.resolve();
  private pendingAdds = 0;

  /** @param accumulateAsync the async form's worker pool, or null (addAsync runs here) */
  constructor(
    private readonly backend: Backend, options: unknown, where = 'createEvaluator',
    private readonly accumulateAsync: AccumulateAsync | null = null,
  ) {
    const resolved = evaluatorOptionsOf(options, where);
    this.options = Object.freeze({ ...resolved, topK: Object.freeze([...resolved.topK]) as number[] });
    this.topK = Int32Array.from(resolved.topK);
    this.sums = new Float64Array(sumsLength(resolved.topK.length, resolved.bins));
  }

  /** Room for `more` keys after the current ones (capacity doubles, so appends are amortised O(1)). */
  private reserve(more: number): void {
    const needed = this.size + more;
    if (needed <= this.keys.length) return;
    const grown = new Uint32Array(Math.max(needed, 2 * this.keys.length, 1024));
    grown.set(this.keys.subarray(0, this.size));
    this.keys = grown;
  }

  add(logits: unknown, labels: unknown, options?: unknown): void {
    const where = 'evaluator.add';
    this.checkIdle(where);
    this.addBatch(this.rowsOf(logits, options, where, ADD_KEYS), labels, where);
  }

  /**
   * A batch's logits as float32 rows, as `evaluate` makes them: 16-bit logits decoded (by the
   * backend's decoder), a class axis that is not last transposed into rows (src/layout.ts), so
   * that the rows, and hence the sums, are evaluate's. The class axis must have numClasses.
   */
  private rowsOf(logits: unknown, options: unknown, where: string, keys: readonly string[]): unknown {
    if (options !== undefined) {
      checkOptionsObject(options, where);
      checkKnownKeys(options, keys, where);
    }
    const decoded = float32LogitsOf(logits, options, where, (half, out) => this.backend.decodeHalf(half, out));
    const record = (decoded.options ?? {}) as Record<string, unknown>;
    if ((record.shape === undefined && record.classAxis === undefined) || !(decoded.logits instanceof Float32Array)) return decoded.logits;
    const layout = classLayoutOf(record, decoded.logits.length, where) as NonNullable<ReturnType<typeof classLayoutOf>>;
    const K = this.options.numClasses;
    if (layout.numClasses !== K) {
      throw new RangeError(`${where}: the class axis of shape [${(record.shape as number[]).join(', ')}] has ${layout.numClasses} classes, but this evaluator's numClasses is ${K}`);
    }
    return layout.inner > 1 ? toRowLayout(decoded.logits, K, layout.inner) : decoded.logits;
  }

  /** add, with the caller's name in error messages (evaluate is a one-shot evaluator). */
  addBatch(logits: unknown, labels: unknown, where: string): void {
    this.checkIdle(where);
    const { request, into } = this.begin(logits, labels, where);
    this.commit(into, this.backend.accumulateStats(request, into));
  }

  /** add on a worker: the same sums bit for bit; calls on one evaluator run in order. */
  addAsync(logits: unknown, labels: unknown, options?: unknown): Promise<void> {
    return this.addBatchAsync(logits, labels, 'evaluator.addAsync', options, ADD_ASYNC_KEYS);
  }

  /** @param keys the options taken besides `signal` (the layout's, for addAsync; none for the calls that pass rows) */
  async addBatchAsync(logits: unknown, labels: unknown, where: string, options?: unknown, keys: readonly string[] = ASYNC_KEYS): Promise<void> {
    if (options !== undefined) {
      checkOptionsObject(options, where);
      checkKnownKeys(options, keys, where);
    }
    const split = withoutSignal(options, where);
    const signal = split.signal;
    const previous = this.tail;
    let done!: () => void;
    this.tail = new Promise<void>((resolve) => (done = resolve));
    this.pendingAdds++;
    try {
      await previous;
      throwIfAborted(signal);
      const rows = keys === ASYNC_KEYS ? logits : this.rowsOf(logits, split.options, where, keys);
      const { request, into } = this.begin(rows, labels, where);
      const counted = this.accumulateAsync ? await this.accumulateAsync(request, into, signal, where) : this.backend.accumulateStats(request, into);
      this.commit(into, counted);
    } finally {
      this.pendingAdds--;
      done();
    }
  }

  private checkIdle(where: string): void {
    if (this.pendingAdds > 0) throw new Error(`${where}: an addAsync on this evaluator is still running; await it first`);
  }

  /**
   * A batch checked and ready: the sums are updated on a copy and committed at the end; keys
   * land after `size`, which only moves at the end too: nothing changes unless the whole batch
   * went through.
   */
  private begin(logits: unknown, labels: unknown, where: string): { request: StatsRequest; into: Accumulation } {
    const batch = prepareBatch(this.options, logits, labels, where, this.backend.countLabels);
    this.reserve(batch.rows);
    const request: StatsRequest = {
      logits: batch.logits, labels: batch.labels, rows: batch.rows, numClasses: this.options.numClasses,
      temperature: this.options.temperature, smoothing: this.options.smoothing, ignoreIndex: this.options.ignoreIndex,
    };
    return { request, into: { sums: this.sums.slice(), topK: this.topK, bins: this.options.bins, keys: this.keys, keysAt: this.size } };
  }

  private commit(into: Accumulation, counted: number): void {
    this.sums = into.sums;
    this.size += counted;
  }

  result(): EvaluationResult {
    return resultOf(this.sums, this.backend.ace(this.keys.subarray(0, this.size), this.options.bins), this.options);
  }

  reset(): void {
    this.checkIdle('evaluator.reset');
    this.sums.fill(0);
    this.keys = new Uint32Array(0);
    this.size = 0;
  }

  state(): EvaluatorState {
    const s = this.sums;
    const T = this.options.topK.length;
    const B = this.options.bins;
    const list = (from: number, n: number) => Array.from(s.subarray(from, from + n), encodeNumber);
    return {
      format: FORMAT,
      version: 1,
      options: { ...this.options, topK: [...this.options.topK] },
      count: encodeNumber(s[SUM_COUNT]),
      correct: encodeNumber(s[SUM_CORRECT]),
      nll: encodeNumber(s[SUM_NLL]),
      smoothedLoss: encodeNumber(s[SUM_SMOOTHED]),
      entropy: encodeNumber(s[SUM_ENTROPY]),
      brier: encodeNumber(s[SUM_BRIER]),
      confidence: encodeNumber(s[SUM_CONFIDENCE]),
      topK: list(SUM_TOPK, T),
      binCount: list(SUM_TOPK + T, B),
      binConfidence: list(SUM_TOPK + T + B, B),
      binCorrect: list(SUM_TOPK + T + 2 * B, B),
      rows: keysToBase64(this.keys.subarray(0, this.size)),
    };
  }

  merge(state: EvaluatorState): void {
    const where = 'evaluator.merge';
    this.checkIdle(where);
    if (typeof state !== 'object' || state === null || Array.isArray(state)) throw new TypeError(`${where}: state must be an object from evaluator.state(), got ${describe(state)}`);
    const record = state as unknown as Record<string, unknown>;
    if (record.format !== FORMAT || record.version !== 1) {
      throw new TypeError(`${where}: state must come from evaluator.state() (format '${FORMAT}', version 1), got format ${describe(record.format)}, version ${describe(record.version)}`);
    }
    const differs = sameOptions(this.options, record.options);
    if (differs !== null) {
      const theirs = typeof record.options === 'object' && record.options !== null ? (record.options as Record<string, unknown>)[differs] : record.options;
      throw new RangeError(`${where}: the state's options must equal this evaluator's: ${differs} is ${describe(theirs)} there, ${describe(this.options[differs as keyof ResolvedEvaluatorOptions])} here`);
    }
    const T = this.options.topK.length;
    const B = this.options.bins;
    const incoming = new Float64Array(this.sums.length);
    const scalars: [string, number][] = [
      ['count', SUM_COUNT], ['correct', SUM_CORRECT], ['nll', SUM_NLL], ['smoothedLoss', SUM_SMOOTHED],
      ['entropy', SUM_ENTROPY], ['brier', SUM_BRIER], ['confidence', SUM_CONFIDENCE],
    ];
    for (const [name, index] of scalars) incoming[index] = decodeNumber(record[name], name);
    const lists: [string, number, number][] = [['topK', SUM_TOPK, T], ['binCount', SUM_TOPK + T, B], ['binConfidence', SUM_TOPK + T + B, B], ['binCorrect', SUM_TOPK + T + 2 * B, B]];
    for (const [name, from, n] of lists) {
      const values = record[name];
      if (!Array.isArray(values) || values.length !== n) throw new TypeError(`${where}: state.${name} must be an array of ${n} numbers, got ${describe(values)}`);
      values.forEach((v, i) => (incoming[from + i] = decodeNumber(v, `${name}[${i}]`)));
    }
    const keys = keysFromBase64(record.rows);
    if (keys.length !== incoming[SUM_COUNT]) {
      throw new RangeError(`${where}: state.rows must hold one entry per counted row (count ${incoming[SUM_COUNT]}), got ${keys.length}`);
    }
    this.reserve(keys.length);
    this.keys.set(keys, this.size);
    for (let i = 0; i < incoming.length; i++) this.sums[i] += incoming[i];
    this.size += keys.length;
  }
}

// ---------------------------------------------------------------------------------------
// Temperature scaling

/** More passes than a converging search needs: a guard, never reached in the tests. */
const MAX_PASSES = 50;

/**
 * The T in bounds minimising the mean NLL of softmax(z/T): safeguarded Newton in β = 1/T, on
 * which the NLL is convex. Each pass gives NLL'(β) and NLL''(β); the bracket [lo, hi] of β
 * shrinks with the sign of NLL'. A Newton step that leaves the bracket is replaced by the
 * bound it crossed when that bound was not evaluated yet (so an optimum at a bound costs one
 * pass, not a bisection series), else by the bracket's midpoint. β is rounded to float32 (the
 * kernels scale in f32), so the derivative is that of the very NLL evaluated.
 */
export function fitTemperatureWith(backend: Backend, logits: unknown, labels: unknown, options: unknown): TemperatureFit {
  const steps = fitSteps(backend, logits, labels, options, 'fitTemperature', null);
  for (let next = steps.next(); ; ) {
    if (next.done) return next.value;
    const work = next.value;
    if ('pass' in work) {
      next = steps.next(backend.temperatureSums(work.pass));
    } else {
      work.add.evaluator.add(work.add.logits, work.add.labels);
      next = steps.next(undefined);
    }
  }
}

/** fitTemperature's passes and evaluations on a worker pool (`pool`), or here when null. */
export interface FitPool {
  temperatureSumsAsync(request: TemperatureRequest, signal: AbortSignal | null, where: string): Promise<Float64Array>;
  accumulateStatsAsync: AccumulateAsync;
}

/** fitTemperature without blocking: the same passes, so the same T bit for bit. */
export async function fitTemperatureAsyncWith(
  backend: Backend, pool: FitPool | null, logits: unknown, labels: unknown, options: unknown, signal: AbortSignal | null,
): Promise<TemperatureFit> {
  const where = 'fitTemperatureAsync';
  const steps = fitSteps(backend, logits, labels, options, where, pool ? (...args) => pool.accumulateStatsAsync(...args) : null);
  for (let next = steps.next(); ; ) {
    if (next.done) return next.value;
    const work = next.value;
    if ('pass' in work) {
      throwIfAborted(signal);
      next = steps.next(pool ? await pool.temperatureSumsAsync(work.pass, signal, where) : backend.temperatureSums(work.pass));
    } else {
      await work.add.evaluator.addBatchAsync(work.add.logits, work.add.labels, where, signal ? { signal } : undefined);
      next = steps.next(undefined);
    }
  }
}

/** What a fit asks of whoever runs it: one temperature pass (yields its sums), or an evaluator's batch. */
type FitWork = { pass: TemperatureRequest } | { add: { evaluator: EvaluatorImpl; logits: Float32Array; labels: IndexArray } };

/**
 * The fit as a generator of work, so that the sync and async forms run the very same steps:
 * `yield { pass }` gets that pass's sums back; `yield { add }` returns once the batch is added.
 */
function* fitSteps(
  backend: Backend, logits: unknown, labels: unknown, options: unknown, where: string, accumulateAsync: AccumulateAsync | null,
): Generator<FitWork, TemperatureFit, Float64Array | undefined> {
  const settings = fitOptionsOf(options, where);
  const evaluation = { numClasses: settings.numClasses, ignoreIndex: settings.ignoreIndex, bins: settings.bins, topK: [] };
  const before = new EvaluatorImpl(backend, evaluation, where, accumulateAsync);
  const batch = prepareBatch(before.options, logits, labels, where, backend.countLabels);
  yield { add: { evaluator: before, logits: batch.logits, labels: batch.labels } };
  const start = before.result();
  if (start.count === 0) {
    return { temperature: 1, nllBefore: 0, nllAfter: 0, eceBefore: 0, eceAfter: 0, iterations: 0, atBound: false };
  }
  const request = { logits: batch.logits, labels: batch.labels, rows: batch.rows, numClasses: settings.numClasses, ignoreIndex: settings.ignoreIndex, beta: 1 };
  const [tLo, tHi] = settings.bounds;
  const betaMin = Math.fround(1 / tHi);
  const betaMax = Math.fround(1 / tLo);
  let lo = betaMin;
  let hi = betaMax;
  let loSeen = false;
  let hiSeen = false;
  let beta = Math.min(hi, Math.max(lo, 1));
  let iterations = 0;
  let lastStep = 0;
  let lastNewton = 0;
  let atBound = false;
  let finite = true;
  while (iterations < MAX_PASSES) {
    const sums = (yield { pass: { ...request, beta } }) as Float64Array;
    iterations++;
    const slope = sums[2] / sums[0];
    const curvature = sums[3] / sums[0];
    if (!Number.isFinite(slope) || !Number.isFinite(sums[1])) {
      finite = false;
      break;
    }
    if (slope === 0) break;
    if (slope > 0) {
      hi = beta;
      hiSeen = true;
    } else {
      lo = beta;
      loSeen = true;
    }
    // At a bound with the NLL still falling beyond it: the optimum is the bound.
    if ((slope < 0 && beta === hi) || (slope > 0 && beta === lo)) {
      atBound = true;
      break;
    }
    const newton = curvature > 0 ? -slope / curvature : NaN;
    // Newton crawls where the NLL has an exponential tail (separable rows: a step of about
    // 1/margin whatever the distance): when its step is not at most half the one before in
    // the same direction, take twice the last step taken instead, so that a far optimum or
    // bound is reached in a few passes; near an optimum Newton's steps shrink fast and are kept.
    const crawling = newton * lastNewton > 0 && Math.abs(newton) > 0.5 * Math.abs(lastNewton);
    let next = beta + (crawling ? Math.sign(newton) * Math.max(Math.abs(newton), 2 * Math.abs(lastStep)) : newton);
    lastNewton = newton;
    if (!(next > lo && next < hi)) {
      if (slope < 0 && !hiSeen) next = hi;
      else if (slope > 0 && !loSeen) next = lo;
      else next = (lo + hi) / 2;
    }
    next = Math.fround(next);
    const done = Math.abs(next - beta) <= 2e-7 * beta;
    lastStep = next - beta;
    beta = next;
    if (done || lo === hi) break;
  }
  // The bounds exactly (β holds them rounded to float32), and never a T outside them.
  const temperature = !finite ? NaN : atBound ? (beta === betaMin ? tHi : tLo) : Math.min(tHi, Math.max(tLo, 1 / beta));
  const after = new EvaluatorImpl(backend, { ...evaluation, temperature: finite ? temperature : 1 }, where, accumulateAsync);
  yield { add: { evaluator: after, logits: batch.logits, labels: batch.labels } };
  const end = after.result();
  return {
    temperature,
    nllBefore: start.nll,
    nllAfter: finite ? end.nll : NaN,
    eceBefore: start.ece,
    eceAfter: finite ? end.ece : NaN,
    iterations,
    atBound,
  };
}
