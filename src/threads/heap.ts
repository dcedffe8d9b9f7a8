/**
 * Blocks of the pool's shared memory: worker control blocks, each worker's arena and the
 * zero-copy batches. First fit over a list of free blocks, 64-byte aligned (a cache line, so
 * that two workers' blocks never share one); the memory grows when nothing fits and never
 * shrinks. A shared memory's buffer is never detached by growth, so views over blocks handed
 * out earlier stay valid (a view over the whole buffer must be rebuilt to see the new end).
 */
import { MAX_PAGES, PAGE } from '../wasm/instance.js';

const ALIGN = 64;
const aligned = (bytes: number) => Math.ceil(bytes / ALIGN) * ALIGN;

export class Heap {
  private readonly free: { at: number; bytes: number }[] = [];
  private readonly sizes = new Map<number, number>();
  private end: number;

  constructor(private readonly memory: WebAssembly.Memory, start: number) {
    this.end = aligned(start);
  }

  /** A block of at least `bytes` (what: for the error message when 4 GiB would not hold it). */
  alloc(bytes: number, what: string): number {
    const size = aligned(Math.max(bytes, 1));
    for (let i = 0; i < this.free.length; i++) {
      const block = this.free[i];
      if (block.bytes < size) continue;
      const at = block.at;
      if (block.bytes === size) {
        this.free.splice(i, 1);
      } else {
        block.at += size;
        block.bytes -= size;
      }
      this.sizes.set(at, size);
      return at;
    }
    const at = this.end;
    const pages = Math.ceil((at + size) / PAGE);
    if (pages > MAX_PAGES) throw new RangeError(`${what} needs ${at + size} bytes of shared wasm memory, more than the 4 GiB wasm32 can address`);
    const have = this.memory.buffer.byteLength / PAGE;
    if (pages > have) this.memory.grow(pages - have);
    this.end = at + size;
    this.sizes.set(at, size);
    return at;
  }

  release(at: number): void {
    const size = this.sizes.get(at);
    if (size === undefined) return;
    this.sizes.delete(at);
    let i = 0;
    while (i < this.free.length && this.free[i].at < at) i++;
    this.free.splice(i, 0, { at, bytes: size });
    // Merge with the neighbours, and give the last block back to the end.
    const next = this.free[i + 1];
    if (next && at + size === next.at) {
      this.free[i].bytes += next.bytes;
      this.free.splice(i + 1, 1);
    }
    const previous = this.free[i - 1];
    if (previous && previous.at + previous.bytes === at) {
      previous.bytes += this.free[i].bytes;
      this.free.splice(i, 1);
      i--;
    }
    const last = this.free[this.free.length - 1];
    if (last && last.at + last.bytes === this.end) {
      this.end = last.at;
      this.free.pop();
    }
  }
}
