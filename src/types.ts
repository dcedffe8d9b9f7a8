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
   * the arena grows it. Ignored by the `js` backend. With threads, each worker gets a share.
   */
  arenaBytes?: number;
  /**
   * Worker threads for large calls: 1 (default), an integer in [1, 64], or 'auto' (the cores
   * the runtime reports, at most 8). Async calls always run on a worker; with threads > 1 the
   * rows are split between workers that share one wasm memory (Node; browsers when
   * cross-origin isolated), and in Node sync calls use them too. Results are identical bit
   * for bit for any thread count. `xent.threads` says what is in use.
   */
  threads?: number | 'auto';
}

/** The option the async calls add. */
export interface AsyncOptions {
  /** Cancels the call between chunks: it rejects with the signal's reason (an AbortError). */
  signal?: AbortSignal;
}

/** Class-index labels: one per row, integers in [0, numClasses) (or equal to `ignoreIndex`). */
export type Labels =
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | readonly number[];

/**
 * The type of crossEntropy's labels parameter: the labels as given when they are Labels, else
 * a type whose only key is the message, so that the compiler says what is allowed instead of
 * how a Float32Array's entries() differ from a BigInt64Array's.
 */
type LabelsParameter<L> = L extends Labels ? L : LabelsExpected;

/** What the compiler shows for labels of another type (there is no value of this type). */
interface LabelsExpected {
  'labels must be an Int32Array, Uint8Array, Uint16Array, Uint32Array, BigInt64Array or number[] of class indices (probability or one-hot targets: use softCrossEntropy)': never;
}

export type Reduction = 'mean' | 'sum' | 'none';

/** The format of 16-bit logits given as raw bits in a Uint16Array (a Float16Array is 'float16'). */
export type HalfDtype = 'float16' | 'bfloat16';

/**
 * A Float16Array (Node ≥ 24, Chrome ≥ 135), typed by its shape so that these declarations
 * compile with a TypeScript lib that has no Float16Array.
 */
export interface Float16ArrayLike extends ArrayBufferView {
  readonly length: number;
  readonly [Symbol.toStringTag]: 'Float16Array';
  [index: number]: number;
}

/** The option of the calls that take 16-bit logits (the evaluation calls: softmax, rowStats, evaluate, fitTemperature). */
export interface DtypeOption {
  /** Required for logits given as a Uint16Array of raw 16-bit bits; 'float16' for a Float16Array. */
  dtype?: HalfDtype;
}

/** Logits: float32, a Float16Array, or 16-bit bits in a Uint16Array with `dtype`. */
export type Logits = Float32Array | Float16ArrayLike | Uint16Array;

/** A 16-bit gradient buffer, of the logits' 16-bit dtype. */
export type HalfGrad = Float16ArrayLike | Uint16Array;

/** `false`: no gradient; `true`: a new Float32Array; a Float32Array of N·K: written into; `'inplace'`: written over the logits. */
export type GradOption = boolean | Float32Array | HalfGrad | 'inplace';

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
  /** Required for logits given as a Uint16Array of raw 16-bit bits; 'float16' for a Float16Array. */
  dtype?: HalfDtype;
}

/**
 * The class axis anywhere (PyTorch's and ONNX's N×C×d1…dk): `shape` instead of (or besides)
 * `numClasses`. Labels, losses and lse are then laid out as `shape` without the class axis;
 * targets and the gradient as the logits.
 */
export interface ClassAxisOptions {
  /** The logits' dimensions, integers ≥ 0 whose product is logits.length, e.g. [N, C, H, W]. */
  shape: readonly number[];
  /** Which axis of `shape` holds the classes: an integer, negative counts from the end (default −1, the last). */
  classAxis?: number;
  /** Optional with `shape`; if given it must equal shape[classAxis]. */
  numClasses?: number;
}

/** A call's options with the classes given by `shape` and `classAxis` instead of `numClasses`. */
export type WithClassAxis<O> = Omit<O, 'numClasses'> & ClassAxisOptions;

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

// Results. A call's result type follows the options passed: `loss` for 'mean' and 'sum',
// `losses` for 'none'; `grad` when the options ask for a gradient (true, a Float32Array or
// 'inplace'), `lse` when they ask for it; a key the options do not ask for is not in the type.
// Options whose values are not known to the compiler (a variable of type boolean, say) give
// the key as optional. Each reduction's fields are one interface: a key added there appears
// in every result of that reduction.

/** The fields of a 'mean' or 'sum' result. */
export interface ScalarFields {
  /** The reduced loss. */
  loss: number;
  /** Rows counted (not ignoreIndex), or their total class weight Σ w_y with `weight`; N for soft targets. */
  count: number;
}

/** The fields of a 'none' result. */
export interface RowsFields {
  /** Float32Array(N): the loss of each row. */
  losses: Float32Array;
}

/** Every key a 'mean' or 'sum' result can have. */
export interface ScalarResult extends ScalarFields {
  grad?: Float32Array;
  lse?: Float32Array;
}

/** Every key a 'none' result can have. */
export interface RowsResult extends RowsFields {
  grad?: Float32Array;
  lse?: Float32Array;
}

/** A result for reduction R when the other options are not known. */
export type ResultFor<R> = R extends 'none' ? RowsResult : ScalarResult;

/** `loss` for 'mean' and 'sum' (and the default), `losses` for 'none', either when R is not known. */
type ReductionFields<R> = [R] extends ['none'] ? RowsFields : [R] extends ['mean' | 'sum' | undefined] ? ScalarFields : RowsFields | ScalarFields;

/**
 * `grad` for true, a Float32Array or 'inplace' (the logits' type Z), a 16-bit buffer (its
 * type); no key for false or none; optional otherwise.
 */
type GradFields<G, Z> = [G] extends [false | undefined] ? unknown
  : [G] extends [HalfGrad] ? { grad: G }
  : [G] extends [true | Float32Array | 'inplace'] ? { grad: InplaceGrad<G, Z> }
  : { grad?: Float32Array | ([Z] extends [Float32Array] ? never : HalfGrad) };

/** The gradient's type for grad G of true, a Float32Array or 'inplace' (over logits of type Z). */
type InplaceGrad<G, Z> = [G] extends ['inplace'] ? Z : 'inplace' extends G ? Float32Array | Z : Float32Array;

/** `lse` for true; no key for false or none; optional otherwise. */
type LseFields<L> = [L] extends [false | undefined] ? unknown : [L] extends [true] ? { lse: Float32Array } : { lse?: Float32Array };

/** One object type from an intersection, so that editors show its keys (unions stay unions). */
type Flatten<T> = T extends unknown ? { [K in keyof T]: T[K] } : never;

/** The result of a call whose options have reduction R, grad G and lse L (undefined: not given), on logits of type Z. */
export type Result<R, G, L, Z = Float32Array> = Flatten<ReductionFields<R> & GradFields<G, Z> & LseFields<L>>;

/**
 * The options that set a result's keys, as type parameters of a call: each takes the literal
 * type of the value passed (undefined when it is not passed).
 */
interface ResultOptions<R extends Reduction | undefined, G, L extends boolean | undefined> {
  reduction?: R;
  grad?: G;
  lse?: L;
}

/** Options of a zero-copy batch call: as for `crossEntropy`, less numClasses (fixed by the batch). */
export type BatchOptions = Omit<CrossEntropyOptions, 'numClasses' | 'grad' | 'dtype'> & {
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
  crossEntropy<
    R extends Reduction | undefined = undefined,
    G extends boolean | 'inplace' | undefined = undefined,
    L extends boolean | undefined = undefined,
  >(options?: BatchOptions & ResultOptions<R, G, L>): Result<R, G, L>;
  /** The same call on a worker (zero-copy when the workers share memory); one call at a time per batch. */
  crossEntropyAsync<
    R extends Reduction | undefined = undefined,
    G extends boolean | 'inplace' | undefined = undefined,
    L extends boolean | undefined = undefined,
  >(options?: BatchOptions & AsyncOptions & ResultOptions<R, G, L>): Promise<Result<R, G, L>>;
  dispose(): void;
}

/** Options of `xent.softmax`. */
export interface SoftmaxOptions {
  /** K, the number of classes (required, integer ≥ 1). */
  numClasses: number;
  /** T (default 1): softmax(z/T). A finite number ≥ 1e-30. */
  temperature?: number;
  /** Log-probabilities instead of probabilities (default false). */
  log?: boolean;
  /** A Float32Array(N·K) to write into, or 'inplace' (over the logits); default a new array. */
  out?: Float32Array | 'inplace';
}

/** Options of `xent.rowStats`. */
export interface RowStatsOptions {
  numClasses: number;
  /** T (default 1): the statistics of softmax(z/T). */
  temperature?: number;
  /** Rows with this label get NaN targetLogProb and rank −1 (default −100). */
  ignoreIndex?: number;
}

/** Per-row statistics of softmax(z/T), one element per row. */
export interface RowStats {
  /** log Σ_k exp(z_k/T). */
  lse: Float32Array;
  /** max_k p_k. */
  confidence: Float32Array;
  /** argmax_k z_k, the lowest index on ties (−1 for a row of NaNs). */
  prediction: Int32Array;
  /** −Σ_k p_k·log p_k. */
  entropy: Float32Array;
}

/** rowStats with labels: also log p_y and the label's rank (NaN / −1 for ignored rows). */
export interface LabeledRowStats extends RowStats {
  /** log p_y. */
  targetLogProb: Float32Array;
  /** #{k: z_k > z_y}: 0 when the label is a top prediction. */
  rank: Int32Array;
}

/** Options of `xent.createEvaluator` and `xent.evaluate`. */
export interface EvaluatorOptions {
  numClasses: number;
  /** Equal-width (ECE, MCE) and equal-mass (ACE) bins over the confidence, an integer ≥ 1 (default 15). */
  bins?: number;
  /** Ascending integers in [1, K] (default [1, 5], less the entries above K). */
  topK?: readonly number[];
  /** Rows with this label are left out of everything (default −100). */
  ignoreIndex?: number;
  /** T (default 1): every quantity is computed on softmax(z/T). */
  temperature?: number;
  /** ε of `smoothedLoss` (default 0). */
  smoothing?: number;
  /** Causal language models: positions per sequence (rows are B·T positions); needs `shift`. */
  sequenceLength?: number;
  /** With `sequenceLength`: position t is scored against the token at t + 1; the last position of each sequence is left out. */
  shift?: boolean;
}

/** An evaluator's options with every default filled in. */
export interface ResolvedEvaluatorOptions {
  numClasses: number;
  bins: number;
  topK: number[];
  ignoreIndex: number;
  temperature: number;
  smoothing: number;
  sequenceLength: number | null;
  shift: boolean;
}

/** One equal-width confidence bin (lo, hi] (the first also holds 0). */
export interface CalibrationBin {
  lo: number;
  hi: number;
  count: number;
  /** Mean confidence of the bin's rows (0 for an empty bin). */
  meanConfidence: number;
  /** Share of the bin's rows predicted right (0 for an empty bin). */
  accuracy: number;
}

/** What `ev.result()` and `xent.evaluate` return; every mean over no rows is 0. */
export interface EvaluationResult {
  /** Rows counted (ignored rows and, with shift, the last position of each sequence left out). */
  count: number;
  /** Mean −log p_y. */
  nll: number;
  /** exp(nll). */
  perplexity: number;
  /** Mean label-smoothed loss at `smoothing` (what crossEntropy gives). */
  smoothedLoss: number;
  /** Share of rows whose prediction (argmax, lowest index on ties) is the label. */
  accuracy: number;
  /** topK[k]: share of rows whose label's rank is < k. */
  topK: Record<number, number>;
  meanConfidence: number;
  /** Σ_b (n_b/N)·|accuracy_b − meanConfidence_b| over the equal-width bins. */
  ece: number;
  /** max_b |accuracy_b − meanConfidence_b| over the non-empty equal-width bins. */
  mce: number;
  /** As ece, over equal-mass bins of the rows sorted by confidence. */
  ace: number;
  /** Mean Σ_k (p_k − [k = y])². */
  brier: number;
  /** Mean −Σ_k p_k·log p_k. */
  entropy: number;
  bins: CalibrationBin[];
}

/** A number in an evaluator state: non-finite values as strings, so that JSON keeps them. */
export type StateNumber = number | 'NaN' | 'Infinity' | '-Infinity';

/** `ev.state()`: a plain object that survives JSON.stringify / JSON.parse exactly. */
export interface EvaluatorState {
  format: 'smoothxent-evaluator';
  version: 1;
  options: ResolvedEvaluatorOptions;
  count: StateNumber;
  correct: StateNumber;
  nll: StateNumber;
  smoothedLoss: StateNumber;
  entropy: StateNumber;
  brier: StateNumber;
  confidence: StateNumber;
  /** Rows with rank < topK[t], per entry of options.topK. */
  topK: StateNumber[];
  binCount: StateNumber[];
  binConfidence: StateNumber[];
  binCorrect: StateNumber[];
  /**
   * Base64 of one little-endian uint32 per counted row, in row order: the row's float32
   * confidence bits, bit 31 set when the prediction was right (for the equal-mass bins).
   */
  rows: string;
}

/** A batch's layout for `evaluator.add`: its dimensions and class axis (of size the evaluator's numClasses), its 16-bit dtype. */
export interface EvaluatorAddOptions extends DtypeOption {
  shape?: readonly number[];
  classAxis?: number;
}

/** A streaming evaluation: add batches, read the result at any time. */
export interface Evaluator {
  readonly options: Readonly<ResolvedEvaluatorOptions>;
  /**
   * Adds a batch; a bad input throws before anything changes. The batch's logits may be laid
   * out as `evaluate` takes them: 16-bit with `dtype`, or any `shape` whose class axis (size
   * numClasses) is `classAxis`; the sums are those of `evaluate` on the same data, bit for bit.
   */
  add(logits: Logits, labels: Labels, options?: EvaluatorAddOptions): void;
  /**
   * add on workers, the same sums bit for bit; addAsync calls run in order, and while one
   * runs, add, reset and merge throw (result and state show the batches already added).
   */
  addAsync(logits: Logits, labels: Labels, options?: EvaluatorAddOptions & AsyncOptions): Promise<void>;
  result(): EvaluationResult;
  /** Back to no rows. */
  reset(): void;
  state(): EvaluatorState;
  /** Adds another evaluator's state (the same options, else a RangeError). */
  merge(state: EvaluatorState): void;
}

/** Options of `xent.fitTemperature`. */
export interface FitTemperatureOptions {
  numClasses: number;
  ignoreIndex?: number;
  /** [lo, hi], 0 < lo < hi: the temperatures searched (default [0.05, 20]). */
  bounds?: readonly [number, number];
  /** Bins of eceBefore and eceAfter (default 15). */
  bins?: number;
}

export interface TemperatureFit {
  /** The T in bounds that minimises the mean NLL of softmax(z/T). */
  temperature: number;
  nllBefore: number;
  nllAfter: number;
  eceBefore: number;
  eceAfter: number;
  /** Passes over the logits of the Newton search (two more compute the ECEs). */
  iterations: number;
  /** Whether the optimum lies on a bound (the NLL still falls beyond it). */
  atBound: boolean;
}

export interface Xent {
  /** The backend that was chosen. */
  readonly backend: BackendName;
  /** Worker threads a large call uses (1 when calls run on one thread or one worker). */
  readonly threads: number;
  /** Whether the workers share the wasm memory (else an async call's rows are copied into messages). */
  readonly sharedMemory: boolean;
  crossEntropy<
    Y,
    R extends Reduction | undefined = undefined,
    G extends GradOption | undefined = undefined,
    L extends boolean | undefined = undefined,
    Z extends Logits = Float32Array,
  >(logits: Z, labels: LabelsParameter<Y>, options: (CrossEntropyOptions | WithClassAxis<CrossEntropyOptions>) & ResultOptions<R, G, L>): Result<R, G, L, Z>;
  softCrossEntropy<
    R extends Reduction | undefined = undefined,
    G extends GradOption | undefined = undefined,
    L extends boolean | undefined = undefined,
    Z extends Logits = Float32Array,
  >(logits: Z, targets: Float32Array, options: (SoftCrossEntropyOptions | WithClassAxis<SoftCrossEntropyOptions>) & ResultOptions<R, G, L>): Result<R, G, L, Z>;
  /** crossEntropy on a worker: the same result, without blocking the calling thread. */
  crossEntropyAsync<
    Y,
    R extends Reduction | undefined = undefined,
    G extends GradOption | undefined = undefined,
    L extends boolean | undefined = undefined,
    Z extends Logits = Float32Array,
  >(logits: Z, labels: LabelsParameter<Y>, options: (CrossEntropyOptions | WithClassAxis<CrossEntropyOptions>) & AsyncOptions & ResultOptions<R, G, L>): Promise<Result<R, G, L, Z>>;
  softCrossEntropyAsync<
    R extends Reduction | undefined = undefined,
    G extends GradOption | undefined = undefined,
    L extends boolean | undefined = undefined,
    Z extends Logits = Float32Array,
  >(logits: Z, targets: Float32Array, options: (SoftCrossEntropyOptions | WithClassAxis<SoftCrossEntropyOptions>) & AsyncOptions & ResultOptions<R, G, L>): Promise<Result<R, G, L, Z>>;
  /** Allocate a zero-copy batch of `rows` × `numClasses`. */
  createBatch(rows: number, numClasses: number): Batch;
  /** Per-row softmax(z/T) (or its log), Float32Array(N·K). */
  softmax(logits: Logits, options: (SoftmaxOptions | WithClassAxis<SoftmaxOptions>) & DtypeOption): Float32Array;
  /** Per-row lse, confidence, prediction, entropy; with labels also targetLogProb and rank. */
  rowStats(logits: Logits, labels: Labels, options: (RowStatsOptions | WithClassAxis<RowStatsOptions>) & DtypeOption): LabeledRowStats;
  rowStats(logits: Logits, labels: null, options: (RowStatsOptions | WithClassAxis<RowStatsOptions>) & DtypeOption): RowStats;
  /** A streaming evaluation (accuracy, calibration, NLL, …). */
  createEvaluator(options: EvaluatorOptions): Evaluator;
  /** One-shot `createEvaluator(options)`, `add(logits, labels)`, `result()`. */
  evaluate(logits: Logits, labels: Labels, options: (EvaluatorOptions | WithClassAxis<EvaluatorOptions>) & DtypeOption): EvaluationResult;
  /** The temperature that minimises the NLL (safeguarded Newton in 1/T). */
  fitTemperature(logits: Logits, labels: Labels, options: (FitTemperatureOptions | WithClassAxis<FitTemperatureOptions>) & DtypeOption): TemperatureFit;
  /** The evaluation calls on workers: the same results bit for bit, without blocking. */
  softmaxAsync(logits: Logits, options: (SoftmaxOptions | WithClassAxis<SoftmaxOptions>) & DtypeOption & AsyncOptions): Promise<Float32Array>;
  rowStatsAsync(logits: Logits, labels: Labels, options: (RowStatsOptions | WithClassAxis<RowStatsOptions>) & DtypeOption & AsyncOptions): Promise<LabeledRowStats>;
  rowStatsAsync(logits: Logits, labels: null, options: (RowStatsOptions | WithClassAxis<RowStatsOptions>) & DtypeOption & AsyncOptions): Promise<RowStats>;
  evaluateAsync(logits: Logits, labels: Labels, options: (EvaluatorOptions | WithClassAxis<EvaluatorOptions>) & DtypeOption & AsyncOptions): Promise<EvaluationResult>;
  fitTemperatureAsync(logits: Logits, labels: Labels, options: (FitTemperatureOptions | WithClassAxis<FitTemperatureOptions>) & DtypeOption & AsyncOptions): Promise<TemperatureFit>;
  /** Ends the workers; every call after it throws. */
  dispose(): void;
}
