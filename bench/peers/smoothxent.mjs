/**
 * smoothxent itself, from the built package (dist/), in three ways:
 * - the public API `xent.crossEntropy(logits, labels, options)` on each backend: data is
 *   copied into wasm memory and the gradient comes back in a new Float32Array;
 * - a zero-copy batch: `xent.createBatch(N, K)`, logits and labels written once outside
 *   the timed call, then `batch.crossEntropy(...)` (gradient in the batch's own view);
 * - the floors: one SIMD expf pass and one memcpy over the same number of floats, in
 *   wasm memory, from dist/floors.js.
 */

const distUrl = new URL('../../dist/', import.meta.url);
let library;
const xents = new Map();

async function loadLibrary() {
  library ??= Promise.all([import(new URL('index.js', distUrl)), import(new URL('floors.js', distUrl))]).then(
    ([index, floors]) => ({ createXent: index.createXent, createFloors: floors.createFloors }),
  );
  return library;
}

/** One Xent per backend for the whole run; undefined (with the reason) when the backend is unavailable. */
export async function getXent(backend) {
  if (!xents.has(backend)) {
    xents.set(
      backend,
      loadLibrary()
        .then(({ createXent }) => createXent({ backend }))
        .then(
          (xent) => {
            if (xent.backend !== backend) throw new Error(`asked for ${backend}, got ${xent.backend}`);
            return { xent };
          },
          (error) => ({ reason: String(error?.message ?? error) }),
        ),
    );
  }
  return xents.get(backend);
}

async function availability(backend) {
  const { reason } = await getXent(backend);
  return reason ? `createXent({ backend: '${backend}' }) failed: ${reason}` : true;
}

function apiMethod(backend) {
  return {
    id: `smoothxent-${backend}`,
    label: `smoothxent ${backend}`,
    available: () => availability(backend),
    async prepare({ logits, labels, numClasses, smoothing, grad }) {
      const { xent } = await getXent(backend);
      const options = { numClasses, smoothing, reduction: 'mean', grad };
      const call = () => xent.crossEntropy(logits, labels, options);
      return { call, evaluate: call, dispose() {} };
    },
  };
}

/**
 * The public API with the gradient written into a caller-owned Float32Array reused across
 * calls (`grad: buffer`): separates smoothxent's own cost from allocating (and, on a fresh
 * mapping, page-faulting) a new N·K gradient array on every call. Loss + gradient mode only.
 */
function reusedGradMethod(backend) {
  return {
    id: `smoothxent-${backend}-reused-grad`,
    label: `smoothxent ${backend}, grad into a reused array`,
    modes: ['loss+grad'],
    available: () => availability(backend),
    async prepare({ logits, labels, numClasses, smoothing }) {
      const { xent } = await getXent(backend);
      const options = { numClasses, smoothing, reduction: 'mean', grad: new Float32Array(logits.length) };
      const call = () => xent.crossEntropy(logits, labels, options);
      const evaluate = () => {
        const result = call();
        return { loss: result.loss, grad: (result.grad ?? options.grad).slice() };
      };
      return { call, evaluate, dispose() {} };
    },
  };
}

/**
 * `createXent()` with no options: the backend 'auto' picks, plus its dispatch of tiny calls
 * to the JS backend. The label names the backend it picked.
 */
let autoXent;
function autoMethod() {
  const method = {
    id: 'smoothxent-auto',
    label: 'smoothxent auto',
    async available() {
      autoXent ??= loadLibrary().then(({ createXent }) => createXent());
      method.label = `smoothxent auto (${(await autoXent).backend})`;
      return true;
    },
    async prepare({ logits, labels, numClasses, smoothing, grad }) {
      const xent = await autoXent;
      const options = { numClasses, smoothing, reduction: 'mean', grad };
      const call = () => xent.crossEntropy(logits, labels, options);
      return { call, evaluate: call, dispose() {} };
    },
  };
  return method;
}

function batchMethod(backend, shortName) {
  return {
    id: `smoothxent-batch-${shortName}`,
    label: `smoothxent ${backend}, zero-copy batch`,
    available: () => availability(backend),
    async prepare({ logits, labels, rows, numClasses, smoothing, grad }) {
      const { xent } = await getXent(backend);
      const batch = xent.createBatch(rows, numClasses);
      batch.logits.set(logits);
      batch.labels.set(labels);
      const options = { smoothing, reduction: 'mean', grad };
      const call = () => batch.crossEntropy(options);
      const evaluate = () => {
        const result = batch.crossEntropy(options);
        return { loss: result.loss, grad: grad ? (result.grad ?? batch.grad).slice() : undefined };
      };
      return { call, evaluate, dispose: () => batch.dispose() };
    },
  };
}

/**
 * 16-bit logits through the public API: the bench's logits rounded to float16 or bfloat16
 * (outside the timed call) and passed as a Uint16Array with `dtype`, so each call copies half
 * the bytes in and decodes them in wasm; the gradient a new Float32Array (as `grad: true` on
 * float32), or with grad16 one reused Uint16Array of the logits' dtype (loss + gradient only).
 * The loss is that of the rounded logits: float16 rounds a logit by up to 2⁻¹¹ relative,
 * bfloat16 by 2⁻⁸, hence the looser loss tolerance of the correctness check (equality with the
 * float32 call on the decoded values, bit for bit, is tested in test/dtype.test.ts).
 */
function halfMethod(backend, dtype, grad16 = false) {
  return {
    id: `smoothxent-${backend}-${dtype}${grad16 ? '-grad16' : ''}`,
    label: `smoothxent ${backend}, ${dtype} logits${grad16 ? `, ${dtype} grad into a reused array` : ''}`,
    lossTolerance: dtype === 'float16' ? 2e-3 : 2e-2,
    ...(grad16 ? { modes: ['loss+grad'] } : {}),
    available: () => availability(backend),
    async prepare({ logits, labels, numClasses, smoothing, grad }) {
      const { xent } = await getXent(backend);
      const { encodeHalf, decodeHalf } = await import(new URL('js/half.js', distUrl));
      const bits = new Uint16Array(logits.length);
      encodeHalf(logits, 0, logits.length, dtype, bits, 0);
      const options = { numClasses, smoothing, reduction: 'mean', dtype, grad: grad16 ? new Uint16Array(logits.length) : grad };
      const call = () => xent.crossEntropy(bits, labels, options);
      const evaluate = () => {
        const result = call();
        if (!grad16) return result;
        const decoded = new Float32Array(logits.length);
        decodeHalf(result.grad, 0, logits.length, dtype, decoded, 0);
        return { loss: result.loss, grad: decoded };
      };
      return { call, evaluate, dispose() {} };
    },
  };
}

function floorMethod(kind, backend, id, label) {
  return {
    id,
    label,
    floor: true,
    async available() {
      try {
        const { createFloors } = await loadLibrary();
        await createFloors(4, backend);
        return true;
      } catch (error) {
        return `createFloors(4, '${backend}') failed: ${error?.message ?? error}`;
      }
    },
    async prepare({ rows, numClasses }) {
      const { createFloors } = await loadLibrary();
      const floors = await createFloors(rows * numClasses, backend);
      const call = kind === 'exp' ? () => floors.expPass() : () => floors.memcpy();
      return { call, evaluate: undefined, dispose() {} };
    },
  };
}

export const smoothxentMethods = [
  autoMethod(),
  apiMethod('js'),
  apiMethod('wasm'),
  apiMethod('wasm-simd'),
  apiMethod('wasm-relaxed-simd'),
  reusedGradMethod('js'),
  reusedGradMethod('wasm-simd'),
  reusedGradMethod('wasm-relaxed-simd'),
  batchMethod('wasm-simd', 'simd'),
  batchMethod('wasm-relaxed-simd', 'relaxed'),
  halfMethod('wasm-relaxed-simd', 'float16'),
  halfMethod('wasm-relaxed-simd', 'bfloat16'),
  halfMethod('wasm-relaxed-simd', 'float16', true),
  halfMethod('wasm-relaxed-simd', 'bfloat16', true),
];

export const floorMethods = [
  floorMethod('exp', 'wasm-simd', 'floor-exp-simd', 'floor: one SIMD expf pass'),
  floorMethod('exp', 'wasm-relaxed-simd', 'floor-exp-relaxed', 'floor: one relaxed-SIMD expf pass'),
  floorMethod('memcpy', 'wasm-simd', 'floor-memcpy', 'floor: memcpy (read + write)'),
];
