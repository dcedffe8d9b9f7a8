/**
 * Per-row statistics of softmax(z/T) for the JS fallback: the spec of assembly/stats.ts
 * (see its header for the math), in float64 arithmetic, and the evaluation's accumulation
 * in row order (statsAccumulate there). Rows are processed in chunks into reused per-row
 * columns, then added to the sums, as the wasm bridge does.
 */
import { SUM_BRIER, SUM_CONFIDENCE, SUM_CORRECT, SUM_COUNT, SUM_ENTROPY, SUM_NLL, SUM_SMOOTHED, SUM_TOPK } from '../backend.js';
import type { Accumulation, IndexArray, RowStatsOutputs, StatsRequest } from '../backend.js';
import { expMinus } from './rows.js';

/** Below this gap the JS exp (which clamps at −200) is ~1e-87: products e·x use x clamped here. */
const CLAMP = -200;

/** Per-row outputs of statsRange, indexed from 0 for its first row; null columns are skipped. */
export interface StatsColumns {
  lse: Float64Array | null;
  confidence: Float32Array | null;
  prediction: Int32Array | null;
  entropy: Float64Array | null;
  logP: Float64Array | null;
  rank: Int32Array | null;
  brier: Float64Array | null;
  smoothed: Float64Array | null;
}

/** The results of one row's passes besides R' (see rowPasses). */
export const pass = { m: 0, rank: 0, first: -1, X: 0, Q: 0, G: 0, X2: 0 };

/**
 * Passes 1 and 2 of one row at `base` (assembly/stats.ts: maxAndRank, firstOf, expStats):
 * returns R' = S − 1 = Σ_{k≠f} e_k (NaN when the max is not finite) and leaves in `pass` the
 * max m, the rank of zy (when `ranked`), f = the first index of the max, X = Σ e·x and, when
 * asked, Q = Σ_{k≠f} e², G = Σ x and X2 = Σ e·x².
 */
export function rowPasses(
  z: Float32Array, base: number, K: number, invT: number, zy: number,
  ranked: boolean, squares: boolean, gaps: boolean, moments: boolean,
): number {
  const end = base + K;
  let m = -Infinity;
  let rank = 0;
  if (ranked) {
    for (let k = base; k < end; k++) {
      const v = z[k];
      if (v > m) m = v;
      // No branch on v > z_y: for a label ranked mid-row it would mispredict every other entry.
      rank += +(v > zy);
    }
  } else {
    for (let k = base; k < end; k++) {
      const v = z[k];
      if (v > m) m = v;
    }
  }
  let first = -1;
  for (let k = base; k < end; k++) {
    if (z[k] === m) {
      first = k;
      break;
    }
  }
  let R = 0;
  let X = 0;
  let Q = 0;
  let G = 0;
  let X2 = 0;
  // The two ranges around the max (no per-element test for it).
  const split = first < 0 ? end : first;
  for (let part = 0; part < 2; part++) {
    const to = part === 0 ? split : end;
    for (let k = part === 0 ? base : split + 1; k < to; k++) {
      const x = (z[k] - m) * invT;
      const e = expMinus(x);
      R += e;
      // Math.max keeps a NaN x and turns −∞ into the clamp (where e·x would be 0·−∞).
      const c = Math.max(x, CLAMP);
      X += e * c;
      if (squares) Q += e * e;
      if (gaps) G += x;
      if (moments) X2 += e * c * c;
    }
  }
  pass.m = m;
  pass.rank = rank;
  pass.first = first < 0 ? -1 : first - base;
  pass.X = X;
  pass.Q = Q;
  pass.G = G;
  pass.X2 = X2;
  return m - m === 0 ? R : NaN;
}

/** Rows r0…r1 of the request into `out` (column index 0 = row r0). */
export function statsRange(request: StatsRequest, r0: number, r1: number, out: StatsColumns): void {
  const { logits, labels, numClasses: K, temperature, smoothing, ignoreIndex } = request;
  const invT = 1 / temperature;
  const squares = out.brier !== null;
  const gaps = smoothing > 0 && out.smoothed !== null;
  const keep = 1 - smoothing;
  const spread = smoothing / K;
  for (let r = r0; r < r1; r++) {
    const i = r - r0;
    const base = r * K;
    const y = labels ? labels[r] : ignoreIndex;
    const labeled = labels !== null && y !== ignoreIndex;
    const zy = labeled ? logits[base + y] : 0;
    const rest = rowPasses(logits, base, K, invT, zy, labeled, squares, gaps, false);
    const m = pass.m;
    const S = 1 + rest;
    const invS = 1 / S;
    const logS = Math.log1p(rest);
    if (out.lse) out.lse[i] = m * invT + logS;
    if (out.confidence) out.confidence[i] = invS;
    if (out.prediction) out.prediction[i] = pass.first;
    if (out.entropy) out.entropy[i] = logS - pass.X * invS;
    if (!labels) continue;
    if (!labeled) {
      if (out.logP) out.logP[i] = NaN;
      if (out.rank) out.rank[i] = -1;
      if (out.brier) out.brier[i] = NaN;
      if (out.smoothed) out.smoothed[i] = NaN;
      continue;
    }
    const xy = (zy - m) * invT;
    const nll = logS - xy;
    if (out.logP) out.logP[i] = -nll;
    if (out.rank) out.rank[i] = pass.rank;
    if (out.brier) {
      let others = rest;
      let others2 = pass.Q;
      if (y !== pass.first) {
        const ey = expMinus(xy);
        others = 1 + (rest - ey);
        others2 = 1 + (others2 - ey * ey);
      }
      out.brier[i] = (others2 + others * others) * (invS * invS);
    }
    if (out.smoothed) out.smoothed[i] = keep * nll + (gaps ? spread * (K * logS - pass.G) : 0);
  }
}

/** Rows per chunk of the JS backend's columns. */
const CHUNK_ROWS = 1024;

function columns(rows: number, evaluation: boolean): StatsColumns {
  return {
    lse: evaluation ? null : new Float64Array(rows),
    confidence: new Float32Array(rows),
    prediction: new Int32Array(rows),
    entropy: new Float64Array(rows),
    logP: new Float64Array(rows),
    rank: new Int32Array(rows),
    brier: evaluation ? new Float64Array(rows) : null,
    smoothed: evaluation ? new Float64Array(rows) : null,
  };
}

let rowColumns: StatsColumns | null = null;
let evalColumns: StatsColumns | null = null;

/** Backend.rowStats: the columns of each chunk, rounded to float32 into the caller's arrays. */
export function rowStats(request: StatsRequest, out: RowStatsOutputs): void {
  rowColumns ??= columns(CHUNK_ROWS, false);
  const cols = rowColumns;
  for (let r0 = 0; r0 < request.rows; r0 += CHUNK_ROWS) {
    const r1 = Math.min(request.rows, r0 + CHUNK_ROWS);
    const n = r1 - r0;
    statsRange(request, r0, r1, cols);
    out.lse.set((cols.lse as Float64Array).subarray(0, n), r0);
    out.confidence.set((cols.confidence as Float32Array).subarray(0, n), r0);
    out.prediction.set((cols.prediction as Int32Array).subarray(0, n), r0);
    out.entropy.set((cols.entropy as Float64Array).subarray(0, n), r0);
    if (out.targetLogProb) out.targetLogProb.set((cols.logP as Float64Array).subarray(0, n), r0);
    if (out.rank) out.rank.set((cols.rank as Int32Array).subarray(0, n), r0);
  }
}

/** Backend.accumulateStats: per chunk, the columns, then accumulate. */
export function accumulateStats(request: StatsRequest, into: Accumulation): number {
  evalColumns ??= columns(CHUNK_ROWS, true);
  const cols = evalColumns;
  const labels = request.labels as IndexArray;
  let counted = 0;
  for (let r0 = 0; r0 < request.rows; r0 += CHUNK_ROWS) {
    const r1 = Math.min(request.rows, r0 + CHUNK_ROWS);
    statsRange(request, r0, r1, cols);
    counted += accumulate(labels, r0, r1, request.ignoreIndex, cols, into, into.keysAt + counted);
  }
  return counted;
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/**
 * statsAccumulate of assembly/stats.ts: rows r0…r1 (column index 0 = row r0) added to the
 * sums in row order, ignored rows left out; keys from keys[keysAt]. Returns the rows counted.
 */
export function accumulate(
  labels: IndexArray, r0: number, r1: number, ignoreIndex: number,
  cols: StatsColumns, into: Accumulation, keysAt: number,
): number {
  const { sums, topK, bins, keys } = into;
  const confidence = cols.confidence as Float32Array;
  const prediction = cols.prediction as Int32Array;
  const entropy = cols.entropy as Float64Array;
  const logP = cols.logP as Float64Array;
  const rank = cols.rank as Int32Array;
  const brier = cols.brier as Float64Array;
  const smoothed = cols.smoothed as Float64Array;
  const binCount = SUM_TOPK + topK.length;
  const binConfidence = binCount + bins;
  const binCorrect = binConfidence + bins;
  let n = 0;
  for (let r = r0; r < r1; r++) {
    const y = labels[r];
    if (y === ignoreIndex) continue;
    const i = r - r0;
    const c = confidence[i];
    const correct = prediction[i] === y ? 1 : 0;
    sums[SUM_COUNT] += 1;
    sums[SUM_CORRECT] += correct;
    sums[SUM_NLL] += -logP[i];
    sums[SUM_SMOOTHED] += smoothed[i];
    sums[SUM_ENTROPY] += entropy[i];
    sums[SUM_BRIER] += brier[i];
    sums[SUM_CONFIDENCE] += c;
    for (let t = 0; t < topK.length; t++) if (rank[i] < topK[t]) sums[SUM_TOPK + t] += 1;
    let b = c !== c ? bins - 1 : Math.ceil(c * bins) - 1;
    b = b < 0 ? 0 : b >= bins ? bins - 1 : b;
    sums[binCount + b] += 1;
    sums[binConfidence + b] += c;
    sums[binCorrect + b] += correct;
    F32[0] = c;
    const bits = c !== c ? 0x7fc00000 : U32[0] & 0x7fffffff;
    keys[keysAt + n] = (bits | (correct ? 0x80000000 : 0)) >>> 0;
    n++;
  }
  return n;
}
