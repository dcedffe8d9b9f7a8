/**
 * Compiling and instantiating the embedded kernel binaries. Each binary is decoded
 * and compiled at most once per process (the promise is cached); instances are
 * created through @assemblyscript/loader with a memory we own (`--importMemory`).
 */
import { instantiate, instantiateSync } from '@assemblyscript/loader';
import { BINARIES } from './binaries.generated.js';

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

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

const compiled = new Map<WasmBackendName, Promise<WebAssembly.Module>>();

const WHY: Record<WasmBackendName, string> = {
  'wasm-relaxed-simd': 'this runtime does not accept WebAssembly relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd; Chrome ≥ 114, Node ≥ 22 have it)',
  'wasm-simd': 'this runtime does not accept WebAssembly SIMD (fixed-width 128-bit)',
  wasm: 'this runtime does not accept the WebAssembly binary',
};

/** Compiles a backend's binary once; rejects with the reason when the runtime can't run it. */
export function compile(name: WasmBackendName): Promise<WebAssembly.Module> {
  let module = compiled.get(name);
  if (!module) {
    module = (async () => {
      if (typeof WebAssembly !== 'object') throw new Error(`${name} is not available: this runtime has no WebAssembly`);
      const bytes = decode(BINARIES[name]);
      // Detect by validating the very binary we will run, never by guessing from the runtime.
      if (!WebAssembly.validate(bytes)) throw new Error(`${name} is not available: ${WHY[name]}`);
      return WebAssembly.compile(bytes);
    })();
    module.catch(() => compiled.delete(name));
    compiled.set(name, module);
  }
  return module;
}

/** A fresh instance with its own memory of `pages` pages (`maximum` caps its growth). */
export async function instantiateWith(module: WebAssembly.Module, pages: number, maximum?: number) {
  const memory = new WebAssembly.Memory(maximum === undefined ? { initial: pages } : { initial: pages, maximum });
  const { instance } = await instantiate<Record<string, unknown>>(module, { env: { memory } });
  return { exports: instance.exports as unknown as KernelExports, memory };
}

/** Synchronous version for zero-copy batches (the module is already compiled). */
export function instantiateWithSync(module: WebAssembly.Module, pages: number, maximum?: number) {
  const memory = new WebAssembly.Memory(maximum === undefined ? { initial: pages } : { initial: pages, maximum });
  const { instance } = instantiateSync<Record<string, unknown>>(module, { env: { memory } });
  return { exports: instance.exports as unknown as KernelExports, memory };
}
