/**
 * Public types of smoothxent. Every option is validated in `options.ts`; the
 * names here are the names that appear in error messages.
 */

/** A compute backend. `auto` (the default of `createXent`) picks the fastest one available. */
export type BackendName = 'wasm-relaxed-simd' | 'wasm-simd' | 'wasm' | 'js';

/** Backends in order of preference (fastest first). */
export const BACKENDS: readonly BackendName[] = ['wasm-relaxed-simd', 'wasm-simd', 'wasm', 'js'];

export interface CreateOptions {
  /** Which backend to use; `auto` (default) picks the fastest one that works here. */
  backend?: 'auto' | BackendName;
  /**
   * Bytes of wasm linear memory used as the streaming arena (default 16 MiB, at least 64 KiB).
   * Batches larger than the arena are processed in chunks of rows; a single row larger than
   * the arena grows it. Ignored by the `js` backend.
   */
  arenaBytes?: number;
}

/** Class-index labels: one per row, integers in [0, numClasses) (or equal to `ignoreIndex`). */
export type Labels =
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | readonly number[];

export type Reduction = 'mean' | 'sum' | 'none';

/** `false`: no gradient; `true`: a new Float32Array; a Float32Array of N·K: written into; `'inplace'`: written over the logits. */
export type GradOption = boolean | Float32Array | 'inplace';

export interface CommonOptions {
  /** K, the number of classes (required, integer ≥ 1). */
  numClasses: number;
  /** ε in [0, 1] (default 0): targets become (1−ε)·target + ε/K. */
  smoothing?: number;
  /** 'mean' (default), 'sum' or 'none' (per-row losses). */
  reduction?: Reduction;
  /** Whether and where to write the gradient (default false). */
  grad?: GradOption;
  /** Multiplies the gradient (default 1): the upstream gradient or a loss scale. */
  gradScale?: number;
  /** Per-class weights, Float32Array of K finite values ≥ 0 (PyTorch's `weight`). */
  weight?: Float32Array;
  /** Also return the per-row log-sum-exp (default false). */
  lse?: boolean;
}

export interface CrossEntropyOptions extends CommonOptions {
  /** Rows whose label equals this contribute nothing and leave the mean's denominator (default −100). */
  ignoreIndex?: number;
  /** Coefficient of the auxiliary z-loss zLoss·lse² per counted row (default 0). */
  zLoss?: number;
  /** Soft-capping c > 0: logits pass through c·tanh(z/c) first. */
  softcap?: number;
}

export interface SoftCrossEntropyOptions extends CommonOptions {
  /** Temperature T > 0 (default 1): the logits are divided by T. */
  temperature?: number;
}

/** Result of reduction 'mean' or 'sum'. */
export interface ScalarResult {
  loss: number;
  /** Rows counted (not ignoreIndex), or their total class weight Σ w_y with `weight`; N for soft targets. */
  count: number;
  grad?: Float32Array;
  lse?: Float32Array;
}

/** Result of reduction 'none'. */
export interface RowsResult {
  losses: Float32Array;
  grad?: Float32Array;
  lse?: Float32Array;
}

export type ResultFor<R> = R extends 'none' ? RowsResult : ScalarResult;

/** Options of a zero-copy batch call: as for `crossEntropy`, less numClasses (fixed by the batch). */
export type BatchOptions = Omit<CrossEntropyOptions, 'numClasses' | 'grad'> & {
  /** false (default), true (the batch's own gradient view) or 'inplace' (over `batch.logits`). */
  grad?: boolean | 'inplace';
};

/**
 * Logits and labels that live in the backend's memory, so a call copies nothing.
 * Each batch owns a memory that never grows, so its views are never detached
 * while the batch is alive; after `dispose()` every method throws.
 */
export interface Batch {
  readonly rows: number;
  readonly numClasses: number;
  /** rows·numClasses logits, row-major: write them here. */
  readonly logits: Float32Array;
  /** rows labels. */
  readonly labels: Int32Array;
  /** rows·numClasses gradient, written by calls with `grad: true`. */
  readonly grad: Float32Array;
  crossEntropy<R extends Reduction = 'mean'>(options?: BatchOptions & { reduction?: R }): ResultFor<R>;
  dispose(): void;
}

export interface Xent {
  /** The backend that was chosen. */
  readonly backend: BackendName;
  crossEntropy<R extends Reduction = 'mean'>(
    logits: Float32Array,
    labels: Labels,
    options: CrossEntropyOptions & { reduction?: R },
  ): ResultFor<R>;
  softCrossEntropy<R extends Reduction = 'mean'>(
    logits: Float32Array,
    targets: Float32Array,
    options: SoftCrossEntropyOptions & { reduction?: R },
  ): ResultFor<R>;
  /** Allocate a zero-copy batch of `rows` × `numClasses`. */
  createBatch(rows: number, numClasses: number): Batch;
}
