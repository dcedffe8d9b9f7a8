/** The pure-JS backend: the same contract as the wasm bridge, on the caller's arrays directly. */
import type { Backend, BatchStorage, HardRequest, SoftRequest } from '../backend.js';
import { hardRows } from './xent.js';
import { softRows } from './soft.js';
import { countLabels, firstBadTarget } from './labels.js';
import { softmax } from './softmax.js';
import { rowStats, accumulateStats } from './stats.js';
import { temperatureSums } from './temperature.js';
import { ace } from './calibration.js';
import { decodeHalf, halfRows } from './half.js';

export class JsBackend implements Backend {
  readonly name = 'js' as const;

  // The row kernels take a class axis not last as it is (request.inner: step between classes);
  // 16-bit logits go through half.ts, blocks decoded in the same layout.
  hard: Backend['hard'] = (request) => (request.half ? halfRows(hardRows, request) : hardRows(request));
  soft: Backend['soft'] = (request) => (request.half ? halfRows(softRows, request) : softRows(request));
  countLabels = countLabels;
  firstBadTarget = firstBadTarget;
  softmax = softmax;
  rowStats = rowStats;
  accumulateStats = accumulateStats;
  temperatureSums = temperatureSums;
  ace = ace;
  decodeHalf: Backend['decodeHalf'] = (half, out) => decodeHalf(half.bits, 0, half.bits.length, half.format, out, 0);

  createBatch(rows: number, K: number): BatchStorage {
    const logits = new Float32Array(rows * K);
    const labels = new Int32Array(rows);
    const grad = new Float32Array(rows * K);
    let alive = true;
    return {
      logits, labels, grad,
      countLabels: (numClasses, ignoreIndex, weight) => countLabels(labels, numClasses, ignoreIndex, weight),
      hard(request, gradMode, wantLosses, wantLse) {
        if (!alive) throw new Error('this batch was disposed');
        const losses = wantLosses ? new Float32Array(rows) : null;
        const lse = wantLse ? new Float32Array(rows) : null;
        const out = gradMode === 'own' ? grad : gradMode === 'inplace' ? logits : null;
        const sum = hardRows({ ...request, logits, labels, grad: out, losses, lse });
        return { sum, losses, lse };
      },
      dispose() {
        alive = false;
      },
    };
  }
}
