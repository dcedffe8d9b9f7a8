/**
 * Probability-target cross-entropy for the JS fallback: the kernel contract of
 * assembly/soft.ts (see its header for the math), float64 arithmetic. A class axis that is not
 * last (`request.inner` > 1) is read in place with step `inner` between classes, as in xent.ts.
 */
import type { SoftRequest } from '../backend.js';
import { rowMax, rowMaxOfBits, rowExpSum, exactSumMinusOne, logOfSum, RECOUNT_BELOW, BRANCHLESS_MAX_K } from './rows.js';

export function softRows(request: SoftRequest): number {
  const { logits, targets, rows, numClasses: K, smoothing: eps, weight, temperature, scale, grad, losses, lse: lseOut } = request;
  const keep = 1 - eps;
  const spread = eps / K;
  const invT = 1 / temperature;
  const bits = K <= BRANCHLESS_MAX_K ? new Int32Array(logits.buffer, logits.byteOffset, logits.length) : null;
  const step = request.inner ?? 1;
  const span = K * step;
  let sum = 0;
  for (let r = 0, o = 0, i = 0; r < rows; r++) {
    // Position r = o·step + i starts at o·K·step + i (for rows: r·K); targets and the
    // gradient are laid out as the logits.
    const base = o * span + i;
    if (++i === step) {
      i = 0;
      o++;
    }
    // Pass 1: m, then B = Σ u_k and C = Σ u_k·(z_k − m) with u_k = w_k·t'_k; a zero u_k adds
    // 0 even at z_k = −∞. The gaps z_k − m ≤ 0 make the loss B·log S − C/T a sum of terms
    // ≥ 0, as in assembly/soft.ts (B·lse − Σ u·z/T would cancel for a confident row).
    const m = bits ? rowMaxOfBits(bits, base, step, K) : rowMax(logits, base, step, K);
    let B = 0;
    let C = 0;
    for (let k = 0, j = base; k < K; k++, j += step) {
      const u = (targets[j] * keep + spread) * (weight ? weight[k] : 1);
      B += u;
      if (u !== 0) C += u * (logits[j] - m);
    }
    // Pass 2: S = Σ exp((z − m)/T), log S (a confident row's S − 1 summed again without the
    // max's 1: see exactSumMinusOne), lse of z/T.
    const expSum = rowExpSum(logits, base, step, K, m, invT, grad, base, step);
    const sMinusOne = expSum - 1 < RECOUNT_BELOW ? exactSumMinusOne(logits, base, step, K, m, invT, grad, base, step) : expSum - 1;
    const S = 1 + sMinusOne;
    const logS = logOfSum(sMinusOne);
    if (lseOut) lseOut[r] = m * invT + logS;
    const loss = B * logS - C * invT;
    if (losses) losses[r] = loss;
    sum += Math.fround(loss); // the row loss as written out (see assembly/xent.ts)
    // Pass 3: g_k = (B·p_k − u_k)/T · scale.
    if (grad) {
      const alpha = (B / S) * scale * invT;
      const beta = scale * invT;
      for (let k = 0, j = base; k < K; k++, j += step) {
        const u = (targets[j] * keep + spread) * (weight ? weight[k] : 1);
        grad[j] = grad[j] * alpha - u * beta;
      }
    }
  }
  return sum;
}
