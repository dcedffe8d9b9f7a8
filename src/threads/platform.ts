/**
 * What this runtime offers the pool, detected rather than guessed: Node's worker_threads or
 * browser Web Workers, whether memory can be shared with them, whether this thread may block
 * in Atomics.wait, and how many cores there are. Node modules are reached without a static
 * import (process.getBuiltinModule, else a dynamic import that bundlers leave alone), so the
 * package still bundles for browsers untouched.
 */
import type { FromWorker, WorkerInit } from './protocol.js';
import { WORKER_CODE } from './worker.generated.js';

interface NodeProcess {
  versions?: { node?: string };
  getBuiltinModule?: (name: string) => unknown;
}

const nodeProcess = (globalThis as { process?: NodeProcess }).process;
/** Node (or a runtime with its worker_threads), not a browser. */
export const isNode = typeof nodeProcess?.versions?.node === 'string' && typeof (globalThis as { window?: unknown }).window === 'undefined';

async function nodeBuiltin<T>(name: string): Promise<T> {
  const builtin = nodeProcess?.getBuiltinModule?.(name);
  if (builtin) return builtin as T;
  // Node < 20.16: a dynamic import whose specifier bundlers do not see.
  const specifier = name;
  return (await import(/* @vite-ignore */ specifier)) as T;
}

/** Whether any worker can be started here. */
export function workersHere(): boolean {
  return isNode || typeof (globalThis as { Worker?: unknown }).Worker === 'function';
}

/** Tests force the copy path in Node with `sharedMemory: false`. */
export const testOverrides: { sharedMemory: boolean | null } = { sharedMemory: null };

/**
 * Whether this thread can share a WebAssembly.Memory with workers: always in Node; in a browser
 * only when the page is cross-origin isolated (COOP same-origin + COEP require-corp).
 */
export function sharedMemoryHere(): boolean {
  if (testOverrides.sharedMemory !== null) return testOverrides.sharedMemory;
  if (typeof SharedArrayBuffer !== 'function') return false;
  if (isNode) return true;
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
}

let blocking: boolean | undefined;
/** Whether Atomics.wait is allowed on this thread (not on a browser's main thread). */
export function canBlockHere(): boolean {
  if (blocking === undefined) {
    try {
      blocking = typeof SharedArrayBuffer === 'function' && Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0) === 'not-equal';
    } catch {
      blocking = false;
    }
  }
  return blocking;
}

/** `threads: 'auto'`: the cores this runtime reports, at most 8. */
export async function autoThreads(): Promise<number> {
  let cores = 1;
  if (isNode) {
    const os = await nodeBuiltin<{ availableParallelism?: () => number; cpus: () => unknown[] }>('node:os');
    cores = os.availableParallelism?.() ?? os.cpus().length;
  } else {
    cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  }
  return Math.max(1, Math.min(8, Math.floor(cores) || 1));
}

let channel: { port: MessagePort; resolvers: (() => void)[] } | undefined;

/**
 * Lets the event loop run (rendering, input, timers) before an async call goes on with more
 * work on this thread: setImmediate in Node; in browsers a MessageChannel message, which,
 * unlike setTimeout(0), is not clamped to 4 ms when nested.
 */
export function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (callback: () => void) => void }).setImmediate;
  if (isNode && immediate) return new Promise((resolve) => immediate(resolve));
  if (typeof MessageChannel !== 'function') return new Promise((resolve) => setTimeout(resolve, 0));
  if (!channel) {
    const { port1, port2 } = new MessageChannel();
    const state = { port: port2, resolvers: [] as (() => void)[] };
    port1.onmessage = () => state.resolvers.shift()?.();
    channel = state;
  }
  const state = channel;
  return new Promise((resolve) => {
    state.resolvers.push(resolve);
    state.port.postMessage(0);
  });
}

export interface WorkerHandle {
  post(message: unknown, transfer?: Transferable[]): void;
  /** Stops the thread (it need not answer); `exit` follows at once. */
  terminate(): void;
  /** Node: whether this worker keeps the process alive (only while a call needs it). */
  ref(): void;
  unref(): void;
  /** The Worker object itself (tests terminate it behind the pool's back). */
  readonly raw: unknown;
}

export interface WorkerEvents {
  message(message: FromWorker): void;
  /** The worker stopped (exited, or threw outside a command): `why` says how. Called once. */
  exit(why: string): void;
}

interface NodeWorker {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  on(event: 'message' | 'error' | 'exit', listener: (value: never) => void): void;
  terminate(): Promise<number>;
  ref(): void;
  unref(): void;
}

let blobUrl: string | undefined;

/** Starts a worker with `init`; resolves once it reports ready, rejects if it stops before. */
export async function startWorker(init: WorkerInit, events: WorkerEvents): Promise<WorkerHandle> {
  let ready!: () => void;
  let failed!: (error: Error) => void;
  const started = new Promise<void>((resolve, reject) => {
    ready = resolve;
    failed = reject;
  });
  let isReady = false;
  let stopped = false;
  const onMessage = (message: FromWorker) => {
    if (message.type === 'ready' && !isReady) {
      isReady = true;
      ready();
    } else {
      events.message(message);
    }
  };
  const onExit = (why: string) => {
    if (stopped) return;
    stopped = true;
    if (!isReady) failed(new Error(`a worker failed to start: it ${why}`));
    events.exit(why);
  };
  let handle: WorkerHandle;
  if (isNode) {
    const { Worker } = await nodeBuiltin<{ Worker: new (code: string, options: object) => NodeWorker }>('node:worker_threads');
    const worker = new Worker(WORKER_CODE, { eval: true, workerData: init, name: 'smoothxent' });
    // Referenced while it starts (someone awaits it), then idle workers never keep Node alive.
    void started.then(() => worker.unref(), () => {});
    worker.on('message', onMessage as (value: never) => void);
    worker.on('error', ((error: Error) => onExit(`threw ${error?.message ?? error}`)) as (value: never) => void);
    worker.on('exit', ((code: number) => onExit(`exited with code ${code}`)) as (value: never) => void);
    handle = {
      post: (message, transfer) => worker.postMessage(message, transfer),
      terminate: () => {
        void worker.terminate();
        onExit('was stopped by the pool');
      },
      ref: () => worker.ref(),
      unref: () => worker.unref(),
      raw: worker,
    };
  } else {
    blobUrl ??= URL.createObjectURL(new Blob([WORKER_CODE], { type: 'text/javascript' }));
    const worker = new Worker(blobUrl, { name: 'smoothxent' });
    worker.onmessage = (event) => onMessage(event.data as FromWorker);
    worker.onerror = (event) => {
      event.preventDefault();
      onExit(`threw ${event.message || 'an error'}`);
    };
    worker.postMessage(init);
    handle = {
      post: (message, transfer) => worker.postMessage(message, transfer ?? []),
      terminate: () => {
        worker.terminate();
        onExit('was stopped by the pool');
      },
      ref: () => {},
      unref: () => {},
      raw: worker,
    };
  }
  await started;
  return handle;
}
