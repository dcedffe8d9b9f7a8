/**
 * The worker's code, bundled at build time into a string (scripts/build-worker.mjs →
 * src/threads/worker.generated.ts) that the pool starts as a Node `worker_threads` worker
 * (eval) or a browser Web Worker (a classic worker from a Blob URL): no separate file for a
 * bundler to find. Two modes (protocol.ts):
 *
 * - shared: an instance of the posted, already compiled module over the pool's shared
 *   memory; the worker blocks in Atomics.wait for commands (a kernel and its arguments) and
 *   runs each on the regions the caller filled. It never returns to its event loop, so it is
 *   stopped with terminate().
 * - copy: no shared memory (a browser page that is not cross-origin isolated, or the js
 *   backend): a backend of its own (wasm with its own memory, or js), and each chunk arrives
 *   as a message with copies of its rows and goes back with the outputs.
 */
import { JsBackend } from '../js/backend.js';
import { WasmBackend } from '../wasm/bridge.js';
import { instantiate, type KernelExports } from '../wasm/instance.js';
import { trace } from './trace.js';
import { claimChunks } from './claim.js';
import {
  ARGC, ARGS, CHUNKS_DONE, COMMAND_FIELDS, CONTROL_WORDS, EXIT, FAULT, HANG, HEAD, HOLD, KERNEL, KERNELS, POOL_BLOCK_BYTES, RANGE, RANGE_CHUNK,
  RANGE_FAILED, RANGE_GENERATION, RANGE_ROWS_ARG, RANGE_TOTAL, POSTED, RESULT, RUNNING, SLOT_STATE, SLOTS, SPIN, STATUS, STRIDES, TAIL, TRACE_AT, WAKE_BY_MESSAGE,
  type CopyInit, type CopyJob, type FromWorker, type SharedInit, type WorkerInit,
} from './protocol.js';
import type { HardRequest, SoftmaxRequest, SoftRequest, StatsRequest, TemperatureRequest } from '../backend.js';

interface Port {
  post(message: FromWorker, transfer?: Transferable[]): void;
  listen(handler: (message: unknown) => void): void;
  /** Ends this thread (fault injection). */
  exit(): void;
}

interface NodeWorkerThreads {
  parentPort: { postMessage(message: unknown, transfer?: Transferable[]): void; on(event: 'message', handler: (message: unknown) => void): void };
  workerData: WorkerInit;
}

/** How long a worker polls for its next command before it sleeps in Atomics.wait. */
const SPIN_MS = 0.3;

function runShared(init: SharedInit, port: Port): void {
  const kernels = instantiate(init.module, init.memory) as unknown as Record<string, (...args: number[]) => number>;
  const functions = KERNELS.map((name) => kernels[name as keyof KernelExports]);
  // The blocks were allocated before this worker started: within the buffer as it is now.
  const buffer = init.memory.buffer;
  const control = new Int32Array(buffer, init.control, CONTROL_WORDS);
  const commands = new Float64Array(buffer, init.control + CONTROL_WORDS * 4, SLOTS * COMMAND_FIELDS);
  const done = new Int32Array(buffer, init.done, POOL_BLOCK_BYTES >> 2);
  const args: number[] = [];
  port.post({ type: 'ready' });
  for (let finished = 0; ; ) {
    // After a sync call's command, poll briefly before sleeping: the next command often follows
    // at once (the next chunk, or the next call of a loop), and a wake-up from Atomics.wait
    // costs 0.05-0.3 ms on a VM. Not after an async call's (protocol.ts SPIN).
    const spinUntil = finished > 0 && Atomics.load(control, SPIN) === 1 ? performance.now() + SPIN_MS : 0;
    while (Atomics.load(control, HEAD) === finished && performance.now() < spinUntil);
    while (Atomics.load(control, HEAD) === finished) Atomics.wait(control, HEAD, finished);
    const fault = Atomics.load(control, FAULT);
    if (fault === HANG) for (;;) Atomics.wait(control, CONTROL_WORDS - 1, 0);
    if (fault === EXIT) return port.exit();
    while (Atomics.load(control, FAULT) === HOLD) Atomics.wait(control, FAULT, HOLD);
    const at = (finished % SLOTS) * COMMAND_FIELDS;
    if (commands[at + RANGE] !== 1 && Atomics.compareExchange(control, SLOT_STATE + (finished % SLOTS), POSTED, RUNNING) !== POSTED) {
      // The caller took this chunk back (STOLEN) and computed it itself.
      finished++;
      Atomics.store(control, TAIL, finished);
      Atomics.add(done, 0, 1);
      Atomics.notify(done, 0);
      if (Atomics.load(control, WAKE_BY_MESSAGE) === 1) port.post({ type: 'done' });
      continue;
    }
    const kernel = commands[at + KERNEL];
    args.length = commands[at + ARGC];
    for (let i = 0; i < args.length; i++) args[i] = commands[at + ARGS + i];
    try {
      if (commands[at + RANGE] === 1) runRange(init.memory, functions[kernel], commands, at, args, done, init.control);
      else {
        const traced = Atomics.load(done, TRACE_AT) !== 0 ? performance.timeOrigin + performance.now() : 0;
        commands[at + RESULT] = functions[kernel](...args);
        if (traced) trace(init.memory, done, init.control, finished, traced);
      }
      commands[at + STATUS] = 0;
    } catch (error) {
      commands[at + STATUS] = 1;
      if (commands[at + RANGE] === 1) {
        Atomics.add(done, CHUNKS_DONE, RANGE_FAILED);
        Atomics.notify(done, CHUNKS_DONE);
      }
      port.post({ type: 'error', message: `${KERNELS[kernel] ?? kernel} failed in a worker: ${String((error as Error)?.message ?? error)}` });
    }
    finished++;
    Atomics.store(control, TAIL, finished);
    Atomics.add(done, 0, 1);
    Atomics.notify(done, 0);
    if (Atomics.load(control, WAKE_BY_MESSAGE) === 1) port.post({ type: 'done' });
  }
}

/** A range command (protocol.ts): this worker's part of the call, the loop of claim.ts. */
function runRange(memory: WebAssembly.Memory, kernel: (...args: number[]) => number, commands: Float64Array, at: number, base: number[], block: Int32Array, id: number): void {
  claimChunks({
    memory, block, kernel, base,
    strides: base.map((_, i) => commands[at + STRIDES + i]),
    chunkRows: commands[at + RANGE_CHUNK],
    rows: commands[at + RANGE_TOTAL],
    rowsArg: commands[at + RANGE_ROWS_ARG],
    generation: commands[at + RANGE_GENERATION],
    chunks: Math.ceil(commands[at + RANGE_TOTAL] / commands[at + RANGE_CHUNK]),
    thread: id,
    worker: true,
  });
}

function runCopy(init: CopyInit, port: Port): void {
  const backend = init.backend === 'js' ? new JsBackend() : WasmBackend.fromModule(init.backend, init.module as WebAssembly.Module, init.arenaBytes);
  /** The running sums of the current reduction (see CopyJob). */
  let state: { call: number; sums: Float64Array; topK: Int32Array; bins: number } = { call: -1, sums: new Float64Array(0), topK: new Int32Array(0), bins: 0 };
  port.listen((message) => {
    const job = message as CopyJob;
    try {
      if (job.init && job.call !== undefined) {
        state = { call: job.call, sums: job.init.sums, topK: job.init.topK ?? new Int32Array(0), bins: job.init.bins ?? 0 };
      }
      const out = runJob(backend, job, state);
      const transfer = Object.values(out).filter((v): v is ArrayBufferView => ArrayBuffer.isView(v)).map((v) => v.buffer as ArrayBuffer);
      port.post({ type: 'result', id: job.id, out }, transfer);
    } catch (error) {
      port.post({ type: 'failed', id: job.id, message: String((error as Error)?.message ?? error) });
    }
  });
  port.post({ type: 'ready' });
}

/** One chunk on the worker's own backend; what goes back to the caller. */
function runJob(
  backend: JsBackend | WasmBackend, job: CopyJob, state: { sums: Float64Array; topK: Int32Array; bins: number },
): Record<string, ArrayBufferView | number | null> {
  const request = job.request as unknown as HardRequest & SoftRequest & SoftmaxRequest & StatsRequest & TemperatureRequest;
  switch (job.type) {
    case 'hard':
    case 'soft':
      if (job.type === 'hard') backend.hard(request);
      else backend.soft(request);
      return { grad: request.grad, losses: request.losses, lse: request.lse, halfGrad: request.half?.grad ?? null };
    case 'softmax':
      backend.softmax(request);
      return { out: request.out };
    case 'rowStats': {
      const n = request.rows;
      const labeled = request.labels !== null;
      const out = {
        lse: new Float32Array(n), confidence: new Float32Array(n), prediction: new Int32Array(n), entropy: new Float32Array(n),
        targetLogProb: labeled ? new Float32Array(n) : null, rank: labeled ? new Int32Array(n) : null,
      };
      backend.rowStats(request, out);
      return out;
    }
    case 'accumulate': {
      const keys = new Uint32Array(request.rows);
      const counted = backend.accumulateStats(request, { sums: state.sums, topK: state.topK, bins: state.bins, keys, keysAt: 0 });
      return { counted, keys: keys.slice(0, counted), sums: state.sums.slice() };
    }
    case 'temperature':
      state.sums = backend.temperatureSums({ ...request, sumsIn: state.sums });
      return { sums: state.sums.slice() };
  }
}

function start(init: WorkerInit, port: Port): void {
  if (init.mode === 'shared') runShared(init, port);
  else runCopy(init, port);
}

// A browser worker has importScripts and gets its init as the first message; a Node worker
// gets it as workerData. Node evaluates this string as CommonJS, or as a module when the
// process runs with --input-type=module (workers inherit it), so worker_threads is reached
// without `require`: process.getBuiltinModule (Node ≥ 20.16), else a dynamic import.
declare const importScripts: unknown;
if (typeof importScripts === 'function') {
  const scope = globalThis as unknown as { postMessage(m: unknown, t?: Transferable[]): void; onmessage: ((e: MessageEvent) => void) | null };
  let handler: ((message: unknown) => void) | null = null;
  scope.onmessage = (event) => {
    if (handler) return handler(event.data);
    handler = () => {};
    start(event.data as WorkerInit, {
      post: (message, transfer) => scope.postMessage(message, transfer ?? []),
      listen: (next) => {
        handler = next;
      },
      exit: () => (globalThis as unknown as { close(): void }).close(),
    });
  };
} else {
  const nodeProcess = (globalThis as unknown as { process: { getBuiltinModule?(name: string): unknown } }).process;
  const builtin = nodeProcess.getBuiltinModule?.('node:worker_threads') as NodeWorkerThreads | undefined;
  void (builtin ? Promise.resolve(builtin) : (import('node:worker_threads') as Promise<NodeWorkerThreads>)).then(({ parentPort, workerData }) => {
    start(workerData, {
      post: (message, transfer) => parentPort.postMessage(message, transfer),
      listen: (next) => parentPort.on('message', next),
      exit: () => (globalThis as unknown as { process: { exit(code: number): void } }).process.exit(1),
    });
  });
}
