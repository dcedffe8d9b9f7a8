/**
 * smoothxent: label-smoothed softmax cross-entropy, loss and gradient, on WebAssembly
 * SIMD with a pure-JS fallback that gives the same answers.
 *
 *   const xent = await createXent();            // picks the fastest backend that works here
 *   const { loss, grad } = xent.crossEntropy(logits, labels, { numClasses: 1000, smoothing: 0.1, grad: true });
 */
import type { Backend, BatchStorage, HardRequest, LabelCounter } from './backend.js';
import { JsBackend } from './js/backend.js';
import {
  describe, prepareHard, prepareSoft, hardSettings, labelsOf, scaleOf, checkKnownKeys, checkOptionsObject, reductionOf, booleanOf,
  signalOf, threadsOf, badTargetError, withoutSignal, CREATE_KEYS, BATCH_KEYS, BATCH_ASYNC_KEYS, type Outputs,
} from './options.js';
import { SharedBatch, Threading, throwIfAborted, yieldToEventLoop } from './threads/index.js';
import { WasmBackend } from './wasm/bridge.js';
import { EvaluatorImpl, fitTemperatureAsyncWith, fitTemperatureWith, rowStatsOutputs, rowStatsResult, rowStatsWith, softmaxWith, type AccumulateAsync } from './eval.js';
import { prepareRowStats, prepareSoftmax } from './eval-options.js';
import { rowsCall } from './layout.js';
import { pooledBackend } from './threads/pooled.js';
import { float32LogitsOf } from './dtype.js';
import { compile, type WasmBackendName } from './wasm/load.js';
import { BACKENDS, type Logits, type AsyncOptions, type Batch, type BatchOptions, type BackendName, type CreateOptions, type Evaluator, type EvaluationResult, type Reduction, type TemperatureFit, type Xent } from './types.js';

export * from './types.js';
export { labelSmooth, crossEntropyFromProbs, explain, optimalLogitGap, softmax, klDivergence } from './seed.js';
export type { Explanation, ExplainRow, ExplainOptions } from './seed.js';
export { reliabilityDiagram } from './diagram.js';
export type { ReliabilityDiagramOptions } from './diagram.js';

const DEFAULT_ARENA_BYTES = 16 * 1024 * 1024;
const MIN_ARENA_BYTES = 64 * 1024;

/**
 * Builds the public result from the kernel's row-loss sum and the outputs; `count` (rows
 * counted, or their total weight) rides along with 'mean' and 'sum'.
 */
function resultOf(sum: number, outputs: Outputs, denominator: number, count: number) {
  const extra: { grad?: ArrayBufferView; lse?: Float32Array } = {};
  if (outputs.grad) extra.grad = outputs.grad;
  if (outputs.lse) extra.lse = outputs.lse;
  if (outputs.reduction === 'none') return { losses: outputs.losses as Float32Array, ...extra };
  // 'mean' with nothing counted (no rows, all ignored, zero total weight) is 0, not NaN.
  const loss = outputs.reduction === 'sum' ? sum : denominator > 0 ? sum / denominator : 0;
  return { loss, count, ...extra };
}

/**
 * 'mean' with nothing counted: loss 0 and a zero gradient, whatever the logits hold (the
 * kernel's gradient would be 0·p, which is NaN for non-finite rows). lse is still computed.
 */
function countsNothing(request: HardRequest, reduction: Reduction, denominator: number): boolean {
  return reduction === 'mean' && !(denominator > 0) && (request.grad !== null || Boolean(request.half?.grad));
}

/** The request without its gradient (f32 or 16-bit). */
const withoutGrad = (request: HardRequest): HardRequest => ({ ...request, grad: null, half: request.half ? { ...request.half, grad: null } : null });

/** Zeros the gradient (16-bit zeros are +0 bits too). */
function zeroGrad(request: HardRequest): void {
  request.grad?.fill(0);
  request.half?.grad?.fill(0);
}

function runHard(hard: (request: HardRequest) => number, request: HardRequest, reduction: Reduction, denominator: number): number {
  if (!countsNothing(request, reduction, denominator)) return hard(request);
  const sum = request.lse ? hard(withoutGrad(request)) : 0;
  zeroGrad(request);
  return sum;
}

async function runHardAsync(hard: (request: HardRequest) => Promise<number>, request: HardRequest, reduction: Reduction, denominator: number): Promise<number> {
  if (!countsNothing(request, reduction, denominator)) return hard(request);
  const sum = request.lse ? await hard(withoutGrad(request)) : 0;
  zeroGrad(request);
  return sum;
}

/**
 * Tiny calls (a few rows of a few classes) cost less in JS than the fixed cost of a wasm
 * call: measured on Node 20, JS wins for up to 16 elements, and for up to 32 in fewer than
 * four rows. `auto` sends those to the JS backend (a forced backend is always used as is).
 */
function isTiny(rows: number, numClasses: number): boolean {
  const size = rows * numClasses;
  return size <= 16 || (size <= 32 && rows < 4);
}

/** Soft targets checked by the async form: in slices, letting the event loop run between them. */
const TARGET_CHECK_SLICE = 1 << 22;

class XentImpl implements Xent {
  private disposed = false;

  /** @param tiny the backend for tiny calls (auto only), else null */
  constructor(private readonly impl: Backend, private readonly tiny: Backend | null, private readonly threading: Threading) {}

  get backend(): BackendName {
    return this.impl.name;
  }

  get threads(): number {
    return this.threading.threads;
  }

  get sharedMemory(): boolean {
    return this.threading.sharedMemory;
  }

  private pick(rows: number, numClasses: number): Backend {
    return this.tiny && isTiny(rows, numClasses) ? this.tiny : this.impl;
  }

  private checkAlive(where: string): void {
    if (this.disposed) throw new Error(`${where}: this xent was disposed`);
  }

  /** The label counter of the backend a call of this size runs on. */
  private readonly counter = (rows: number, numClasses: number) => this.pick(rows, numClasses).countLabels;
  /** The target checker of the backend a call of this size runs on. */
  private readonly checker = (rows: number, numClasses: number) => this.pick(rows, numClasses).firstBadTarget;

  crossEntropy(logits: Logits, labels: unknown, options: unknown) {
    this.checkAlive('crossEntropy');
    const { request, outputs, denominator, counted } = prepareHard(logits, labels, options, this.counter);
    const backend = this.pick(request.rows, request.numClasses);
    const pool = backend === this.impl ? this.threading.syncPool(request.rows, request.numClasses) : null;
    const hard = pool ? (r: HardRequest) => pool.hard(r, 'crossEntropy') : (r: HardRequest) => backend.hard(r);
    const sum = runHard(hard, request, outputs.reduction, denominator);
    return resultOf(sum, outputs, denominator, counted) as never;
  }

  softCrossEntropy(logits: Logits, targets: Float32Array, options: unknown) {
    this.checkAlive('softCrossEntropy');
    const { request, outputs, denominator } = prepareSoft(logits, targets, options, this.checker);
    const backend = this.pick(request.rows, request.numClasses);
    const pool = backend === this.impl ? this.threading.syncPool(request.rows, request.numClasses) : null;
    const sum = pool ? pool.soft(request, 'softCrossEntropy') : backend.soft(request);
    return resultOf(sum, outputs, denominator, request.rows) as never;
  }

  async crossEntropyAsync(logits: Logits, labels: unknown, options: unknown) {
    const where = 'crossEntropyAsync';
    this.checkAlive(where);
    const { request, outputs, denominator, counted, signal } = prepareHard(logits, labels, options, this.counter, where);
    throwIfAborted(signal);
    const backend = this.pick(request.rows, request.numClasses);
    const pool = backend === this.impl ? this.threading.asyncPool() : null;
    // Tiny calls (and runtimes without workers) run here: a message costs more than they do.
    const sum = pool
      ? await runHardAsync((r) => pool.hardAsync(r, signal, where), request, outputs.reduction, denominator)
      : runHard((r) => backend.hard(r), request, outputs.reduction, denominator);
    return resultOf(sum, outputs, denominator, counted) as never;
  }

  async softCrossEntropyAsync(logits: Logits, targets: Float32Array, options: unknown) {
    const where = 'softCrossEntropyAsync';
    this.checkAlive(where);
    const { request, outputs, denominator, signal } = prepareSoft(logits, targets, options, null, where);
    await this.checkTargets(request.targets, request.rows, request.numClasses, where, signal);
    const backend = this.pick(request.rows, request.numClasses);
    const pool = backend === this.impl ? this.threading.asyncPool() : null;
    const sum = pool ? await pool.softAsync(request, signal, where) : backend.soft(request);
    return resultOf(sum, outputs, denominator, request.rows) as never;
  }

  /** The soft targets' check of the sync form, in slices, before any work. */
  private async checkTargets(targets: Float32Array, rows: number, numClasses: number, where: string, signal: AbortSignal | null): Promise<void> {
    const check = this.checker(rows, numClasses);
    for (let i0 = 0; i0 < targets.length; i0 += TARGET_CHECK_SLICE) {
      if (i0 > 0) await yieldToEventLoop();
      throwIfAborted(signal);
      const i1 = Math.min(targets.length, i0 + TARGET_CHECK_SLICE);
      const bad = check(i0 === 0 && i1 === targets.length ? targets : targets.subarray(i0, i1));
      if (bad >= 0) throw badTargetError(where, i0 + bad, targets[i0 + bad]);
    }
    throwIfAborted(signal);
  }

  createBatch(rows: number, numClasses: number): Batch {
    this.checkAlive('createBatch');
    if (typeof rows !== 'number') throw new TypeError(`createBatch: rows must be a number (an integer ≥ 0), got ${describe(rows)}`);
    if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`createBatch: rows must be an integer ≥ 0, got ${describe(rows)}`);
    if (typeof numClasses !== 'number') throw new TypeError(`createBatch: numClasses must be a number (an integer ≥ 1), got ${describe(numClasses)}`);
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError(`createBatch: numClasses must be an integer ≥ 1, got ${describe(numClasses)}`);
    const storage = this.threading.createBatch(rows, numClasses) ?? this.impl.createBatch(rows, numClasses);
    return batchOf(storage, this.threading, rows, numClasses, (where) => this.checkAlive(where));
  }

  dispose(): void {
    this.disposed = true;
    this.threading.dispose();
  }

  /**
   * The backend of the evaluation calls: with threads > 1, calls large enough run their
   * per-row kernels on the pool (threads/pooled.ts), with the same bits.
   */
  private pooled: Backend | null = null;
  private get evalBackend(): Backend {
    this.pooled ??= this.threading.threads > 1 ? pooledBackend(this.impl, this.threading) : this.impl;
    return this.pooled;
  }
  private readonly evalPick = (rows: number, K: number) => (this.tiny && isTiny(rows, K) ? this.tiny : this.evalBackend);

  /** The evaluation calls take 16-bit logits decoded to float32 first (src/dtype.ts). */
  private float32(logits: unknown, options: unknown, where: string) {
    return float32LogitsOf(logits, options, where, (half, out) => this.impl.decodeHalf(half, out)) as { logits: Float32Array; options: unknown };
  }

  softmax(input: Logits, given: unknown): Float32Array {
    this.checkAlive('softmax');
    const { logits, options } = this.float32(input, given, 'softmax');
    return softmaxWith(this.evalPick, logits, options);
  }

  rowStats(input: Logits, labels: unknown, given: unknown) {
    this.checkAlive('rowStats');
    const decoded = this.float32(input, given, 'rowStats');
    const call = rowsCall(decoded.logits, decoded.options, 'rowStats');
    return rowStatsWith(this.evalPick, call.logits, labels, call.options) as never;
  }

  // Evaluations run on the chosen backend whatever the batch size (no tiny-call shortcut):
  // a row's numbers must not depend on the batch it is added in.
  createEvaluator(options: unknown): Evaluator {
    this.checkAlive('createEvaluator');
    return new EvaluatorImpl(this.evalBackend, options, 'createEvaluator', this.accumulateAsync);
  }

  evaluate(input: Logits, labels: unknown, given: unknown): EvaluationResult {
    this.checkAlive('evaluate');
    const decoded = this.float32(input, given, 'evaluate');
    const call = rowsCall(decoded.logits, decoded.options, 'evaluate');
    const evaluator = new EvaluatorImpl(this.evalBackend, call.options, 'evaluate');
    evaluator.addBatch(call.logits, labels, 'evaluate');
    return evaluator.result();
  }

  fitTemperature(input: Logits, labels: unknown, given: unknown): TemperatureFit {
    this.checkAlive('fitTemperature');
    const decoded = this.float32(input, given, 'fitTemperature');
    const call = rowsCall(decoded.logits, decoded.options, 'fitTemperature');
    return fitTemperatureWith(this.evalBackend, call.logits, labels, call.options);
  }

  /** The evaluation kernels off this thread: the async pool, or null (here: no workers). */
  private evalPool(rows: number, K: number) {
    return this.tiny && isTiny(rows, K) ? null : this.threading.asyncPool();
  }

  private readonly accumulateAsync: AccumulateAsync = (request, into, signal, where) => {
    const pool = this.evalPool(request.rows, request.numClasses);
    return pool ? pool.accumulateStatsAsync(request, into, signal, where) : Promise.resolve(this.impl.accumulateStats(request, into));
  };

  async softmaxAsync(input: Logits, given: unknown): Promise<Float32Array> {
    const where = 'softmaxAsync';
    this.checkAlive(where);
    const { options: withDtype, signal } = withoutSignal(given, where);
    const { logits, options } = this.float32(input, withDtype, where);
    const { request, deliver } = prepareSoftmax(logits, options, where);
    throwIfAborted(signal);
    const pool = this.evalPool(request.rows, request.numClasses);
    if (pool) await pool.softmaxAsync(request, signal, where);
    else this.evalPick(request.rows, request.numClasses).softmax(request);
    return deliver();
  }

  async rowStatsAsync(input: Logits, labels: unknown, given: unknown) {
    const where = 'rowStatsAsync';
    this.checkAlive(where);
    const { options: withDtype, signal } = withoutSignal(given, where);
    const decoded = this.float32(input, withDtype, where);
    const call = rowsCall(decoded.logits, decoded.options, where);
    const request = prepareRowStats(call.logits, labels, call.options, (rows, K) => this.evalPick(rows, K).countLabels, where);
    throwIfAborted(signal);
    const out = rowStatsOutputs(request.rows, request.labels !== null);
    const pool = this.evalPool(request.rows, request.numClasses);
    if (pool) await pool.rowStatsAsync(request, out, signal, where);
    else this.evalPick(request.rows, request.numClasses).rowStats(request, out);
    return rowStatsResult(out) as never;
  }

  async evaluateAsync(input: Logits, labels: unknown, given: unknown): Promise<EvaluationResult> {
    const where = 'evaluateAsync';
    this.checkAlive(where);
    const { options: withDtype, signal } = withoutSignal(given, where);
    const decoded = this.float32(input, withDtype, where);
    const call = rowsCall(decoded.logits, decoded.options, where);
    const evaluator = new EvaluatorImpl(this.evalBackend, call.options, where, this.accumulateAsync);
    await evaluator.addBatchAsync(call.logits, labels, where, signal ? { signal } : undefined);
    return evaluator.result();
  }

  async fitTemperatureAsync(input: Logits, labels: unknown, given: unknown): Promise<TemperatureFit> {
    const where = 'fitTemperatureAsync';
    this.checkAlive(where);
    const { options: withDtype, signal } = withoutSignal(given, where);
    const decoded = this.float32(input, withDtype, where);
    const call = rowsCall(decoded.logits, decoded.options, where);
    const pool = this.threading.asyncPool();
    return fitTemperatureAsyncWith(this.evalBackend, pool, call.logits, labels, call.options, signal);
  }
}

type GradMode = Parameters<BatchStorage['hard']>[1];

/** A batch call, validated: what the kernel needs, and what the facade does with its results. */
function prepareBatchCall(storage: BatchStorage, rows: number, numClasses: number, options: unknown, where: string) {
  checkOptionsObject(options, where);
  const isAsync = where.endsWith('Async');
  checkKnownKeys(options, isAsync ? BATCH_ASYNC_KEYS : BATCH_KEYS, where);
  const record = options as Record<string, unknown>;
  const settings = hardSettings(record, numClasses, where);
  const reduction = reductionOf(record.reduction, where);
  const gradMode: GradMode | null = record.grad === undefined || record.grad === false ? 'none' : record.grad === true ? 'own' : record.grad === 'inplace' ? 'inplace' : null;
  if (gradMode === null) throw new TypeError(`${where}: grad must be false, true or 'inplace', got ${describe(record.grad)}`);
  const wantLse = booleanOf(record.lse, `${where}: lse`);
  const signal = isAsync ? signalOf(record.signal, where) : null;
  const count: LabelCounter = (_, k, ignoreIndex, weight) => storage.countLabels(k, ignoreIndex, weight);
  const { counted } = labelsOf(storage.labels, rows, numClasses, settings.ignoreIndex, settings.weight, where, count);
  const denominator = reduction === 'mean' ? counted : 1;
  const nothingCounts = reduction === 'mean' && !(denominator > 0);
  const request = {
    rows, numClasses, smoothing: settings.smoothing, ignoreIndex: settings.ignoreIndex,
    weight: settings.weight, weightSum: settings.weightSum, zLoss: settings.zLoss, softcap: settings.softcap,
    scale: scaleOf(reduction, settings.gradScale, denominator),
  };
  const gradOut = gradMode === 'own' ? storage.grad : gradMode === 'inplace' ? storage.logits : null;
  const kernelGrad: GradMode = nothingCounts ? 'none' : gradMode;
  /** The public result from the kernel's sum, losses and lse. */
  const finish = ({ sum, losses, lse }: { sum: number; losses: Float32Array | null; lse: Float32Array | null }) => {
    if (nothingCounts && gradOut) gradOut.fill(0);
    const outputs: Outputs = { reduction, grad: gradOut, losses, lse };
    return resultOf(sum, outputs, denominator, counted) as never;
  };
  return { request, reduction, kernelGrad, gradOut, wantLse, signal, finish };
}

function batchOf(storage: BatchStorage, threading: Threading, rows: number, numClasses: number, checkAlive: (where: string) => void): Batch {
  let disposed = false;
  const check = (where: string) => {
    checkAlive(where);
    if (disposed) throw new Error(`${where}: this batch was disposed`);
  };
  return {
    rows,
    numClasses,
    logits: storage.logits,
    labels: storage.labels,
    grad: storage.grad,
    crossEntropy(options: BatchOptions = {}) {
      const where = 'batch.crossEntropy';
      check(where);
      const { request, reduction, kernelGrad, wantLse, finish } = prepareBatchCall(storage, rows, numClasses, options, where);
      return finish(storage.hard(request, kernelGrad, reduction === 'none', wantLse));
    },
    async crossEntropyAsync(options: BatchOptions & AsyncOptions = {}) {
      const where = 'batch.crossEntropyAsync';
      check(where);
      const { request, reduction, kernelGrad, gradOut, wantLse, signal, finish } = prepareBatchCall(storage, rows, numClasses, options, where);
      throwIfAborted(signal);
      const wantLosses = reduction === 'none';
      if (storage instanceof SharedBatch) return finish(await storage.hardAsync(request, kernelGrad, wantLosses, wantLse, signal));
      const pool = threading.asyncPool();
      if (!pool) return finish(storage.hard(request, kernelGrad, wantLosses, wantLse));
      // The batch's memory is not shared with the worker: its rows travel as copies.
      const losses = wantLosses ? new Float32Array(rows) : null;
      const lse = wantLse ? new Float32Array(rows) : null;
      const grad = kernelGrad === 'none' ? null : gradOut;
      const sum = rows === 0 ? 0 : await pool.hardAsync({ ...request, logits: storage.logits, labels: storage.labels, grad, losses, lse }, signal, where);
      return finish({ sum, losses, lse });
    },
    dispose() {
      disposed = true;
      storage.dispose();
    },
  };
}

/**
 * The seed's anchor, p = [0.1, 0.2, 0.6, 0.1] with true class 2 and ε = 0.1, checked once
 * after instantiation: some engines accept a binary and still compute wrongly.
 */
function reproducesAnchor(backend: Backend): boolean {
  const p = [0.1, 0.2, 0.6, 0.1];
  const logits = Float32Array.from(p, Math.log);
  const grad = new Float32Array(4);
  const losses = new Float32Array(1);
  const sum = backend.hard({
    logits, labels: Int32Array.of(2), rows: 1, numClasses: 4, smoothing: 0.1, ignoreIndex: -100,
    weight: null, weightSum: 4, zLoss: 0, softcap: 0, scale: 1, grad, losses, lse: null,
  });
  // Float64 truth: L = −Σ y_k log p_k with y = [0.025, 0.025, 0.925, 0.025]; g = p − y.
  const y = [0.025, 0.025, 0.925, 0.025];
  const truth = -y.reduce((acc, yk, k) => acc + yk * Math.log(p[k]), 0);
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b));
  return close(sum, truth) && close(losses[0], truth) && p.every((pk, k) => close(grad[k], pk - y[k]));
}

async function tryBackend(name: BackendName, arenaBytes: number): Promise<Backend> {
  const backend = name === 'js' ? new JsBackend() : WasmBackend.fromModule(name as WasmBackendName, await compile(name as WasmBackendName), arenaBytes);
  if (!reproducesAnchor(backend)) {
    throw new Error(`${name} is not available: it did not reproduce the seed's anchor example after instantiation (this engine computes it wrongly)`);
  }
  return backend;
}

/**
 * Loads the kernels and picks a backend. `auto` (the default) takes the fastest of
 * wasm-relaxed-simd, wasm-simd, wasm and js that this runtime validates and that reproduces
 * the seed's anchor; a forced backend that is unavailable rejects with an Error saying why.
 */
export async function createXent(options: CreateOptions = {}): Promise<Xent> {
  if (typeof options !== 'object' || options === null) throw new TypeError(`createXent: options must be an object, got ${describe(options)}`);
  checkKnownKeys(options, CREATE_KEYS, 'createXent');
  const choice = options.backend ?? 'auto';
  if (choice !== 'auto' && !BACKENDS.includes(choice)) {
    if (typeof choice !== 'string') throw new TypeError(`createXent: backend must be a string, got ${describe(choice)}`);
    throw new RangeError(`createXent: backend must be 'auto', ${BACKENDS.map((b) => `'${b}'`).join(', ')}, got ${describe(choice)}`);
  }
  const arenaBytes = options.arenaBytes ?? DEFAULT_ARENA_BYTES;
  if (typeof arenaBytes !== 'number') throw new TypeError(`createXent: arenaBytes must be a number, got ${describe(arenaBytes)}`);
  if (!Number.isInteger(arenaBytes) || arenaBytes < MIN_ARENA_BYTES || arenaBytes > 2 ** 32 - 2 ** 20) {
    throw new RangeError(`createXent: arenaBytes must be an integer in [${MIN_ARENA_BYTES}, 4 GiB − 1 MiB], got ${describe(arenaBytes)}`);
  }
  const threads = threadsOf(options.threads);
  let backend: Backend | undefined;
  if (choice !== 'auto') {
    backend = await tryBackend(choice, arenaBytes);
  } else {
    for (const name of BACKENDS) {
      try {
        backend = await tryBackend(name, arenaBytes);
        break;
      } catch {
        // Try the next one; js always works.
      }
    }
  }
  if (!backend) throw new Error('createXent: no backend is available');
  const tiny = choice === 'auto' && backend.name !== 'js' ? new JsBackend() : null;
  return new XentImpl(backend, tiny, await Threading.create(backend.name, threads, arenaBytes));
}
