/**
 * The float64 reference: the spec's formulas written out one step at a time, with no
 * attempt at speed or cleverness, so that a reader can check each line against the spec.
 *
 * Every function takes the caller's float32 logits (exact in float64), computes each row
 * in float64 and returns float64 results. Besides the values, each row reports
 * `gradBound` and `gradMax`, upper bounds on the L1 norm and on every element of the
 * row's unscaled gradient with respect to the transformed logits (after softcap or /T).
 * Tests use them to turn "float32-exact" into concrete error bars (see the header of
 * generators.ts).
 *
 * IEEE arithmetic is followed as written: NaN and ±∞ logits propagate exactly as these
 * formulas propagate them, and that is what the library must reproduce.
 */

export type Reduction = 'mean' | 'sum' | 'none';

export interface ReferenceResult {
  /** Per-row losses (0 for ignored rows). */
  rowLosses: Float64Array;
  /** Σ rowLosses / denominator (mean), Σ rowLosses (sum), or NaN for 'none'. */
  loss: number;
  /** Gradient of the reduced loss (of the SUM of rows for 'none'), times gradScale. */
  grad: Float64Array;
  /** Per-row log-sum-exp of the transformed logits (also for ignored rows). */
  lse: Float64Array;
  /** Per-row log S = lse − m, the part of lse that the kernels compute (m is exact). */
  logS: Float64Array;
  /** Per-row bound on Σ_j |d rowLoss / d transformedLogit_j| (0 for ignored rows). */
  gradBound: Float64Array;
  /** Per-row bound on max_j |d rowLoss / d transformedLogit_j| (0 for ignored rows). */
  gradMax: Float64Array;
  /** Factor applied to each row's gradient: gradScale (÷ denominator for mean, ÷ T for soft). */
  rowScale: Float64Array;
  /** The mean's denominator (0 means "loss 0, gradient 0"). */
  denominator: number;
}

export interface ReferenceCrossEntropyOptions {
  numClasses: number;
  smoothing?: number;
  reduction?: Reduction;
  gradScale?: number;
  weight?: ArrayLike<number>;
  ignoreIndex?: number;
  zLoss?: number;
  softcap?: number;
}

export interface ReferenceSoftOptions {
  numClasses: number;
  smoothing?: number;
  reduction?: Reduction;
  gradScale?: number;
  weight?: ArrayLike<number>;
  temperature?: number;
}

/** Labels of any supported type as plain numbers (BigInt converted exactly for small values). */
export function labelsToNumbers(labels: ArrayLike<number | bigint>): number[] {
  const out: number[] = [];
  for (let i = 0; i < labels.length; i++) out.push(Number(labels[i]));
  return out;
}

/**
 * m = max z, S = Σ exp(z_k − m), log S, lse = m + log S and p_k = exp(z_k − m)/S.
 * log S is log1p(S − 1), with S − 1 = (the sum of the exps of the entries below m) + (the
 * number of entries equal to m) − 1: a confident row's S is 1 + (tiny), and rounding that
 * sum to float64 would lose the tiny part that is the row's whole loss.
 */
function softmaxRow(z: number[]): { m: number; logS: number; lse: number; p: number[] } {
  let m = -Infinity;
  for (const value of z) m = Math.max(m, value);
  let rest = 0;
  let ties = 0;
  for (const value of z) {
    // z_k − m, not z_k === m: an all −∞ (or +∞) row gives NaN gaps, as IEEE arithmetic does.
    const gap = value - m;
    if (gap === 0) ties++;
    else rest += Math.exp(gap);
  }
  const sumExp = rest + ties;
  const logS = Math.log1p(rest + (ties - 1));
  const lse = m + logS;
  const p = z.map((value) => Math.exp(value - m) / sumExp);
  return { m, logS, lse, p };
}

function weightOf(weight: ArrayLike<number> | undefined, k: number): number {
  return weight === undefined ? 1 : weight[k];
}

/** Class-index cross-entropy with every option of `crossEntropy`. */
export function referenceCrossEntropy(
  logits: ArrayLike<number>,
  labels: ArrayLike<number | bigint>,
  options: ReferenceCrossEntropyOptions,
): ReferenceResult {
  const K = options.numClasses;
  const labelValues = labelsToNumbers(labels);
  const N = labelValues.length;
  const epsilon = options.smoothing ?? 0;
  const reduction = options.reduction ?? 'mean';
  const gradScale = options.gradScale ?? 1;
  const ignoreIndex = options.ignoreIndex ?? -100;
  const zLoss = options.zLoss ?? 0;
  const softcap = options.softcap;
  const weight = options.weight;

  const rowLosses = new Float64Array(N);
  const lseOut = new Float64Array(N);
  const logSOut = new Float64Array(N);
  const gradBound = new Float64Array(N);
  const gradMax = new Float64Array(N);
  const rowScale = new Float64Array(N);
  // Unscaled gradient of each row's loss w.r.t. the ORIGINAL logits (chain factor included).
  const rowGrad = new Float64Array(N * K);

  let weightSum = 0;
  for (let k = 0; k < K; k++) weightSum += weightOf(weight, k);

  let denominator = 0;
  for (let i = 0; i < N; i++) {
    const y = labelValues[i];
    const raw: number[] = [];
    for (let k = 0; k < K; k++) raw.push(logits[i * K + k]);

    // Step 0: softcap z ← c·tanh(z/c); its derivative is 1 − tanh²(z/c).
    const z = softcap === undefined ? raw : raw.map((value) => softcap * Math.tanh(value / softcap));
    const chain = softcap === undefined ? raw.map(() => 1) : raw.map((value) => 1 - Math.tanh(value / softcap) ** 2);

    const { m, logS, lse, p } = softmaxRow(z);
    lseOut[i] = lse;
    logSOut[i] = logS;
    if (y === ignoreIndex) continue;

    const weightY = weightOf(weight, y);
    denominator += weight === undefined ? 1 : weightY;

    // Step 1: loss. Unweighted: lse − (1−ε)·z_y − (ε/K)·Σz; weighted (PyTorch):
    // (1−ε)·w_y·(lse − z_y) + (ε/K)·Σ w_k·(lse − z_k). ε = 0 skips the smoothing term.
    // Both as (1−ε)·w_y·(lse − z_y) + (ε/K)·Σ w_k·(lse − z_k) (w ≡ 1 unweighted), with each
    // lse − z_k written log S + (m − z_k): a confident row's lse − z_y is its tiny log S, which
    // the difference of two nearly equal float64 numbers would lose.
    const lseMinus = (k: number) => logS + (m - z[k]);
    let loss = (1 - epsilon) * weightY * lseMinus(y);
    if (epsilon !== 0) {
      let smooth = 0;
      for (let k = 0; k < K; k++) smooth += weightOf(weight, k) * lseMinus(k);
      loss += (epsilon / K) * smooth;
    }
    // Step 2: auxiliary z-loss.
    if (zLoss !== 0) loss += zLoss * lse * lse;
    rowLosses[i] = loss;

    // Step 3: gradient p_j·A − (1−ε)·w_y·[j=y] − (ε/K)·w_j, A = (1−ε)w_y + (ε/K)Σw + 2·zLoss·lse.
    const A = (1 - epsilon) * weightY + (epsilon / K) * weightSum + 2 * zLoss * lse;
    for (let j = 0; j < K; j++) {
      let g = p[j] * A - (epsilon / K) * weightOf(weight, j);
      if (j === y) g -= (1 - epsilon) * weightY;
      rowGrad[i * K + j] = g * chain[j];
    }
    // p_j·A lies in [0, A] (or [A, 0]) and the subtracted part in [0, cmax].
    let weightMax = 0;
    for (let k = 0; k < K; k++) weightMax = Math.max(weightMax, weightOf(weight, k));
    const cmax = (1 - epsilon) * weightY + (epsilon / K) * weightMax;
    gradBound[i] = Math.abs(A) + (1 - epsilon) * weightY + (epsilon / K) * weightSum;
    gradMax[i] = A >= 0 ? Math.max(A, cmax) : Math.abs(A) + cmax;
  }

  return reduce(rowLosses, rowGrad, lseOut, logSOut, gradBound, gradMax, rowScale, denominator, K, reduction, gradScale, labelValues, ignoreIndex);
}

/** Probability-target cross-entropy with every option of `softCrossEntropy`. */
export function referenceSoftCrossEntropy(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  options: ReferenceSoftOptions,
): ReferenceResult {
  const K = options.numClasses;
  const N = K === 0 ? 0 : Math.floor(logits.length / K);
  const epsilon = options.smoothing ?? 0;
  const reduction = options.reduction ?? 'mean';
  const gradScale = options.gradScale ?? 1;
  const T = options.temperature ?? 1;
  const weight = options.weight;

  const rowLosses = new Float64Array(N);
  const lseOut = new Float64Array(N);
  const logSOut = new Float64Array(N);
  const gradBound = new Float64Array(N);
  const gradMax = new Float64Array(N);
  const rowScale = new Float64Array(N);
  const rowGrad = new Float64Array(N * K);

  for (let i = 0; i < N; i++) {
    const z: number[] = [];
    const smoothed: number[] = [];
    for (let k = 0; k < K; k++) {
      z.push(logits[i * K + k] / T);
      // t' = (1−ε)·t + ε/K
      smoothed.push((1 - epsilon) * targets[i * K + k] + epsilon / K);
    }
    const { m, logS, lse, p } = softmaxRow(z);
    lseOut[i] = lse;
    logSOut[i] = logS;

    // loss = −Σ w_k·t'_k·log p_k, −log p_k = lse − z_k = log S + (m − z_k); a zero t'_k
    // contributes exactly 0.
    let loss = 0;
    let A = 0; // Σ w_k·t'_k
    for (let k = 0; k < K; k++) {
      const wt = weightOf(weight, k) * smoothed[k];
      A += wt;
      if (smoothed[k] !== 0) loss += wt * (logS + (m - z[k]));
    }
    rowLosses[i] = loss;

    // d loss / d original z_j = (A·p_j − w_j·t'_j) / T
    for (let j = 0; j < K; j++) {
      rowGrad[i * K + j] = (A * p[j] - weightOf(weight, j) * smoothed[j]) / T;
    }
    // A·p_j in [0, A], w_j·t'_j in [0, A].
    gradBound[i] = 2 * Math.abs(A);
    gradMax[i] = Math.abs(A);
  }
  const result = reduce(rowLosses, rowGrad, lseOut, logSOut, gradBound, gradMax, rowScale, N, K, reduction, gradScale, null, 0);
  // The 1/T of the gradient is already in rowGrad; report it in rowScale for the error bars.
  for (let i = 0; i < N; i++) result.rowScale[i] /= T;
  return result;
}

/** Reduction shared by both losses: D = 0 gives loss 0 and an all-zero gradient. */
function reduce(
  rowLosses: Float64Array,
  rowGrad: Float64Array,
  lse: Float64Array,
  logS: Float64Array,
  gradBound: Float64Array,
  gradMax: Float64Array,
  rowScale: Float64Array,
  denominator: number,
  K: number,
  reduction: Reduction,
  gradScale: number,
  labels: number[] | null,
  ignoreIndex: number,
): ReferenceResult {
  const N = rowLosses.length;
  const grad = new Float64Array(N * K);
  let total = 0;
  for (let i = 0; i < N; i++) total += rowLosses[i];

  let loss: number;
  let scale: number;
  if (reduction === 'mean') {
    loss = denominator === 0 ? 0 : total / denominator;
    scale = denominator === 0 ? 0 : gradScale / denominator;
  } else {
    loss = reduction === 'sum' ? total : NaN;
    scale = gradScale;
  }
  const nothingCounted = reduction === 'mean' && denominator === 0;
  for (let i = 0; i < N; i++) {
    const ignored = labels !== null && labels[i] === ignoreIndex;
    rowScale[i] = ignored ? 0 : scale;
    for (let j = 0; j < K; j++) {
      // Ignored rows and a zero mean denominator give exactly 0, never 0·NaN.
      grad[i * K + j] = ignored || nothingCounted ? 0 : rowGrad[i * K + j] * scale;
    }
  }
  return { rowLosses, loss, grad, lse, logS, gradBound, gradMax, rowScale, denominator };
}
