/**
 * One worker that gets copies: for runtimes where memory cannot be shared with a worker (a
 * browser page that is not cross-origin isolated) and for the js backend. Calls still run off
 * the calling thread: each chunk of rows is copied into a message (its buffers transferred),
 * computed by the worker's own backend (the unshared wasm binary in a memory of its own, or
 * the JS kernels) and sent back; two chunks are in flight, so the copies here overlap the
 * worker's compute. The loss is summed here from the rows' losses in row order (sum.ts); an
 * evaluation's sums and a temperature pass's are carried on in the worker, which handles the
 * chunks in row order (protocol.ts CopyJob): the same bits as a call on this thread.
 */
import type { Accumulation, HardRequest, RowStatsOutputs, SoftmaxRequest, SoftRequest, StatsRequest, TemperatureRequest } from '../backend.js';
import { CHUNK_BYTES, ROWS_PER_VECTOR, sumsInGroups } from '../wasm/bridge.js';
import type { WasmBackendName } from '../wasm/instance.js';
import { abortReason, CallQueue } from './abort.js';
import { startWorker, type WorkerHandle } from './platform.js';
import type { CopyJob, FromWorker } from './protocol.js';
import { rowLossSum } from './sum.js';

/** Bytes of logits per message: large enough that a message's fixed cost is small. */
const MESSAGE_BYTES = 4 * CHUNK_BYTES;
const IN_FLIGHT = 2;

type Out = Extract<FromWorker, { type: 'result' }>['out'];

/** How a call's rows become messages and their results land. */
interface Chunks {
  type: CopyJob['type'];
  rows: number;
  numClasses: number;
  /** The chunk's own arrays (copies) and any other fields of its request. */
  piece(r0: number, r1: number): { request: Record<string, unknown>; transfer: ArrayBuffer[] };
  /** The sums the worker starts from (reductions only). */
  init?: CopyJob['init'];
  take(r0: number, r1: number, out: Out): void;
  /** Positions per outer index of a class axis that is not last (src/layout.ts): chunks hold whole outers. */
  inner?: number;
}

export class CopyPool {
  readonly threads = 1;
  private handle: WorkerHandle | null = null;
  private starting: Promise<WorkerHandle> | null = null;
  private readonly queue = new CallQueue();
  private nextId = 1;
  private nextCall = 1;
  private readonly waiting = new Map<number, { resolve(out: Out): void; reject(error: Error): void; where: string }>();
  private disposed = false;
  /** How the last worker stopped, for chunks a call would post after it stopped. */
  private lostWhy = '';

  constructor(
    readonly backend: WasmBackendName | 'js',
    private readonly module: WebAssembly.Module | null,
    private readonly arenaBytes: number,
  ) {}

  start(): Promise<WorkerHandle> {
    if (this.disposed) return Promise.reject(new Error('the pool was disposed'));
    if (this.handle) return Promise.resolve(this.handle);
    this.starting ??= startWorker(
      { mode: 'copy', backend: this.backend, module: this.module, arenaBytes: this.arenaBytes },
      {
        message: (message) => this.onMessage(message),
        exit: (why) => this.lost(why),
      },
    ).then(
      (handle) => {
        this.starting = null;
        if (this.disposed) handle.terminate();
        else this.handle = handle;
        return handle;
      },
      (error) => {
        this.starting = null;
        throw error;
      },
    );
    return this.starting;
  }

  private onMessage(message: FromWorker): void {
    if (message.type !== 'result' && message.type !== 'failed') return;
    const waiter = this.waiting.get(message.id);
    if (!waiter) return; // a chunk of an aborted call
    this.waiting.delete(message.id);
    if (message.type === 'result') waiter.resolve(message.out);
    else waiter.reject(new Error(`${waiter.where}: a chunk failed in the worker: ${message.message}`));
  }

  /** The worker stopped: the chunks it had fail; the next call starts a new one. */
  private lost(why: string): void {
    this.handle = null;
    this.lostWhy = why;
    for (const waiter of this.waiting.values()) waiter.reject(stoppedError(waiter.where, why));
    this.waiting.clear();
  }

  hardAsync(request: HardRequest, signal: AbortSignal | null, where: string): Promise<number> {
    const rowWise = request.rows < ROWS_PER_VECTOR;
    const inGroups = this.backend !== 'js' && sumsInGroups(this.backend, request.numClasses, request.softcap, rowWise);
    return this.lossChunks('hard', request, rowWise, inGroups, signal, where, (r0, r1) => ({ labels: request.labels.slice(r0, r1) }));
  }

  softAsync(request: SoftRequest, signal: AbortSignal | null, where: string): Promise<number> {
    const { numClasses: K } = request;
    const rowWise = request.rows < ROWS_PER_VECTOR;
    const inGroups = this.backend !== 'js' && sumsInGroups(this.backend, K, 0, rowWise);
    return this.lossChunks('soft', request, rowWise, inGroups, signal, where, (r0, r1) => ({ targets: request.targets.slice(r0 * K, r1 * K) }));
  }

  /** crossEntropy / softCrossEntropy: the rows' losses come back and are summed here in row order. */
  private async lossChunks(
    type: 'hard' | 'soft', request: HardRequest | SoftRequest, rowWise: boolean, inGroups: boolean,
    signal: AbortSignal | null, where: string, own: (r0: number, r1: number) => Record<string, ArrayBufferView>,
  ): Promise<number> {
    const { rows, numClasses: K, grad, lse } = request;
    const losses = request.losses ?? new Float32Array(rows);
    await this.run(where, signal, {
      type,
      rows,
      numClasses: K,
      inner: request.inner,
      piece: (r0, r1) => {
        // 16-bit logits travel as their bits, and the worker's backend decodes them.
        const half = request.half ? { ...request.half, bits: request.half.bits.slice(r0 * K, r1 * K) } : null;
        if (half && half.grad) half.grad = half.bits;
        const logits = half ? request.logits : request.logits.slice(r0 * K, r1 * K);
        const arrays = own(r0, r1);
        const chunkGrad = !grad ? null : half ? new Float32Array((r1 - r0) * K) : logits;
        return {
          request: {
            ...request, ...arrays, logits, rows: r1 - r0, rowWise, half,
            weight: request.weight?.slice() ?? null,
            grad: chunkGrad,
            losses: new Float32Array(r1 - r0),
            lse: lse ? new Float32Array(r1 - r0) : null,
          },
          transfer: [half ? half.bits.buffer as ArrayBuffer : logits.buffer as ArrayBuffer, ...Object.values(arrays).map((a) => a.buffer as ArrayBuffer)],
        };
      },
      take: (r0, _r1, out) => {
        if (grad && out.grad) grad.set(out.grad as Float32Array, r0 * K);
        if (request.half?.grad && out.halfGrad) request.half.grad.set(out.halfGrad as Uint16Array, r0 * K);
        losses.set(out.losses as Float32Array, r0);
        if (lse && out.lse) lse.set(out.lse as Float32Array, r0);
      },
    });
    return rowLossSum(losses, rows, inGroups);
  }

  softmaxAsync(request: SoftmaxRequest, signal: AbortSignal | null, where: string): Promise<void> {
    const K = request.numClasses;
    return this.run(where, signal, {
      type: 'softmax',
      rows: request.rows,
      numClasses: K,
      piece: (r0, r1) => {
        const logits = request.logits.slice(r0 * K, r1 * K);
        return { request: { ...request, logits, out: logits, rows: r1 - r0 }, transfer: [logits.buffer] };
      },
      take: (r0, _r1, out) => request.out.set(out.out as Float32Array, r0 * K),
    });
  }

  rowStatsAsync(request: StatsRequest, out: RowStatsOutputs, signal: AbortSignal | null, where: string): Promise<void> {
    const K = request.numClasses;
    return this.run(where, signal, {
      type: 'rowStats',
      rows: request.rows,
      numClasses: K,
      piece: (r0, r1) => {
        const logits = request.logits.slice(r0 * K, r1 * K);
        const labels = request.labels?.slice(r0, r1) ?? null;
        return { request: { ...request, logits, labels, rows: r1 - r0 }, transfer: [logits.buffer, ...(labels ? [labels.buffer as ArrayBuffer] : [])] };
      },
      take: (r0, _r1, result) => {
        for (const key of ['lse', 'confidence', 'prediction', 'entropy', 'targetLogProb', 'rank'] as const) {
          const target = out[key];
          if (target) target.set(result[key] as never, r0);
        }
      },
    });
  }

  async accumulateStatsAsync(request: StatsRequest, into: Accumulation, signal: AbortSignal | null, where: string): Promise<number> {
    const K = request.numClasses;
    const labels = request.labels as NonNullable<StatsRequest['labels']>;
    let counted = 0;
    let sums: Float64Array | null = null;
    await this.run(where, signal, {
      type: 'accumulate',
      rows: request.rows,
      numClasses: K,
      init: { sums: into.sums.slice(), topK: into.topK.slice(), bins: into.bins },
      piece: (r0, r1) => {
        const logits = request.logits.slice(r0 * K, r1 * K);
        const chunkLabels = labels.slice(r0, r1);
        return { request: { ...request, logits, labels: chunkLabels, rows: r1 - r0 }, transfer: [logits.buffer, chunkLabels.buffer as ArrayBuffer] };
      },
      take: (_r0, _r1, out) => {
        const keys = out.keys as Uint32Array;
        into.keys.set(keys, into.keysAt + counted);
        counted += out.counted as number;
        sums = out.sums as Float64Array;
      },
    });
    if (sums) into.sums.set(sums);
    return counted;
  }

  async temperatureSumsAsync(request: TemperatureRequest, signal: AbortSignal | null, where: string): Promise<Float64Array> {
    const K = request.numClasses;
    let sums: Float64Array = request.sumsIn ? Float64Array.from(request.sumsIn) : new Float64Array(4);
    await this.run(where, signal, {
      type: 'temperature',
      rows: request.rows,
      numClasses: K,
      init: { sums: sums.slice() },
      piece: (r0, r1) => {
        const logits = request.logits.slice(r0 * K, r1 * K);
        const labels = request.labels.slice(r0, r1);
        return { request: { ...request, sumsIn: undefined, logits, labels, rows: r1 - r0 }, transfer: [logits.buffer, labels.buffer as ArrayBuffer] };
      },
      take: (_r0, _r1, out) => {
        sums = out.sums as Float64Array;
      },
    });
    return sums;
  }

  /** Sends a call's chunks in row order, at most IN_FLIGHT at a time, and takes their results in order. */
  private run(where: string, signal: AbortSignal | null, chunks: Chunks): Promise<void> {
    return this.queue.run(signal, async () => {
      if (this.disposed) throw new Error(`${where}: this xent was disposed`);
      const handle = await this.start();
      const { rows, numClasses: K } = chunks;
      const fit = Math.max(1, Math.floor(MESSAGE_BYTES / (4 * K)));
      // A class axis that is not last: whole outers per message, which are then contiguous.
      const inner = chunks.inner ?? 1;
      const chunkRows = inner > 1 ? Math.min(rows, Math.max(1, Math.floor(fit / inner)) * inner)
        : Math.min(rows, fit < ROWS_PER_VECTOR ? fit : fit - (fit % ROWS_PER_VECTOR));
      const call = this.nextCall++;
      const inFlight: { r0: number; r1: number; result: Promise<Out> }[] = [];
      const post = (r0: number, r1: number) => {
        const id = this.nextId++;
        const { request, transfer } = chunks.piece(r0, r1);
        // Node hands over the messages a worker sent before its exit event in one go, with no
        // turn for this loop in between: the loop may then go on posting to a worker that has
        // stopped and whose chunks were all answered. Those chunks fail at once.
        const alive = this.handle === handle;
        const result = new Promise<Out>((resolve, reject) => {
          if (alive) this.waiting.set(id, { resolve, reject, where });
          else reject(stoppedError(where, this.lostWhy));
        });
        result.catch(() => {}); // awaited in turn below; an abandoned call drops it
        const job: CopyJob = { type: chunks.type, id, request, call, ...(r0 === 0 && chunks.init ? { init: chunks.init } : {}) };
        if (alive) handle.post(job, transfer);
        inFlight.push({ r0, r1, result });
      };
      handle.ref();
      try {
        let next = 0;
        while (next < rows || inFlight.length > 0) {
          if (signal?.aborted) throw abortReason(signal);
          while (next < rows && inFlight.length < IN_FLIGHT) {
            const r1 = Math.min(rows, next + chunkRows);
            post(next, r1);
            next = r1;
          }
          const { r0, r1, result } = inFlight.shift()!;
          const out = await result;
          if (signal?.aborted) throw abortReason(signal);
          chunks.take(r0, r1, out);
        }
      } finally {
        handle.unref();
      }
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.handle?.terminate();
  }

  /** Test hooks, as SharedPool's. */
  testing() {
    return { raw: () => this.handle?.raw };
  }
}

function stoppedError(where: string, why: string): Error {
  return new Error(`${where}: the pool's worker stopped during the call (it ${why}); the call was abandoned and the next call starts a new worker`);
}
