/** The label and target checks in JS (the wasm side is assembly/labels.ts). */
import type { IndexArray, LabelCounter, TargetChecker } from '../backend.js';

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

/** The TargetChecker contract (backend.ts). */
export const firstBadTarget: TargetChecker = (targets: Float32Array): number => {
  for (let i = 0; i < targets.length; i++) if (!(targets[i] >= 0)) return i;
  return -1;
};
