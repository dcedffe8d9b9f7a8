/**
 * Every backend this runtime can run, created once per test file. Tests loop over
 * these so that each case runs on wasm-relaxed-simd (where the runtime has it),
 * wasm-simd, wasm and js.
 */
import { createXent, BACKENDS, type BackendName, type Xent } from '../src/index.js';

export async function createAllBackends(options: { arenaBytes?: number } = {}): Promise<Xent[]> {
  const created: Xent[] = [];
  for (const backend of BACKENDS) {
    try {
      created.push(await createXent({ backend, ...options }));
    } catch (error) {
      // Only relaxed SIMD may be missing (Node 20 needs --experimental-wasm-relaxed-simd),
      // and not in the run that exists to test it (npm run test:relaxed).
      if (backend !== 'wasm-relaxed-simd' || process.env.SMOOTHXENT_RELAXED === '1') throw error;
    }
  }
  return created;
}

export const backendNames = (xents: Xent[]): BackendName[] => xents.map((x) => x.backend);
