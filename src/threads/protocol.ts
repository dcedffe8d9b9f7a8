/**
 * What the pool (pool.ts, copy-pool.ts) and its workers (worker.ts) agree on: the words of
 * the control blocks in shared memory, the layout of a command, the kernels a command can
 * name, and the messages. Both sides import this file; nothing else crosses the boundary.
 *
 * Shared memory, per worker (one block of CONTROL_BYTES, 64-aligned so no two workers'
 * words share a cache line):
 *   Int32 words [HEAD, TAIL, …]: commands posted by the caller / finished by the worker;
 *   then SLOTS commands of COMMAND_FIELDS f64: [kernel, argc, args…, result, status].
 * Command i lives in slot i mod SLOTS. The caller writes a command (and its chunk's data),
 * then increments HEAD (Atomics: everything written before is visible to the worker); the
 * worker runs it, writes the result, increments TAIL and then the pool's DONE word, and
 * notifies DONE, which is the one word the caller waits on for any worker.
 */

export const HEAD = 0;
export const TAIL = 1;
/** When 1, the worker also posts { type: 'done' } after each command (no Atomics.waitAsync here). */
export const WAKE_BY_MESSAGE = 2;
/**
 * Fault injection for the tests (test/threads.test.ts), read before each command: HANG makes
 * the worker stop answering without exiting, as a thread that died unseen would; EXIT makes
 * it end its thread; HOLD makes it wait until the word changes, then take the command, as a
 * worker that wakes late would.
 */
export const FAULT = 3;
export const HANG = 1;
export const EXIT = 2;
export const HOLD = 3;
/**
 * When 1, the worker polls briefly for its next command before it sleeps (worker.ts SPIN_MS):
 * set by sync calls, whose thread hands out the next chunk within microseconds and waits for
 * the worker's; 0 for async calls, where a polling worker only takes a core from the calling
 * thread's event loop (a 16×256 crossEntropyAsync on 2 threads cost 0.3–0.47 ms more than the
 * sync call with polling, 0.11–0.19 ms without).
 */
export const SPIN = 4;
/**
 * Per command slot (SLOT_STATE + slot): POSTED when the caller writes a chunk's command; the
 * worker takes it (compare-exchange to RUNNING) before it runs it. A sync call's thread that
 * has nothing left to do takes a queued chunk back the same way (STOLEN) and computes it
 * itself; the worker then skips that command (it still counts it in TAIL).
 */
export const SLOT_STATE = 8;
export const POSTED = 1;
export const RUNNING = 2;
export const STOLEN = 3;
export const CONTROL_WORDS = 16;

/** Commands in flight per worker: one running, the others copied in and waiting (pipelining). */
export const SLOTS = 3;
export const COMMAND_FIELDS = 50;
export const KERNEL = 0;
export const ARGC = 1;
export const ARGS = 2;
export const MAX_ARGS = 20;
export const RESULT = 22;
/** 0: done; 1: the kernel threw (the worker posted the error). */
export const STATUS = 23;
/**
 * A range command (RANGE = 1) is one call's rows, not one chunk: the worker claims chunks of
 * RANGE_CHUNK rows from the pool's CLAIM word — as the calling thread and the other workers
 * do — until none is left, and runs the kernel on each with ARGS[i] + STRIDES[i] × r0 and the
 * chunk's row count in ARGS[RANGE_ROWS_ARG]; then it counts the chunk in CHUNKS_DONE. Threads
 * that run faster take more chunks (nothing is handed out per chunk; no thread waits for
 * another until the last chunks). The CLAIM word is `generation << 24 | lo << 12 | hi`: the
 * chunks [lo, hi) are unclaimed; workers claim from the front (lo), the calling thread from the
 * back (hi), so that each thread reads one run of memory rather than every other chunk, and
 * keeps about the same rows from call to call. A range command of an earlier call, read late,
 * finds another generation and claims nothing (a worker holds at most SLOTS commands, so 8 bits
 * of generation cannot come round to its own).
 */
export const RANGE = 24;
export const RANGE_ROWS_ARG = 25;
export const RANGE_CHUNK = 26;
export const RANGE_TOTAL = 27;
export const RANGE_GENERATION = 28;
export const STRIDES = 29;
/** At most this many chunks in one range call (12 bits of CLAIM each for lo and hi). */
export const RANGE_MAX_CHUNKS = 0xfff;
/** The CLAIM word of a range call's start: every chunk unclaimed. */
export function claimWord(generation: number, chunks: number): number {
  return ((generation & 0xff) << 24) | chunks;
}
/** Added to CHUNKS_DONE by a worker whose kernel threw during a range call. */
export const RANGE_FAILED = 1 << 24;

export const CONTROL_BYTES = 64 + SLOTS * COMMAND_FIELDS * 8;

/** Kernel exports a command can run, by index (see src/wasm/instance.ts KernelExports). */
export const KERNELS = ['xentRows', 'softRows', 'softmaxRows', 'statsRows', 'temperatureRows', 'xentStrided', 'softStrided', 'xentRowsHalf', 'softRowsHalf'] as const;
export type KernelName = (typeof KERNELS)[number];

/**
 * The pool's own block (POOL_BLOCK_BYTES, Int32 words): DONE, the word the caller waits on
 * for any worker's command; CLAIM and CHUNKS_DONE of range commands, each on a cache line of
 * its own (both threads write CLAIM at every chunk).
 */
export const DONE = 0;
export const CLAIM = 16;
export const CHUNKS_DONE = 32;
/**
 * A timeline of range calls, for the bench (bench/timeline.mjs): when TRACE_AT (a byte offset,
 * 0 = off) is set, every thread appends [thread, chunk, start, end] (Float64, ms since the
 * epoch) per chunk to the records there, TRACE_COUNT of them at most TRACE_CAPACITY.
 */
export const TRACE_AT = 48;
export const TRACE_COUNT = 49;
export const TRACE_CAPACITY = 50;
export const POOL_BLOCK_BYTES = 256;

export interface SharedInit {
  mode: 'shared';
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** Byte offsets of this worker's control block and of the pool's DONE word. */
  control: number;
  done: number;
}

export interface CopyInit {
  mode: 'copy';
  backend: 'wasm' | 'wasm-simd' | 'wasm-relaxed-simd' | 'js';
  /** The compiled (unshared) module, for the wasm backends. */
  module: WebAssembly.Module | null;
  arenaBytes: number;
}

export type WorkerInit = SharedInit | CopyInit;

/**
 * A chunk for a copy-mode worker: a request whose arrays are the worker's own copies. The
 * reductions in row order (an evaluation's sums, a temperature pass) run in the worker, which
 * handles its messages in order: `call` names the call, and its first chunk carries `init`,
 * the sums to start from.
 */
export interface CopyJob {
  type: 'hard' | 'soft' | 'softmax' | 'rowStats' | 'accumulate' | 'temperature';
  id: number;
  request: Record<string, unknown>;
  call?: number;
  init?: { sums: Float64Array; topK?: Int32Array; bins?: number };
}

export type FromWorker =
  | { type: 'ready' }
  | { type: 'done' }
  | { type: 'error'; message: string }
  | { type: 'result'; id: number; out: Record<string, ArrayBufferView | number | null> }
  | { type: 'failed'; id: number; message: string };
