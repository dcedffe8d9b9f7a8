/**
 * Row primitives of the JS fallback, the same passes as assembly/rows.ts in float64
 * arithmetic over Float32Array storage. Each function walks one row once; `base` is
 * the row's first element.
 */
import { expMinus } from './exp.js';

/** max_k z_k. */
export function rowMax(z: Float32Array, base: number, K: number): number {
  let m = -Infinity;
  for (let k = base, end = base + K; k < end; k++) {
    const v = z[k];
    if (v > m) m = v;
  }
  return m;
}

/** Σ_k z_k, or Σ_k w_k·z_k when w is given. */
export function rowSum(z: Float32Array, base: number, K: number, w: Float32Array | null): number {
  let total = 0;
  if (w) for (let k = 0; k < K; k++) total += w[k] * z[base + k];
  else for (let k = base, end = base + K; k < end; k++) total += z[k];
  return total;
}

/**
 * Σ_k exp(scale·(z_k − m)); each exp stored at e[eBase + k] when e is given.
 * Reading z before writing e at the same index makes e = z (in place) safe.
 */
export function rowExpSum(
  z: Float32Array, base: number, K: number, m: number, scale: number,
  e: Float32Array | null, eBase: number,
): number {
  let total = 0;
  if (e) {
    for (let k = 0; k < K; k++) {
      const x = expMinus((z[base + k] - m) * scale);
      e[eBase + k] = x;
      total += x;
    }
  } else {
    for (let k = base, end = base + K; k < end; k++) total += expMinus((z[k] - m) * scale);
  }
  return total;
}

/** zc_k = c·tanh(z_k/c) for one row, into zc[0..K). */
export function rowSoftcap(z: Float32Array, base: number, K: number, cap: number, zc: Float32Array): void {
  for (let k = 0; k < K; k++) zc[k] = cap * Math.tanh(z[base + k] / cap);
}
