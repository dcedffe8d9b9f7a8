/**
 * The float64 reference of the evaluation calls: softmax, per-row statistics, every
 * quantity of an evaluation, and the temperature that minimises the NLL — the definitions
 * written out one step at a time from the float32 logits (exact in float64), with no
 * attempt at speed. IEEE arithmetic is followed as written (NaN in, NaN out), with the
 * conventions the library documents: the max skips NaN entries, the prediction is the
 * lowest index of the max (−1 when there is none), a p_k = 0 (a −∞ logit) adds 0 to the
 * entropy, and every mean over no rows is 0.
 */

import type { EvaluationResult, EvaluatorOptions } from '../src/types.js';

export interface ReferenceRow {
  lse: number;
  confidence: number;
  prediction: number;
  entropy: number;
  /** log p_y (NaN without a counted label). */
  targetLogProb: number;
  /** #{k: z_k > z_y} (−1 without a counted label). */
  rank: number;
  brier: number;
  smoothed: number;
  /** p_k of the row. */
  probs: Float64Array;
}

/** One row of softmax(z/T) and its statistics; y < 0 or null: no label. */
export function referenceRow(logits: ArrayLike<number>, base: number, K: number, temperature: number, y: number | null, smoothing = 0): ReferenceRow {
  const z: number[] = [];
  for (let k = 0; k < K; k++) z.push(logits[base + k]);
  // The max of the numbers (NaN skipped) and its lowest index.
  let m = -Infinity;
  for (const v of z) if (v > m) m = v;
  const prediction = z.findIndex((v) => v === m);
  // lse of z/T = m/T + log Σ exp((z − m)/T); p_k = exp((z_k − m)/T) / Σ.
  let sum = 0;
  for (const v of z) sum += Math.exp((v - m) / temperature);
  const logS = Math.log(sum);
  const lse = m / temperature + logS;
  const probs = Float64Array.from(z, (v) => Math.exp((v - m) / temperature) / sum);
  const confidence = 1 / sum;
  // −Σ p log p, log p_k = (z_k − m)/T − log S; p_k = 0 adds 0.
  let entropy = 0;
  for (let k = 0; k < K; k++) if (probs[k] !== 0) entropy -= probs[k] * ((z[k] - m) / temperature - logS);
  if (!(m - m === 0)) entropy = NaN;
  let targetLogProb = NaN;
  let rank = -1;
  let brier = NaN;
  let smoothed = NaN;
  if (y !== null && y >= 0) {
    targetLogProb = (z[y] - m) / temperature - logS;
    rank = z.filter((v) => v > z[y]).length;
    brier = 0;
    for (let k = 0; k < K; k++) brier += (probs[k] - (k === y ? 1 : 0)) ** 2;
    // (1−ε)·(−log p_y) + (ε/K)·Σ_k (−log p_k); ε = 0 skips the second term.
    smoothed = (1 - smoothing) * -targetLogProb;
    if (smoothing > 0) {
      let uniform = 0;
      for (let k = 0; k < K; k++) uniform += logS - (z[k] - m) / temperature;
      smoothed += (smoothing / K) * uniform;
    }
  }
  return { lse, confidence, prediction, entropy, targetLogProb, rank, brier, smoothed, probs };
}

export function referenceSoftmax(logits: ArrayLike<number>, K: number, temperature = 1, log = false): Float64Array {
  const rows = logits.length / K;
  const out = new Float64Array(logits.length);
  for (let r = 0; r < rows; r++) {
    const { probs } = referenceRow(logits, r * K, K, temperature, null);
    let m = -Infinity;
    for (let k = 0; k < K; k++) if (logits[r * K + k] > m) m = logits[r * K + k];
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp((logits[r * K + k] - m) / temperature);
    for (let k = 0; k < K; k++) out[r * K + k] = log ? (logits[r * K + k] - m) / temperature - Math.log(sum) : probs[k];
  }
  return out;
}

/** The library's evaluator options: the reference reads the same ones. */
export type ReferenceEvaluationOptions = EvaluatorOptions;

/** The library's result fields (the same definitions), and what the tests need to know besides. */
export interface ReferenceEvaluation extends EvaluationResult {
  /** Counted rows whose confidence lies within 1e-6 of an equal-width bin edge. */
  nearEdge: number;
  /** Whether two counted rows on either side of an equal-mass boundary have confidences within 1e-6. */
  aceAmbiguous: boolean;
  rows: ReferenceRow[];
}

/** The labels a row is scored against (shift: the next token of the same sequence). */
export function scoredLabels(labels: ArrayLike<number>, rows: number, options: ReferenceEvaluationOptions): number[] {
  const ignoreIndex = options.ignoreIndex ?? -100;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    if (options.shift && options.sequenceLength) {
      const t = r % options.sequenceLength;
      out.push(t === options.sequenceLength - 1 ? ignoreIndex : Number(labels[r + 1]));
    } else {
      out.push(Number(labels[r]));
    }
  }
  return out;
}

export function referenceEvaluate(logits: ArrayLike<number>, labels: ArrayLike<number>, options: ReferenceEvaluationOptions): ReferenceEvaluation {
  const K = options.numClasses;
  const B = options.bins ?? 15;
  const topK = options.topK ?? [1, 5].filter((k) => k <= K);
  const ignoreIndex = options.ignoreIndex ?? -100;
  const temperature = options.temperature ?? 1;
  const rows = logits.length / K;
  const ys = scoredLabels(labels, rows, options);
  const counted: { row: ReferenceRow; correct: number }[] = [];
  const all: ReferenceRow[] = [];
  for (let r = 0; r < rows; r++) {
    const y = ys[r];
    const row = referenceRow(logits, r * K, K, temperature, y === ignoreIndex ? null : y, options.smoothing ?? 0);
    all.push(row);
    if (y !== ignoreIndex) counted.push({ row, correct: row.prediction === y ? 1 : 0 });
  }
  const N = counted.length;
  const mean = (f: (c: { row: ReferenceRow; correct: number }) => number) => (N === 0 ? 0 : counted.reduce((a, c) => a + f(c), 0) / N);
  // Equal-width bins: (b/B, (b+1)/B], 0 in bin 0, 1 (and NaN) in the last.
  const binOf = (c: number) => (Number.isNaN(c) ? B - 1 : Math.min(B - 1, Math.max(0, Math.ceil(c * B) - 1)));
  const bins = Array.from({ length: B }, (_, b) => ({ lo: b / B, hi: (b + 1) / B, count: 0, confidence: 0, correct: 0 }));
  let nearEdge = 0;
  for (const { row, correct } of counted) {
    const bin = bins[binOf(row.confidence)];
    bin.count++;
    bin.confidence += row.confidence;
    bin.correct += correct;
    const scaled = row.confidence * B;
    if (Math.abs(scaled - Math.round(scaled)) <= 1e-6 * B) nearEdge++;
  }
  let ece = 0;
  let mce = 0;
  for (const bin of bins) {
    if (bin.count === 0) continue;
    const gap = Math.abs(bin.correct / bin.count - bin.confidence / bin.count);
    ece += (bin.count / N) * gap;
    mce = Math.max(mce, gap);
  }
  // Equal-mass bins: sorted by confidence, stable (Array.prototype.sort is), NaN last.
  const sorted = counted.map((c, i) => ({ ...c, i })).sort((a, b) => {
    const ca = Number.isNaN(a.row.confidence) ? Infinity : a.row.confidence;
    const cb = Number.isNaN(b.row.confidence) ? Infinity : b.row.confidence;
    return ca - cb || a.i - b.i;
  });
  let ace = 0;
  let aceAmbiguous = false;
  for (let b = 0; b < B; b++) {
    const start = Math.floor((b * N) / B);
    const end = Math.floor(((b + 1) * N) / B);
    if (start > 0 && start < N && Math.abs(sorted[start].row.confidence - sorted[start - 1].row.confidence) <= 1e-6) aceAmbiguous = true;
    if (end === start) continue;
    let confidence = 0;
    let correct = 0;
    for (let i = start; i < end; i++) {
      confidence += sorted[i].row.confidence;
      correct += sorted[i].correct;
    }
    ace += ((end - start) / N) * Math.abs(correct / (end - start) - confidence / (end - start));
  }
  const nll = mean((c) => -c.row.targetLogProb);
  const topKShares: Record<number, number> = {};
  for (const k of topK) topKShares[k] = mean((c) => (c.row.rank < k ? 1 : 0));
  return {
    count: N,
    nll,
    perplexity: Math.exp(nll),
    smoothedLoss: mean((c) => c.row.smoothed),
    accuracy: mean((c) => c.correct),
    topK: topKShares,
    meanConfidence: mean((c) => c.row.confidence),
    ece,
    mce,
    ace,
    brier: mean((c) => c.row.brier),
    entropy: mean((c) => c.row.entropy),
    bins: bins.map((bin) => ({
      lo: bin.lo,
      hi: bin.hi,
      count: bin.count,
      meanConfidence: bin.count > 0 ? bin.confidence / bin.count : 0,
      accuracy: bin.count > 0 ? bin.correct / bin.count : 0,
    })),
    nearEdge,
    aceAmbiguous,
    rows: all,
  };
}

/** Mean NLL of softmax(β·z) and its derivative in β, in float64. */
export function referenceNll(logits: ArrayLike<number>, labels: ArrayLike<number>, K: number, beta: number, ignoreIndex = -100): { nll: number; slope: number } {
  const rows = logits.length / K;
  let nll = 0;
  let slope = 0;
  let n = 0;
  for (let r = 0; r < rows; r++) {
    const y = Number(labels[r]);
    if (y === ignoreIndex) continue;
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, logits[r * K + k]);
    let sum = 0;
    let weighted = 0;
    for (let k = 0; k < K; k++) {
      const e = Math.exp(beta * (logits[r * K + k] - m));
      sum += e;
      if (e !== 0) weighted += e * logits[r * K + k];
    }
    // lse(βz) − β·z_y and its derivative E_p[z] − z_y.
    nll += beta * m + Math.log(sum) - beta * logits[r * K + y];
    slope += weighted / sum - logits[r * K + y];
    n++;
  }
  return { nll: nll / n, slope: slope / n };
}

/** The minimiser of the mean NLL over T in bounds: bisection on the derivative in β (convex). */
export function referenceTemperature(logits: ArrayLike<number>, labels: ArrayLike<number>, K: number, bounds: [number, number] = [0.05, 20], ignoreIndex = -100): { temperature: number; atBound: boolean } {
  let lo = 1 / bounds[1];
  let hi = 1 / bounds[0];
  if (referenceNll(logits, labels, K, lo, ignoreIndex).slope >= 0) return { temperature: bounds[1], atBound: true };
  if (referenceNll(logits, labels, K, hi, ignoreIndex).slope <= 0) return { temperature: bounds[0], atBound: true };
  for (let i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (referenceNll(logits, labels, K, mid, ignoreIndex).slope > 0) hi = mid;
    else lo = mid;
  }
  return { temperature: 2 / (lo + hi), atBound: false };
}
