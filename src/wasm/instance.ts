/**
 * Instances of an already compiled kernel module over a memory we own (`--importMemory`:
 * the module's only import is `env.memory`, so no loader glue is needed). Kept apart from
 * load.ts, which embeds the binaries, so that the worker code (src/threads/worker.ts),
 * which is posted a compiled module, is built without them.
 */

export type WasmBackendName = 'wasm' | 'wasm-simd' | 'wasm-relaxed-simd';

/** The kernel module's exports (see assembly/index.ts); pointers are byte offsets. */
export interface KernelExports {
  xentRows(
    logits: number, grad: number, labels: number, rows: number, K: number,
    smoothing: number, scale: number, ignoreIndex: number,
    weight: number, weightSum: number, zLoss: number, softcap: number, scratch: number,
    losses: number, lse: number, sumIn: number, rowWise: boolean,
  ): number;
  softRows(
    logits: number, targets: number, grad: number, rows: number, K: number,
    smoothing: number, scale: number, weight: number, temperature: number,
    losses: number, lse: number, sumIn: number, scratch: number, rowWise: boolean,
  ): number;
  xentStrided(
    logits: number, grad: number, labels: number, outers: number, K: number, width: number,
    smoothing: number, scale: number, ignoreIndex: number,
    weight: number, weightSum: number, zLoss: number, softcap: number, scratch: number, tiles: number,
    losses: number, lse: number, sumIn: number, rowWise: boolean, dtype: number,
  ): number;
  softStrided(
    logits: number, targets: number, grad: number, outers: number, K: number, width: number,
    smoothing: number, scale: number, weight: number, temperature: number,
    losses: number, lse: number, scratch: number, tiles: number, sumIn: number, rowWise: boolean, dtype: number,
  ): number;
  /** Positions the strided kernels gathered into tiles since instantiation (a testing hook, assembly/strided.ts). */
  stridedTiledPositions(): number;
  statsRows(
    logits: number, labels: number, rows: number, K: number,
    invT: number, smoothing: number, ignoreIndex: number,
    lse: number, confidence: number, prediction: number, entropy: number,
    logP: number, rank: number, brier: number, smoothed: number, rankCap: number, scratch: number,
  ): void;
  statsAccumulate(
    labels: number, rows: number, ignoreIndex: number,
    confidence: number, prediction: number, entropy: number, logP: number, rank: number, brier: number, smoothed: number,
    sums: number, topK: number, nTopK: number, bins: number, keys: number,
  ): number;
  temperatureRows(logits: number, labels: number, rows: number, K: number, beta: number, ignoreIndex: number, out: number): void;
  temperatureSum(labels: number, rows: number, ignoreIndex: number, rowsIn: number, sums: number): void;
  aceOfKeys(keys: number, n: number, bins: number, scratch: number): number;
  softmaxRows(logits: number, out: number, rows: number, K: number, invT: number, log: boolean): void;
  /** assembly/half.ts: the 16-bit forms (format 1 float16, 2 bfloat16; encodeGrad: write the gradient as 16 bits). */
  xentRowsHalf(format: number, encodeGrad: number, ...xentRows: Parameters<KernelExports['xentRows']>): number;
  softRowsHalf(format: number, encodeGrad: number, ...softRows: Parameters<KernelExports['softRows']>): number;
  decodeHalf(src: number, dst: number, n: number, format: number): void;
  encodeHalf(src: number, dst: number, n: number, format: number): void;
  labelScan(labels: number, n: number, K: number, ignoreIndex: number): number;
  labelWeightSum(labels: number, n: number, weight: number, ignoreIndex: number, sumIn: number): number;
  firstBadTarget(targets: number, n: number): number;
  expFloor(ptr: number, n: number): void;
  copyFloor(dst: number, src: number, n: number): void;
  heapBase(): number;
}

export const PAGE = 65536;
/** wasm32 can address at most 4 GiB; V8 allows all of it. */
export const MAX_PAGES = 65536;

/** An instance of `module` over `memory` (synchronous: the module is already compiled). */
export function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}
