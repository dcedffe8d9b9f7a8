/**
 * TensorFlow.js 4.22 peer: `tf.losses.softmaxCrossEntropy(onehot, logits, undefined, ε)`
 * on the `wasm` backend (XNNPACK, SIMD build) and on the pure-JS `cpu` backend.
 * Loss + gradient uses `tf.valueAndGrad`. The one-hot tensor and the logits tensor are
 * built outside the timed call; inside it, `dataSync()` forces the work and copies the
 * result out (as a caller would), and `tf.tidy` frees every intermediate.
 *
 * Node quirks handled here:
 * - tfjs-core's Node bundle has no gradient definitions: they are registered by importing
 *   `dist/register_all_gradients.js` through ./../tfjs-resolve-hook.mjs (see there why).
 * - tfjs-backend-wasm locates its .wasm files relative to the page; under Node we point
 *   `setWasmPaths` at the package's dist/ folder (a file path with a trailing slash).
 * - Which binary actually ran is checked, not assumed: the bytes handed to
 *   `WebAssembly.instantiate` are compared with the three .wasm files on disk.
 */
import { register } from 'node:module';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
let loaded;

/** Loads tfjs once: core, gradients, wasm + cpu backends; returns { tf, info }. */
export function loadTfjs() {
  loaded ??= load();
  return loaded;
}

async function load() {
  register(new URL('../tfjs-resolve-hook.mjs', import.meta.url));
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  if (!tf.getGradient('LogSoftmax') && !tf.getGradient('Softmax')) {
    throw new Error('tfjs gradients were not registered (register_all_gradients.js did not load)');
  }
  const wasmBackend = await import('@tensorflow/tfjs-backend-wasm');
  await import('@tensorflow/tfjs-backend-cpu');
  const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm')) + path.sep;
  wasmBackend.setWasmPaths(wasmDir);
  const binary = await initWasmAndIdentifyBinary(tf, wasmDir);
  await primeCpuBackendQuietly(tf);

  const info = {
    version: tf.version_core,
    wasmDir,
    wasmBinary: binary,
    wasmHasSimdSupport: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
    wasmHasMultithreadSupport: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
    wasmThreads: wasmBackend.getThreadsCount(),
  };
  return { tf, info };
}

/** Initialises the wasm backend while recording the bytes it instantiates; names the file they match. */
async function initWasmAndIdentifyBinary(tf, wasmDir) {
  const instantiated = [];
  const original = WebAssembly.instantiate;
  WebAssembly.instantiate = function (source, imports) {
    if (!(source instanceof WebAssembly.Module)) instantiated.push(new Uint8Array(source.buffer ?? source, source.byteOffset ?? 0, source.byteLength));
    return original.call(this, source, imports);
  };
  try {
    if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed');
  } finally {
    WebAssembly.instantiate = original;
  }
  const names = ['tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm', 'tfjs-backend-wasm.wasm'];
  for (const bytes of instantiated) {
    for (const name of names) {
      if (Buffer.from(bytes).equals(readFileSync(wasmDir + name))) return name;
    }
  }
  return instantiated.length ? `unknown (${instantiated.map((b) => b.byteLength).join(', ')} bytes)` : 'unknown (not seen)';
}

/**
 * The cpu backend prints an "install tfjs-node" banner on its first tensor; write that first
 * tensor here with the banner filtered out (other warnings pass), so it is not in the tables.
 */
async function primeCpuBackendQuietly(tf) {
  const warn = console.warn;
  console.warn = (...args) => {
    if (!String(args[0]).includes('tfjs-node')) warn(...args);
  };
  try {
    if (!(await tf.setBackend('cpu'))) throw new Error('tf.setBackend("cpu") failed');
    tf.tensor1d([0]).dispose();
  } finally {
    console.warn = warn;
  }
}

function tfjsMethod(backend, label) {
  return {
    id: `tfjs-${backend}`,
    label,
    async prepare({ logits, labels, rows, numClasses, smoothing, grad }) {
      const { tf } = await loadTfjs();
      if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend(${backend}) failed`);
      const logitsTensor = tf.tensor2d(logits, [rows, numClasses], 'float32');
      const onehot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), numClasses), 'float32'));
      const lossOf = (z) => tf.losses.softmaxCrossEntropy(onehot, z, undefined, smoothing);
      const lossAndGrad = tf.valueAndGrad(lossOf);

      let evaluate;
      if (grad) {
        evaluate = () => {
          let out;
          tf.tidy(() => {
            const { value, grad: gradient } = lossAndGrad(logitsTensor);
            out = { loss: value.dataSync()[0], grad: gradient.dataSync() };
          });
          return out;
        };
      } else {
        evaluate = () => {
          let out;
          tf.tidy(() => {
            out = { loss: lossOf(logitsTensor).dataSync()[0] };
          });
          return out;
        };
      }
      return {
        call: evaluate,
        evaluate,
        dispose() {
          logitsTensor.dispose();
          onehot.dispose();
        },
      };
    },
  };
}

export const tfjsWasmMethod = tfjsMethod('wasm', 'tfjs-wasm 4.22 (SIMD, 1 thread)');
export const tfjsCpuMethod = tfjsMethod('cpu', 'tfjs-cpu 4.22 (plain JS)');

/** tf.memory().numTensors, to check that nothing leaks across tasks. */
export async function tfjsTensorCount() {
  if (!loaded) return 0;
  const { tf } = await loaded;
  return tf.memory().numTensors;
}
