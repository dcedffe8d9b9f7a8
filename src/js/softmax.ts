/**
 * Softmax of z/T per row (or its log) for the JS fallback: assembly/softmax.ts's spec in
 * float64 arithmetic. `out` may be the logits themselves: each row's logits are read before
 * they are written over.
 */
import type { SoftmaxRequest } from '../backend.js';
import { expMinus } from './rows.js';
import { pass, rowPasses } from './stats.js';

export function softmax(request: SoftmaxRequest): void {
  const { logits, out, rows, numClasses: K, temperature, log } = request;
  const invT = 1 / temperature;
  for (let r = 0; r < rows; r++) {
    const base = r * K;
    const end = base + K;
    const rest = rowPasses(logits, base, K, invT, 0, false, false, false, false);
    const m = pass.m;
    if (log) {
      const logS = Math.log1p(rest);
      for (let k = base; k < end; k++) out[k] = (logits[k] - m) * invT - logS;
    } else {
      const scale = 1 / (1 + rest);
      for (let k = base; k < end; k++) out[k] = expMinus((logits[k] - m) * invT) * scale;
    }
  }
}
