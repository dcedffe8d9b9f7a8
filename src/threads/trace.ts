/** The timeline of range calls (protocol.ts TRACE_AT), written by the pool's threads and read by SharedPool.testing().trace. */
import { TRACE_AT, TRACE_CAPACITY, TRACE_COUNT } from './protocol.js';

/**
 * Appends one record, [thread, chunk, start, end] in ms since the epoch (comparable across
 * threads); `memory` is read anew, since the trace may lie beyond the block's buffer as it was.
 */
export function trace(memory: WebAssembly.Memory, block: Int32Array, thread: number, chunk: number, start: number): void {
  const i = Atomics.add(block, TRACE_COUNT, 1);
  if (i >= Atomics.load(block, TRACE_CAPACITY)) return;
  const records = new Float64Array(memory.buffer, Atomics.load(block, TRACE_AT) + 32 * i, 4);
  records[0] = thread;
  records[1] = chunk;
  records[2] = start;
  records[3] = performance.timeOrigin + performance.now();
}
