// The module's exports: kernels take pointers, lengths and scalars; one call per
// chunk of rows, never one per row. The host (src/wasm/bridge.ts) owns the memory.
export { xentRows } from './xent';
export { softRows } from './soft';
export { expFloor, copyFloor } from './exp';
export { labelScan, labelWeightSum, firstBadTarget } from './labels';
export { statsRows, statsAccumulate } from './stats';
export { aceOfKeys } from './calibration';
export { temperatureRows, temperatureSum } from './temperature';
export { softmaxRows } from './softmax';
export { xentStrided, softStrided, stridedTiledPositions } from './strided';
export { decodeHalf, encodeHalf, xentRowsHalf, softRowsHalf } from './half';

/** First free byte after the static data: the host's arena starts here (16-aligned). */
export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}
