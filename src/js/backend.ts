/** The pure-JS backend: the same contract as the wasm bridge, on the caller's arrays directly. */
import type { Backend, BatchStorage, HardRequest, SoftRequest } from '../backend.js';
import { hardRows } from './xent.js';
import { softRows } from './soft.js';
import { hardStrided, softStrided } from './strided.js';
import { countLabels, firstBadTarget } from './labels.js';
import { softmax } from './softmax.js';
import { rowStats, accumulateStats } from './stats.js';
import { temperatureSums } from './temperature.js';
import { ace } from './calibration.js';
import { decodeHalf, halfRows } from './half.js';

export class JsBackend implements Backend {
  readonly name = 'js' as const;

  // A class axis not last (16-bit logits too) goes to strided.ts; 16-bit rows to half.ts.
  hard: Backend['hard'] = (request) => ((request.inner ?? 1) > 1 ? hardStrided(request) : request.half ? halfRows(hardRows, request) : hardRows(request));
  soft: Backend['soft'] = (request) => ((request.inner ?? 1) > 1 ? softStrided(request) : request.half ? halfRows(softRows, request) : softRows(request));
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
