/**
 * Compiling the embedded kernel binaries. Each binary is decoded and compiled at most
 * once per process (the promise is cached), in two forms: as built (its memory import
 * unshared, for this thread's own instances) and with the memory import declared shared
 * (for the worker pool, src/threads/). The second is the same code byte for byte: only the
 * import's limits differ, so a row gives the same bits on either.
 */
import { BINARIES } from './binaries.generated.js';
import { instantiate, MAX_PAGES, type KernelExports, type WasmBackendName } from './instance.js';

export { PAGE, MAX_PAGES, instantiate, type KernelExports, type WasmBackendName } from './instance.js';

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

const compiled = new Map<string, Promise<WebAssembly.Module>>();

const WHY: Record<WasmBackendName, string> = {
  'wasm-relaxed-simd': 'this runtime does not accept WebAssembly relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd; Chrome ≥ 114, Node ≥ 22 have it)',
  'wasm-simd': 'this runtime does not accept WebAssembly SIMD (fixed-width 128-bit)',
  wasm: 'this runtime does not accept the WebAssembly binary',
};

/**
 * Compiles a backend's binary once; rejects with the reason when the runtime can't run it.
 * `shared`: the variant whose memory import is a shared memory (see sharedVariant).
 */
export function compile(name: WasmBackendName, shared = false): Promise<WebAssembly.Module> {
  const key = shared ? `${name} shared` : name;
  let module = compiled.get(key);
  if (!module) {
    module = (async () => {
      if (typeof WebAssembly !== 'object') throw new Error(`${name} is not available: this runtime has no WebAssembly`);
      const built = decode(BINARIES[name]);
      // Detect by validating the very binary we will run, never by guessing from the runtime.
      if (!WebAssembly.validate(built)) throw new Error(`${name} is not available: ${WHY[name]}`);
      if (!shared) return WebAssembly.compile(built);
      const bytes = sharedVariant(built);
      if (!WebAssembly.validate(bytes)) throw new Error(`${name} with a shared memory is not available: this runtime does not accept WebAssembly threads`);
      return WebAssembly.compile(bytes);
    })();
    module.catch(() => compiled.delete(key));
    compiled.set(key, module);
  }
  return module;
}

/** A fresh instance with its own memory of `pages` pages (`maximum` caps its growth). */
export async function instantiateWith(module: WebAssembly.Module, pages: number, maximum?: number) {
  return instantiateWithSync(module, pages, maximum);
}

/** Synchronous version for zero-copy batches (the module is already compiled). */
export function instantiateWithSync(module: WebAssembly.Module, pages: number, maximum?: number): { exports: KernelExports; memory: WebAssembly.Memory } {
  const memory = new WebAssembly.Memory(maximum === undefined ? { initial: pages } : { initial: pages, maximum });
  return { exports: instantiate(module, memory), memory };
}

// ---------------------------------------------------------------------------------------
// The shared-memory variant of a binary

function readLeb(bytes: Uint8Array, at: number): { value: number; next: number } {
  let value = 0;
  let shift = 0;
  let byte: number;
  do {
    byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return { value, next: at };
}

function leb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}

/**
 * The binary with its memory import declared shared, with a maximum of 4 GiB (a shared memory
 * must declare one): what asc 0.28 builds with `--sharedMemory --maximumMemory 65536 --enable
 * threads` from the same source (checked byte for byte: the code, data and every other
 * section are identical), without a second set of binaries in the package. The kernels use no
 * atomics and allocate nothing (stub runtime), so they are safe on a memory that several
 * threads share, each on its own regions.
 */
export function sharedVariant(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const parts: number[][] = [Array.from(bytes.subarray(0, 8))];
  let at = 8;
  let patched = false;
  while (at < bytes.length) {
    const id = bytes[at];
    const size = readLeb(bytes, at + 1);
    const start = size.next;
    const end = start + size.value;
    if (id !== 2) {
      parts.push(Array.from(bytes.subarray(at, end)));
      at = end;
      continue;
    }
    // The import section: entries of (module, field, kind, type); rewrite memory limits.
    const body: number[] = [];
    const count = readLeb(bytes, start);
    body.push(...leb(count.value));
    let p = count.next;
    for (let i = 0; i < count.value; i++) {
      const from = p;
      for (let name = 0; name < 2; name++) {
        const length = readLeb(bytes, p);
        p = length.next + length.value;
      }
      const kind = bytes[p++];
      if (kind !== 2) {
        // func: type index; table: reftype + limits; global: valtype + mutability.
        if (kind === 0) p = readLeb(bytes, p).next;
        else if (kind === 1) p = skipLimits(bytes, p + 1);
        else p += 2;
        body.push(...bytes.subarray(from, p));
        continue;
      }
      body.push(...bytes.subarray(from, p));
      const flags = bytes[p];
      const initial = readLeb(bytes, p + 1);
      p = flags & 1 ? readLeb(bytes, initial.next).next : initial.next;
      body.push(0x03, ...leb(initial.value), ...leb(MAX_PAGES));
      patched = true;
    }
    parts.push([2, ...leb(body.length), ...body]);
    at = end;
  }
  if (!patched) throw new Error('sharedVariant: the binary imports no memory');
  return Uint8Array.from(parts.flat());
}

function skipLimits(bytes: Uint8Array, at: number): number {
  const flags = bytes[at];
  const initial = readLeb(bytes, at + 1);
  return flags & 1 ? readLeb(bytes, initial.next).next : initial.next;
}
