/** The label check and count in JS (the wasm side is assembly/labels.ts). */
import type { IndexArray, LabelCounter } from '../backend.js';

/** The LabelCounter contract (backend.ts), one pass over the caller's array. */
export const countLabels: LabelCounter = (labels: IndexArray, numClasses: number, ignoreIndex: number, weight: Float32Array | null): number => {
  let counted = 0;
  const n = labels.length;
  if (weight) {
    for (let i = 0; i < n; i++) {
      const y = labels[i];
      if (y === ignoreIndex) continue;
      if (!(y >= 0 && y < numClasses)) return -1 - i;
      counted += weight[y];
    }
  } else {
    for (let i = 0; i < n; i++) {
      const y = labels[i];
      if (y === ignoreIndex) continue;
      if (!(y >= 0 && y < numClasses)) return -1 - i;
      counted++;
    }
  }
  return counted;
};
