/**
 * smoothxent itself, from the built package (dist/), in three ways:
 * - the public API `xent.crossEntropy(logits, labels, options)` on each backend: data is
 *   copied into wasm memory and the gradient comes back in a new Float32Array;
 * - a zero-copy batch: `xent.createBatch(N, K)`, logits and labels written once outside
 *   the timed call, then `batch.crossEntropy(...)` (gradient in the batch's own view);
 * - the floors: one SIMD expf pass and one memcpy over the same number of floats, in
 *   wasm memory, from dist/floors.js.
 * Methods whose id ends in `-t2` are the same call on `createXent({ threads: 2 })` (sync calls
 * then split their rows between two workers); `-async` ones time `crossEntropyAsync`.
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

/** One Xent per backend and thread count for the whole run; { reason } when the backend is unavailable. */
export async function getXent(backend, threads = 1) {
  const key = `${backend} ${threads}`;
  if (!xents.has(key)) {
    xents.set(
      key,
      loadLibrary()
        .then(({ createXent }) => createXent({ backend, threads }))
        .then(
          (xent) => {
            if (xent.backend !== backend) throw new Error(`asked for ${backend}, got ${xent.backend}`);
            return { xent };
          },
          (error) => ({ reason: String(error?.message ?? error) }),
        ),
    );
  }
  return xents.get(key);
}

async function availability(backend, threads = 1) {
  const { xent, reason } = await getXent(backend, threads);
  if (reason) return `createXent({ backend: '${backend}', threads: ${threads} }) failed: ${reason}`;
  if (xent.threads !== threads) return `createXent({ backend: '${backend}', threads: ${threads} }) runs ${xent.threads} thread(s) here`;
  return true;
}

const suffix = (threads) => (threads === 1 ? '' : `-t${threads}`);
const threadsLabel = (threads) => (threads === 1 ? '' : `, ${threads} threads`);

function apiMethod(backend, threads = 1) {
  return {
    id: `smoothxent-${backend}${suffix(threads)}`,
    label: `smoothxent ${backend}${threadsLabel(threads)}`,
    available: () => availability(backend, threads),
    async prepare({ logits, labels, numClasses, smoothing, grad }) {
      const { xent } = await getXent(backend, threads);
      const options = { numClasses, smoothing, reduction: 'mean', grad };
      const call = () => xent.crossEntropy(logits, labels, options);
      return { call, evaluate: call, dispose() {} };
    },
  };
}

/**
 * `crossEntropyAsync` (awaited, one call at a time): at the smallest shapes its time minus the
 * sync call's is the fixed cost of an async call (a round trip to a worker).
 */
function asyncMethod(backend, threads = 1) {
  return {
    id: `smoothxent-${backend}-async${suffix(threads)}`,
    label: `smoothxent ${backend}, crossEntropyAsync${threadsLabel(threads)}`,
    async: true,
    available: () => availability(backend, threads),
    async prepare({ logits, labels, numClasses, smoothing, grad }) {
      const { xent } = await getXent(backend, threads);
      const options = { numClasses, smoothing, reduction: 'mean', grad: grad ? new Float32Array(logits.length) : false };
      const call = () => xent.crossEntropyAsync(logits, labels, options);
      const evaluate = async () => {
        const result = await call();
        return { loss: result.loss, grad: result.grad?.slice() };
      };
      return { call, evaluate, dispose() {} };
    },
  };
}

/**
 * The public API with the gradient written into a caller-owned Float32Array reused across
 * calls (`grad: buffer`): separates smoothxent's own cost from allocating (and, on a fresh
 * mapping, page-faulting) a new N·K gradient array on every call. Loss + gradient mode only.
 */
function reusedGradMethod(backend, threads = 1) {
  return {
    id: `smoothxent-${backend}-reused-grad${suffix(threads)}`,
    label: `smoothxent ${backend}, grad into a reused array${threadsLabel(threads)}`,
    modes: ['loss+grad'],
    available: () => availability(backend, threads),
    async prepare({ logits, labels, numClasses, smoothing }) {
      const { xent } = await getXent(backend, threads);
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

function batchMethod(backend, shortName, threads = 1) {
  return {
    id: `smoothxent-batch-${shortName}${suffix(threads)}`,
    label: `smoothxent ${backend}, zero-copy batch${threadsLabel(threads)}`,
    available: () => availability(backend, threads),
    async prepare({ logits, labels, rows, numClasses, smoothing, grad }) {
      const { xent } = await getXent(backend, threads);
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
  batchMethod('wasm-simd', 'simd'),
  batchMethod('wasm-relaxed-simd', 'relaxed'),
  // Threads: each 2-thread row next to its 1-thread twin (report.mjs pairs them by id).
  apiMethod('wasm-simd', 2),
  reusedGradMethod('wasm-simd', 2),
  batchMethod('wasm-simd', 'simd', 2),
  apiMethod('wasm-relaxed-simd', 2),
  reusedGradMethod('wasm-relaxed-simd'),
  reusedGradMethod('wasm-relaxed-simd', 2),
  batchMethod('wasm-relaxed-simd', 'relaxed', 2),
  asyncMethod('wasm-simd'),
  asyncMethod('wasm-simd', 2),
];

export const floorMethods = [
  floorMethod('exp', 'wasm-simd', 'floor-exp-simd', 'floor: one SIMD expf pass'),
  floorMethod('exp', 'wasm-relaxed-simd', 'floor-exp-relaxed', 'floor: one relaxed-SIMD expf pass'),
  floorMethod('memcpy', 'wasm-simd', 'floor-memcpy', 'floor: memcpy (read + write)'),
];
