/**
 * Class-label cross-entropy for the JS fallback: the kernel contract of
 * assembly/xent.ts (see its header for the math), three passes per row, float64
 * arithmetic, no allocation per call beyond a reused softcap scratch row.
 *
 * Rows, or a class axis that is not last (`request.inner` > 1, [outer][K][inner]): there the
 * row of position p is read and written in place with step `inner` between its classes
 * (rows.ts), no transposed copy; inner = 1 is the row layout, the same code.
 */
import type { HardRequest } from '../backend.js';
import { expMinus, rowMax, rowMaxOfBits, rowExpSum, rowExpGapSum, rowSoftcap, second, exactSumMinusOne, logOfSum, zeroRow, RECOUNT_BELOW, BRANCHLESS_MAX_K } from './rows.js';

let scratch = new Float32Array(0);

export function hardRows(request: HardRequest): number {
  const { weight, zLoss, softcap, lse } = request;
  if (weight === null && zLoss === 0 && softcap === 0 && lse === null) return plainRows(request);
  return anyRows(request);
}

/**
 * The plain case (no weight, zLoss, softcap or lse output; ignoreIndex and per-row losses
 * allowed), as one tight loop per pass: at K = 10, 15–20 % faster than anyRows, whose
 * per-row option handling V8 cannot strip. The same math as anyRows with w ≡ 1.
 */
function plainRows(request: HardRequest): number {
  const { logits, labels, rows, numClasses: K, smoothing: eps, ignoreIndex, scale, grad, losses } = request;
  const keep = 1 - eps;
  const epsOverK = eps / K;
  const beta = epsOverK * scale;
  const fix = keep * scale;
  const bits = K <= BRANCHLESS_MAX_K ? new Int32Array(logits.buffer, logits.byteOffset, logits.length) : null;
  const step = request.inner ?? 1;
  const span = K * step;
  let sum = 0;
  for (let r = 0, o = 0, i = 0; r < rows; r++) {
    // Position r = o·step + i starts at o·K·step + i (for rows: r·K).
    const base = o * span + i;
    if (++i === step) {
      i = 0;
      o++;
    }
    const end = base + span;
    const y = labels[r];
    if (y === ignoreIndex) {
      if (grad) zeroRow(grad, base, step, K);
      if (losses) losses[r] = 0;
      continue;
    }
    const m = bits ? rowMaxOfBits(bits, base, step, K) : rowMax(logits, base, step, K);
    // z_y before the exps, which may be written over the logits (in place).
    const zy = logits[base + y * step];
    let S = 0;
    let gaps = 0;
    if (grad) {
      for (let k = base; k < end; k += step) {
        const x = logits[k] - m;
        const v = expMinus(x);
        grad[k] = v;
        S += v;
        gaps += x;
      }
    } else {
      for (let k = base; k < end; k += step) {
        const x = logits[k] - m;
        S += expMinus(x);
        gaps += x;
      }
    }
    // A confident row's S − 1 summed again without the max's 1 (see exactSumMinusOne).
    const sMinusOne = S - 1 < RECOUNT_BELOW ? exactSumMinusOne(logits, base, step, K, m, 1, grad, base, step) : S - 1;
    const logS = logOfSum(sMinusOne);
    // ε = 0 skips the smoothing term (a −∞ logit makes `gaps` −∞).
    const loss = keep * (logS + (m - zy)) + (eps > 0 ? epsOverK * (K * logS - gaps) : 0);
    if (losses) losses[r] = loss;
    sum += Math.fround(loss); // the row loss as written out (see assembly/xent.ts)
    if (grad) {
      const alpha = scale / (1 + sMinusOne);
      for (let k = base; k < end; k += step) grad[k] = grad[k] * alpha - beta;
      grad[base + y * step] -= fix;
    }
  }
  return sum;
}

/** Any combination of options. */
function anyRows(request: HardRequest): number {
  const { logits, labels, rows, numClasses: K, smoothing: eps, ignoreIndex, weight, weightSum, zLoss, softcap, scale, grad, losses, lse: lseOut } = request;
  const epsOverK = eps / K;
  const beta = epsOverK * scale;
  if (softcap !== 0 && scratch.length < K) scratch = new Float32Array(K);
  const bits = K <= BRANCHLESS_MAX_K && softcap === 0 ? new Int32Array(logits.buffer, logits.byteOffset, logits.length) : null;
  const step = request.inner ?? 1;
  const span = K * step;
  let sum = 0;
  for (let r = 0, o = 0, i = 0; r < rows; r++) {
    // Position r = o·step + i starts at o·K·step + i (for rows: r·K).
    const base = o * span + i;
    if (++i === step) {
      i = 0;
      o++;
    }
    const y = labels[r];
    const ignored = y === ignoreIndex;
    if (ignored && !lseOut) {
      if (grad) zeroRow(grad, base, step, K);
      if (losses) losses[r] = 0;
      continue;
    }
    // Step 0: soft-capping; z/zBase/zStep then point at the capped row (contiguous).
    let z = logits;
    let zBase = base;
    let zStep = step;
    if (softcap !== 0) {
      rowSoftcap(logits, base, step, K, softcap, scratch);
      z = scratch;
      zBase = 0;
      zStep = 1;
    }
    // Step 1: the max.
    const m = bits ? rowMaxOfBits(bits, base, step, K) : rowMax(z, zBase, zStep, K);
    // z_y is read before step 2, which may write the exps over the logits (in place).
    const zy = ignored ? 0 : z[zBase + y * zStep];
    // Step 2: exps into the gradient buffer, S, and when ε > 0 the (weighted) gap sum.
    const wantGrad = grad !== null && !ignored;
    const smoothed = eps > 0 && !ignored;
    const e = wantGrad ? grad : null;
    const expSum = smoothed
      ? rowExpGapSum(z, zBase, zStep, K, m, e, base, step, weight)
      : rowExpSum(z, zBase, zStep, K, m, 1, e, base, step);
    // A confident row's S − 1 summed again without the max's 1 (see exactSumMinusOne).
    const sMinusOne = expSum - 1 < RECOUNT_BELOW ? exactSumMinusOne(z, zBase, zStep, K, m, 1, e, base, step) : expSum - 1;
    const S = 1 + sMinusOne;
    const logS = logOfSum(sMinusOne);
    const lse = m + logS;
    if (lseOut) lseOut[r] = lse;
    if (ignored) {
      if (grad) zeroRow(grad, base, step, K);
      if (losses) losses[r] = 0;
      continue;
    }
    // Step 3: the row loss, every term ≥ 0 (lse − z_k = log S + m − z_k):
    //   (1−ε)·w_y·(log S + m − z_y) + (ε/K)·(W·log S − Σ_k w_k·(z_k − m)) + zLoss·lse².
    const wy = weight ? weight[y] : 1;
    let loss = (1 - eps) * wy * (logS + (m - zy));
    if (smoothed) loss += epsOverK * (weightSum * logS - second.gapSum);
    if (zLoss !== 0) loss += zLoss * lse * lse;
    if (losses) losses[r] = loss;
    sum += Math.fround(loss); // the row loss as written out (see assembly/xent.ts)
    // Step 4: g_k = (e_k·A/S − (ε/K)·w_k − (1−ε)·w_y·[k = y])·scale (× softcap chain factor).
    if (wantGrad && grad) {
      const alpha = ((1 - eps) * wy + epsOverK * weightSum + 2 * zLoss * lse) / S * scale;
      const fix = (1 - eps) * wy * scale;
      const w = eps > 0 ? weight : null;
      if (softcap !== 0) {
        for (let k = 0, j = base; k < K; k++, j += step) {
          const u = scratch[k] / softcap;
          const g = grad[j] * alpha - beta * (w ? w[k] : 1) - (k === y ? fix : 0);
          grad[j] = g * (1 - u * u);
        }
      } else if (w) {
        for (let k = 0, j = base; k < K; k++, j += step) grad[j] = grad[j] * alpha - beta * w[k];
        grad[base + y * step] -= fix;
      } else {
        for (let j = base, end = base + span; j < end; j += step) grad[j] = grad[j] * alpha - beta;
        grad[base + y * step] -= fix;
      }
    }
  }
  return sum;
}
