/**
 * The contract between the facade (index.ts) and a backend. The facade validates and
 * normalises everything (options.ts); a backend only computes. Both backends — the
 * wasm bridge and the JS fallback — implement the same kernel contract (DESIGN.md).
 */
import type { Batch, BackendName } from './types.js';

/** Label arrays as the kernels read them (BigInt64Array and number[] are converted). */
export type IndexArray = Int32Array | Uint8Array | Uint16Array | Uint32Array;

/**
 * Checks labels and counts them for the mean's denominator in one pass: returns the number
 * of labels that are not ignoreIndex (or their total class weight, summed in f64 in row
 * order) when every label is in [0, numClasses) or ignoreIndex, else −1 − i for the first
 * bad index i. js/labels.ts in JS; the wasm backends scan in wasm (assembly/labels.ts).
 */
export type LabelCounter = (labels: IndexArray, numClasses: number, ignoreIndex: number, weight: Float32Array | null) => number;

/** The first index of a target that is not a probability ≥ 0 (NaN included), or −1. */
export type TargetChecker = (targets: Float32Array) => number;

/** The format of 16-bit logits (src/dtype.ts). */
export type HalfFormat = 'float16' | 'bfloat16';

/** Kernel codes of the formats (must match assembly/half.ts). */
export const HALF_FORMATS: Record<HalfFormat, number> = { float16: 1, bfloat16: 2 };

/**
 * 16-bit logits: their bits, their format, and where to write a 16-bit gradient (the logits'
 * format, rounded to nearest even from the f32 gradient; may be `bits` itself: 'inplace'), or
 * null. A request with `half` has an empty `logits`; its `grad` is then a Float32Array
 * gradient or null (never both gradients).
 */
export interface HalfLogits {
  bits: Uint16Array;
  format: HalfFormat;
  grad: Uint16Array | null;
}

export interface HardRequest {
  logits: Float32Array;
  labels: IndexArray;
  rows: number;
  numClasses: number;
  smoothing: number;
  ignoreIndex: number;
  /** Class weights, or null for w ≡ 1. */
  weight: Float32Array | null;
  /** Σ_k w_k (numClasses when unweighted). */
  weightSum: number;
  zLoss: number;
  /** 0 when off. */
  softcap: number;
  /** Gradient multiplier per row: gradScale, divided by the mean's denominator. */
  scale: number;
  /** Where to write the gradient (may be `logits` itself), or null. */
  grad: Float32Array | null;
  /** Per-row losses out, or null. */
  losses: Float32Array | null;
  /** Per-row log-sum-exp out, or null. */
  lse: Float32Array | null;
  /**
   * When this request is a piece of a larger call (a worker's chunk): whether that whole call
   * has fewer rows than a vector, which decides the small-K kernel path. Default: rows < 4.
   */
  rowWise?: boolean;
  /**
   * Positions per outer index when the class axis is not last (src/layout.ts): logits, and grad,
   * laid out [rows / inner][numClasses][inner]; labels, losses and lse in row order. Default 1.
   */
  inner?: number;
  /** 16-bit logits, or absent / null (float32 `logits`). */
  half?: HalfLogits | null;
}

export interface SoftRequest {
  logits: Float32Array;
  targets: Float32Array;
  rows: number;
  numClasses: number;
  smoothing: number;
  weight: Float32Array | null;
  temperature: number;
  scale: number;
  grad: Float32Array | null;
  losses: Float32Array | null;
  lse: Float32Array | null;
  /** As in HardRequest. */
  rowWise?: boolean;
  /** As in HardRequest; targets are laid out as the logits. */
  inner?: number;
  half?: HalfLogits | null;
}

/** Softmax of z/T per row (or its log) into `out`, which may be `logits` itself. */
export interface SoftmaxRequest {
  logits: Float32Array;
  out: Float32Array;
  rows: number;
  numClasses: number;
  temperature: number;
  log: boolean;
}

/** Rows of logits for the statistics kernels (assembly/stats.ts, js/stats.ts). */
export interface StatsRequest {
  logits: Float32Array;
  /** One label per row, or null (rowStats without labels). */
  labels: IndexArray | null;
  rows: number;
  numClasses: number;
  temperature: number;
  /** ε of the smoothed loss (evaluation only). */
  smoothing: number;
  ignoreIndex: number;
}

/** Where rowStats writes, one element per row; the last two only with labels. */
export interface RowStatsOutputs {
  lse: Float32Array;
  confidence: Float32Array;
  prediction: Int32Array;
  entropy: Float32Array;
  targetLogProb: Float32Array | null;
  rank: Int32Array | null;
}

/**
 * The f64 running sums of an evaluation, by index (must match SUM_* in assembly/stats.ts):
 * then topK.length top-k counts, and bins each of bin counts, bin Σ confidence, bin correct.
 */
export const SUM_COUNT = 0;
export const SUM_CORRECT = 1;
export const SUM_NLL = 2;
export const SUM_SMOOTHED = 3;
export const SUM_ENTROPY = 4;
export const SUM_BRIER = 5;
export const SUM_CONFIDENCE = 6;
export const SUM_TOPK = 7;
export const sumsLength = (topK: number, bins: number) => SUM_TOPK + topK + 3 * bins;

/** An evaluation's sums, added to row by row in row order by accumulateStats. */
export interface Accumulation {
  /** SUM_* layout; updated in place. */
  sums: Float64Array;
  /** The k of each top-k count, ascending. */
  topK: Int32Array;
  bins: number;
  /**
   * Equal-mass bin keys, one per counted row (confidence's f32 bits, bit 31 set when the
   * prediction is right), written from keys[keysAt]; room for `rows` of them.
   */
  keys: Uint32Array;
  keysAt: number;
}

/** One pass of temperature scaling at β = 1/T (assembly/temperature.ts). */
export interface TemperatureRequest {
  logits: Float32Array;
  labels: IndexArray;
  rows: number;
  numClasses: number;
  ignoreIndex: number;
  /** β, exactly a float32 (the kernels scale in f32). */
  beta: number;
  /** Sums to continue from (a piece of a larger call, in row order); default zeros. */
  sumsIn?: Float64Array;
}

/** A batch as a backend provides it; the facade adds validation around `hard`. */
export interface BatchStorage {
  logits: Float32Array;
  labels: Int32Array;
  grad: Float32Array;
  /** LabelCounter on the batch's own labels. */
  countLabels(numClasses: number, ignoreIndex: number, weight: Float32Array | null): number;
  /** Runs the kernel on the batch's own memory; `grad` is 'none' | 'own' | 'inplace'. */
  hard(request: Omit<HardRequest, 'logits' | 'labels' | 'grad' | 'losses' | 'lse'>, grad: 'none' | 'own' | 'inplace', losses: boolean, lse: boolean): { sum: number; losses: Float32Array | null; lse: Float32Array | null };
  dispose(): void;
}

export interface Backend {
  readonly name: BackendName;
  /** Σ of the row losses in f64, in row order; fills grad / losses / lse when given. */
  hard(request: HardRequest): number;
  soft(request: SoftRequest): number;
  countLabels: LabelCounter;
  firstBadTarget: TargetChecker;
  createBatch(rows: number, numClasses: number): BatchStorage;
  softmax(request: SoftmaxRequest): void;
  /** The per-row statistics into `out` (the caller's arrays). */
  rowStats(request: StatsRequest, out: RowStatsOutputs): void;
  /** Adds the request's rows (labels required) to `into`, in row order; returns the rows counted. */
  accumulateStats(request: StatsRequest, into: Accumulation): number;
  /** [rows counted, Σ nll, Σ nll', Σ nll''] at β, summed in row order. */
  temperatureSums(request: TemperatureRequest): Float64Array;
  /** ACE over `bins` equal-mass bins of an evaluation's keys (see Accumulation; not modified). */
  ace(keys: Uint32Array, bins: number): number;
  /** 16-bit logits decoded into `out` (the evaluation calls, src/dtype.ts), the kernels' bits. */
  decodeHalf(half: HalfLogits, out: Float32Array): void;
}

export type { Batch };
