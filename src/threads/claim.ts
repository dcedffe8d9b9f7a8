/**
 * The loop every thread of a range call runs (protocol.ts RANGE), the calling thread
 * (pool.ts runRange) and each worker (worker.ts) alike: claim the next chunk from the block's
 * CLAIM word (generation << 16 | next chunk) until none is left or the call is over, run the
 * kernel on it (each argument base + stride · the chunk's first row, the rows argument the
 * chunk's rows), and count it in CHUNKS_DONE.
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
  /** Wake the calling thread when this thread ends the call's last chunk (workers). */
  notifyLast: boolean;
}

export function claimChunks(c: RangeClaim): void {
  const { block, base, strides, chunkRows, rows, rowsArg, generation, chunks } = c;
  const args = base.slice();
  for (;;) {
    const claim = Atomics.load(block, CLAIM);
    if (claim >>> 16 !== generation || (claim & 0xffff) >= chunks) return;
    if (Atomics.compareExchange(block, CLAIM, claim, claim + 1) !== claim) continue;
    const r0 = (claim & 0xffff) * chunkRows;
    for (let i = 0; i < args.length; i++) args[i] = base[i] + strides[i] * r0;
    args[rowsArg] = Math.min(chunkRows, rows - r0);
    const traced = Atomics.load(block, TRACE_AT) !== 0 ? performance.timeOrigin + performance.now() : 0;
    c.kernel(...args);
    if (traced) trace(c.memory, block, c.thread, claim & 0xffff, traced);
    if (Atomics.add(block, CHUNKS_DONE, 1) + 1 === chunks && c.notifyLast) Atomics.notify(block, CHUNKS_DONE);
  }
}
