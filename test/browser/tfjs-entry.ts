/**
 * The tfjs browser test's page script: TensorFlow.js (core with its gradients, the cpu and
 * wasm backends, layers) and smoothxent/tfjs from src/, bundled by esbuild for the browser,
 * running the checks Node runs (tfjs-cases.ts, tfjs-training.ts). tfjs-backend-wasm loads
 * its .wasm files from ./tfjs-wasm/ (the test serves them there).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import type { BackendName } from '../../src/index.js';
import { createTfjsLosses } from '../../src/tfjs/index.js';
import { againstReference, againstTfjs, errorCases } from '../tfjs-cases.js';
import { fitTwice, leakCounts } from '../tfjs-training.js';

setWasmPaths(new URL('./tfjs-wasm/', location.href).href);

const api = {
  /** Every check on one tfjs backend, with one smoothxent backend (default auto). */
  async run(tfjsBackend: 'cpu' | 'wasm', backend?: BackendName) {
    if (!(await tf.setBackend(tfjsBackend))) throw new Error(`tf.setBackend('${tfjsBackend}') failed`);
    const losses = await createTfjsLosses(tf, backend ? { backend } : {});
    const env = { tf, tfl, losses };
    return {
      tfjsBackend: tf.getBackend(),
      wasmSimd: tfjsBackend === 'wasm' ? await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT') : null,
      backend: losses.backend,
      comparisons: againstTfjs(env),
      reference: againstReference(env),
      errors: errorCases(env),
      fit: await fitTwice(env, 20),
      leaks: await leakCounts(env),
    };
  },
};
export type TfjsBrowserTestApi = typeof api;

(globalThis as unknown as { smoothxentTfjsTest: TfjsBrowserTestApi }).smoothxentTfjsTest = api;
document.body.dataset.ready = 'true';
