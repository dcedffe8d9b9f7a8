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
}

export type { Batch };
