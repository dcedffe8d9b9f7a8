/**
 * The loop every thread of a range call runs (protocol.ts RANGE), the calling thread
 * (pool.ts runRange) and each worker (worker.ts) alike: claim a chunk from the block's CLAIM
 * word (generation << 24 | lo << 12 | hi: the chunks [lo, hi) are unclaimed; the calling thread
 * takes hi − 1, a worker lo) until none is left or the call is over, and run the kernel on it
 * (each argument base + stride · the chunk's first row, the rows argument the chunk's rows).
 * A worker counts each chunk in CHUNKS_DONE as it ends it (the calling thread sees its progress,
 * and is woken by its last); the calling thread adds its own count once, after its loop: one
 * shared write per chunk less.
 */
import { CHUNKS_DONE, CLAIM, TRACE_AT } from './protocol.js';
import { trace } from './trace.js';

export interface RangeClaim {
  memory: WebAssembly.Memory;
  /** The pool's block (CLAIM, CHUNKS_DONE, the trace). */
  block: Int32Array;
  kernel: (...args: number[]) => number;
  base: number[];
  strides: number[];
  chunkRows: number;
  rows: number;
  /** Which argument is the chunk's row count. */
  rowsArg: number;
  generation: number;
  chunks: number;
  /** Who runs the loop, in the trace. */
  thread: number;
  /**
   * A worker: takes chunks from the front, counts each in CHUNKS_DONE and wakes the calling
   * thread when it ends the call's last chunk. Else (the calling thread): from the back, counted
   * by the caller with the returned number.
   */
  worker: boolean;
}

/** Runs chunks until none is left; returns how many this thread ran. */
export function claimChunks(c: RangeClaim): number {
  const { block, base, strides, chunkRows, rows, rowsArg, generation, chunks, worker } = c;
  const args = base.slice();
  const tracing = Atomics.load(block, TRACE_AT) !== 0;
  for (let ran = 0; ; ran++) {
    const claim = Atomics.load(block, CLAIM);
    const lo = (claim >>> 12) & 0xfff;
    const hi = claim & 0xfff;
    if (claim >>> 24 !== (generation & 0xff) || lo >= hi) return ran;
    // lo + 1 is claim + 0x1000, hi − 1 is claim − 1: neither carries out of its field.
    if (Atomics.compareExchange(block, CLAIM, claim, worker ? claim + 0x1000 : claim - 1) !== claim) {
      ran--;
      continue;
    }
    const chunk = worker ? lo : hi - 1;
    const r0 = chunk * chunkRows;
    for (let i = 0; i < args.length; i++) args[i] = base[i] + strides[i] * r0;
    args[rowsArg] = Math.min(chunkRows, rows - r0);
    const traced = tracing ? performance.timeOrigin + performance.now() : 0;
    c.kernel(...args);
    if (traced) trace(c.memory, block, c.thread, chunk, traced);
    if (worker && Atomics.add(block, CHUNKS_DONE, 1) + 1 === chunks) Atomics.notify(block, CHUNKS_DONE);
  }
}
