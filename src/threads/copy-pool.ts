/**
 * One worker that gets copies: for runtimes where memory cannot be shared with a worker (a
 * browser page that is not cross-origin isolated) and for the js backend. Calls still run off
 * the calling thread: each chunk of rows is copied into a message (its buffers transferred),
 * computed by the worker's own backend (the unshared wasm binary in a memory of its own, or
 * the JS kernels) and sent back; two chunks are in flight, so the copies here overlap the
 * worker's compute. The loss is summed here from the rows' losses in row order (sum.ts), so
 * the result has the bits of a call on this thread.
 */
import type { HardRequest, SoftRequest } from '../backend.js';
import { CHUNK_BYTES, ROWS_PER_VECTOR, sumsInGroups } from '../wasm/bridge.js';
import type { WasmBackendName } from '../wasm/instance.js';
import { abortReason, CallQueue } from './abort.js';
import { startWorker, type WorkerHandle } from './platform.js';
import type { FromWorker } from './protocol.js';
import { rowLossSum } from './sum.js';

/** Bytes of logits per message: large enough that a message's fixed cost is small. */
const MESSAGE_BYTES = 4 * CHUNK_BYTES;
const IN_FLIGHT = 2;

type Result = Extract<FromWorker, { type: 'result' }>;

export class CopyPool {
  readonly threads = 1;
  private handle: WorkerHandle | null = null;
  private starting: Promise<WorkerHandle> | null = null;
  private readonly queue = new CallQueue();
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(result: Result): void; reject(error: Error): void; where: string }>();
  private disposed = false;

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
    if (message.type === 'result') waiter.resolve(message);
    else waiter.reject(new Error(`${waiter.where}: a chunk failed in the worker: ${message.message}`));
  }

  /** The worker stopped: the chunks it had fail; the next call starts a new one. */
  private lost(why: string): void {
    this.handle = null;
    for (const waiter of this.waiting.values()) {
      waiter.reject(new Error(`${waiter.where}: the pool's worker stopped during the call (it ${why}); the call was abandoned and the next call starts a new worker`));
    }
    this.waiting.clear();
  }

  hardAsync(request: HardRequest, signal: AbortSignal | null, where: string): Promise<number> {
    const { numClasses: K } = request;
    const rowWise = request.rows < ROWS_PER_VECTOR;
    const inGroups = this.backend !== 'js' && sumsInGroups(this.backend, K, request.softcap, rowWise);
    return this.run(request, 'hard', rowWise, inGroups, signal, where, (r0, r1) => ({
      labels: request.labels.slice(r0, r1),
    }));
  }

  softAsync(request: SoftRequest, signal: AbortSignal | null, where: string): Promise<number> {
    const { numClasses: K } = request;
    const rowWise = request.rows < ROWS_PER_VECTOR;
    const inGroups = this.backend !== 'js' && sumsInGroups(this.backend, K, 0, rowWise);
    return this.run(request, 'soft', rowWise, inGroups, signal, where, (r0, r1) => ({
      targets: request.targets.slice(r0 * K, r1 * K),
    }));
  }

  private run(
    request: HardRequest | SoftRequest, type: 'hard' | 'soft', rowWise: boolean, inGroups: boolean,
    signal: AbortSignal | null, where: string, rowsOf: (r0: number, r1: number) => Record<string, ArrayBufferView>,
  ): Promise<number> {
    return this.queue.run(signal, async () => {
      if (this.disposed) throw new Error(`${where}: this xent was disposed`);
      const handle = await this.start();
      const { rows, numClasses: K, grad, lse } = request;
      const losses = request.losses ?? new Float32Array(rows);
      const fit = Math.max(1, Math.floor(MESSAGE_BYTES / (4 * K)));
      const chunkRows = Math.min(rows, fit < ROWS_PER_VECTOR ? fit : fit - (fit % ROWS_PER_VECTOR));
      const inFlight: { r0: number; result: Promise<Result> }[] = [];
      const post = (r0: number, r1: number) => {
        const id = this.nextId++;
        const logits = request.logits.slice(r0 * K, r1 * K);
        const own = rowsOf(r0, r1);
        const piece = {
          ...request, ...own, logits, rows: r1 - r0, rowWise,
          weight: request.weight?.slice() ?? null,
          grad: grad ? logits : null,
          losses: new Float32Array(r1 - r0),
          lse: lse ? new Float32Array(r1 - r0) : null,
        };
        const result = new Promise<Result>((resolve, reject) => this.waiting.set(id, { resolve, reject, where }));
        handle.post({ type, id, request: piece }, [logits.buffer, ...Object.values(own).map((a) => a.buffer)] as ArrayBuffer[]);
        inFlight.push({ r0, result });
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
          const { r0, result } = inFlight.shift()!;
          const out = await result;
          if (signal?.aborted) throw abortReason(signal);
          if (grad && out.grad) grad.set(out.grad, r0 * K);
          losses.set(out.losses, r0);
          if (lse && out.lse) lse.set(out.lse, r0);
        }
      } catch (error) {
        // The chunks still in flight of an abandoned call are dropped when they come back.
        for (const { result } of inFlight) result.catch(() => {});
        throw error;
      } finally {
        handle.unref();
      }
      return rowLossSum(losses, rows, inGroups);
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
