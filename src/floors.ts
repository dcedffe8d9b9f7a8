/**
 * The benchmark's floors, measured in the same run as the kernels: one vector expf
 * pass over n floats (the least work any softmax must do) and a memcpy of n floats,
 * both inside wasm memory. Not part of the public API (a separate entry point).
 */
import { compile, instantiateWith, PAGE } from './wasm/load.js';

export async function createFloors(n: number, backend: 'wasm-simd' | 'wasm-relaxed-simd' = 'wasm-simd') {
  const module = await compile(backend);
  const { exports, memory } = await instantiateWith(module, 1);
  const src = exports.heapBase();
  const dst = src + Math.ceil((4 * n) / 16) * 16;
  const bytes = dst + 4 * n;
  if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
  const data = new Float32Array(memory.buffer, src, n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i) * 4;
  return {
    /** x ← exp(x − 1) over the n floats, in place (values stay in (0, 1]: no denormals). */
    expPass: () => exports.expFloor(src, n),
    /** Copy the n floats to a second region. */
    memcpy: () => exports.copyFloor(dst, src, n),
  };
}
