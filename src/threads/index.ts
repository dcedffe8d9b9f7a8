/**
 * What `createXent({ threads })` sets up, and what the facade asks of it:
 *
 * - wasm backends where memory can be shared with workers (Node; browsers when cross-origin
 *   isolated): a SharedPool of `threads` workers over one shared memory, started at creation
 *   when threads > 1, else on the first async call (one worker). Zero-copy batches live in
 *   that memory, so their calls need no copies on any thread count.
 * - otherwise (the js backend; a page that is not isolated): a CopyPool, one worker that gets
 *   copies, started on the first async call; `threads` is then 1 whatever was asked.
 * - no workers at all (a runtime without Worker): async calls run on the calling thread.
 *
 * `threads` and `sharedMemory` report what is in use, never what was asked.
 */
import type { BackendName } from '../types.js';
import { compile } from '../wasm/load.js';
import type { WasmBackendName } from '../wasm/instance.js';
import { CopyPool } from './copy-pool.js';
import { autoThreads, sharedMemoryHere, workersHere } from './platform.js';
import { SharedPool } from './pool.js';
import type { SharedBatch } from './batch.js';
import { SYNC_POOL_MIN_ELEMENTS, syncCost } from './cost.js';

export { SharedPool } from './pool.js';
export { SharedBatch } from './batch.js';
export { CopyPool } from './copy-pool.js';
export { throwIfAborted, abortReason } from './abort.js';
export { yieldToEventLoop } from './platform.js';

export { SYNC_POOL_MIN_ELEMENTS, SYNC_ROW_COST, syncCost } from './cost.js';

export type AsyncPool = SharedPool | CopyPool;

export class Threading {
  private sharedPool: SharedPool | null = null;
  private copyPool: CopyPool | null = null;
  /** The least syncCost of a sync call on the pool; tests lower it, to run small sync calls on the workers too. */
  syncMinElements = SYNC_POOL_MIN_ELEMENTS;

  private constructor(
    private readonly backend: BackendName,
    /** Worker threads a large call uses. */
    readonly threads: number,
    /** Whether the workers share this thread's memory (no copies into messages). */
    readonly sharedMemory: boolean,
    private readonly sharedModule: WebAssembly.Module | null,
    private readonly plainModule: WebAssembly.Module | null,
    private readonly arenaBytes: number,
  ) {}

  static async create(backend: BackendName, requested: number | 'auto', arenaBytes: number): Promise<Threading> {
    const wanted = requested === 'auto' ? await autoThreads() : requested;
    if (!workersHere()) return new Threading(backend, 1, false, null, null, arenaBytes);
    let sharedModule: WebAssembly.Module | null = null;
    if (backend !== 'js' && sharedMemoryHere()) {
      try {
        sharedModule = await compile(backend, true);
      } catch {
        sharedModule = null; // no wasm threads here: copies
      }
    }
    const plainModule = backend !== 'js' && !sharedModule ? await compile(backend) : null;
    const threading = new Threading(backend, sharedModule ? wanted : 1, sharedModule !== null, sharedModule, plainModule, arenaBytes);
    if (threading.threads > 1) await threading.shared().start();
    return threading;
  }

  private shared(): SharedPool {
    this.sharedPool ??= new SharedPool(this.backend as WasmBackendName, this.sharedModule as WebAssembly.Module, this.threads, this.arenaBytes);
    return this.sharedPool;
  }

  /** The pool for a sync call of rows × K, when it should use one (else null). */
  syncPool(rows: number, K: number): SharedPool | null {
    if (this.threads < 2 || syncCost(rows, K) < this.syncMinElements) return null;
    const pool = this.sharedPool;
    return pool && pool.canRunSync() ? pool : null;
  }

  /** The pool for async calls; null when this runtime has no workers (calls run here). */
  asyncPool(): AsyncPool | null {
    if (this.sharedModule) return this.shared();
    if (!workersHere()) return null;
    this.copyPool ??= new CopyPool(this.backend, this.plainModule, this.arenaBytes);
    return this.copyPool;
  }

  /** A zero-copy batch in the shared memory, or null (the backend's own batch then). */
  createBatch(rows: number, numClasses: number): SharedBatch | null {
    return this.sharedModule ? this.shared().createBatch(rows, numClasses, () => this.syncMinElements) : null;
  }

  /** Test hooks of the pools. */
  testing() {
    return { shared: this.sharedPool, copies: this.copyPool };
  }

  dispose(): void {
    this.sharedPool?.dispose();
    this.copyPool?.dispose();
  }
}
