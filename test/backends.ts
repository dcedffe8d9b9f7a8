/**
 * Every backend this runtime can run, created once per test file. Tests loop over
 * these so that each case runs on wasm-relaxed-simd (where the runtime has it),
 * wasm-simd, wasm and js.
 */
import { createXent, BACKENDS, type BackendName, type CreateOptions, type Xent } from '../src/index.js';
import { relaxedSimdEnabled } from '../scripts/relaxed-simd.mjs';
import { testOverrides } from '../src/threads/platform.js';
import type { Threading } from '../src/threads/index.js';

export async function createAllBackends(options: Omit<CreateOptions, 'backend'> = {}): Promise<Xent[]> {
  const created: Xent[] = [];
  for (const backend of BACKENDS) {
    try {
      created.push(await createXent({ backend, ...options }));
    } catch (error) {
      if (!mayLack(backend)) throw error;
    }
  }
  return created;
}

/** Every backend with threads: 2 as on a page without shared memory: one worker that gets copies. */
export async function createCopyBackends(): Promise<Xent[]> {
  testOverrides.sharedMemory = false;
  try {
    return await createAllBackends({ threads: 2 });
  } finally {
    testOverrides.sharedMemory = null;
  }
}

/** An instance's threading (the pools, and the size from which sync calls use them). */
export const threadingOf = (xent: Xent): Threading => (xent as unknown as { threading: Threading }).threading;

/**
 * Every backend on the pool, twice: threads 2, and `threads` threads with a 64 KiB arena (many
 * chunks per call, most starting inside a group or an outer), then the copy-worker backends;
 * sync calls of any size go through the pool.
 */
export async function createPooledBackends(threads: number): Promise<Xent[]> {
  const pooled = [...(await createAllBackends({ threads: 2 })), ...(await createAllBackends({ threads, arenaBytes: 65536 }))];
  for (const xent of pooled) threadingOf(xent).syncMinElements = 0;
  pooled.push(...(await createCopyBackends()));
  return pooled;
}

export const backendNames = (xents: Xent[]): BackendName[] => xents.map((x) => x.backend);

/**
 * Only relaxed SIMD may be missing, and only where the runtime does not run it: Node 20 needs
 * --experimental-wasm-relaxed-simd (npm run test:relaxed passes it and sets
 * SMOOTHXENT_RELAXED=1); Node ≥ 22 and Chrome have it by default, so there it must be there.
 */
export function mayLack(backend: BackendName): boolean {
  return backend === 'wasm-relaxed-simd' && process.env.SMOOTHXENT_RELAXED !== '1' && !relaxedSimdEnabled();
}

/** Whether this run tests the relaxed-SIMD binary (it does wherever the runtime runs it). */
export const testsRelaxed = (): boolean => process.env.SMOOTHXENT_RELAXED === '1' || relaxedSimdEnabled();
