/**
 * The temperature-scaling pass for the JS fallback: assembly/temperature.ts's spec (see its
 * header for the math) in float64, summed in row order.
 */
import type { TemperatureRequest } from '../backend.js';
import { pass, rowPasses } from './stats.js';

export function temperatureSums(request: TemperatureRequest): Float64Array {
  const { logits, labels, rows, numClasses: K, ignoreIndex, beta } = request;
  const sums = request.sumsIn ? Float64Array.from(request.sumsIn) : new Float64Array(4);
  for (let r = 0; r < rows; r++) {
    const y = labels[r];
    if (y === ignoreIndex) continue;
    const base = r * K;
    const rest = rowPasses(logits, base, K, beta, 0, false, false, false, true);
    const S = 1 + rest;
    const xy = (logits[base + y] - pass.m) * beta;
    const meanX = pass.X / S;
    const variance = pass.X2 / S - meanX * meanX;
    sums[0] += 1;
    sums[1] += Math.log1p(rest) - xy;
    sums[2] += (meanX - xy) / beta;
    sums[3] += (variance > 0 ? variance : 0) / (beta * beta);
  }
  return sums;
}
