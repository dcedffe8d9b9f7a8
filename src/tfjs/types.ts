/**
 * Public types of `smoothxent/tfjs`. The tensor types come from @tensorflow/tfjs-core, the
 * optional peer dependency; only types are imported from it, so nothing of tfjs is loaded
 * at run time: the caller passes its own `tf` namespace in.
 */
import type * as tfjs from '@tensorflow/tfjs-core';
import type { Scalar, Tensor } from '@tensorflow/tfjs-core';
import type { BackendName, CreateOptions, CrossEntropyOptions, Labels, Reduction, SoftCrossEntropyOptions, Xent } from '../index.js';

/**
 * What the adapter uses of the TensorFlow.js namespace: pass `tf` from '@tensorflow/tfjs'
 * or from '@tensorflow/tfjs-core' (4.x).
 */
export type TfjsNamespace = Pick<typeof tfjs, 'Tensor' | 'customGrad' | 'tensor' | 'scalar' | 'tidy' | 'log' | 'clipByValue' | 'engine' | 'backend' | 'getBackend'>;

/** The core's create options (backend, arenaBytes, …), passed to `createXent` as they are. */
export type TfjsCreateOptions = CreateOptions;

/** Options the adapter sets itself: the class count is the logits' last axis, the gradient goes to tfjs. */
type Managed = 'numClasses' | 'grad' | 'gradScale' | 'lse' | 'dtype';

export interface FromLogitsOption {
  /**
   * true (default): the predictions are logits. false: they are probabilities (a softmax
   * output), as in Keras: the loss takes log(clip(p, ε, 1 − ε)) as logits, ε the backend's
   * epsilon (1e-7 on cpu and wasm).
   */
  fromLogits?: boolean;
}

/** `crossEntropy` and `sparseCategoricalCrossentropy`: the core's options less the managed ones. */
export type TfjsCrossEntropyOptions = Omit<CrossEntropyOptions, Managed> & FromLogitsOption;

/** `softCrossEntropy` and `categoricalCrossentropy`: the core's options less the managed ones. */
export type TfjsSoftCrossEntropyOptions = Omit<SoftCrossEntropyOptions, Managed> & FromLogitsOption;

/** A scalar for 'mean' and 'sum'; for 'none', one loss per row (the logits' shape without the class axis). */
export type LossTensor<R> = R extends 'none' ? Tensor : Scalar;

/** A Keras-style loss, for `model.compile({ loss })`: (yTrue, yPred) → the loss. */
export type TfjsLossFunction<R = 'mean'> = (yTrue: Tensor, yPred: Tensor) => LossTensor<R>;

export interface TfjsLosses {
  /** smoothxent's backend that computes the losses (not tfjs's: that is `tf.getBackend()`). */
  readonly backend: BackendName;
  /** The core instance behind the losses, for calls on plain typed arrays. */
  readonly xent: Xent;
  /**
   * Class-index cross-entropy as a tfjs op with its own gradient (to the logits only; the
   * labels get none). `logits`: float32, class axis last, any rank ≥ 2. `labels`: class ids
   * with the logits' shape less the class axis (or that shape with a trailing 1, or flat
   * [N]), int32 or float32 holding integers, or a typed array / number[] of N ids.
   */
  crossEntropy<R extends Reduction = 'mean'>(
    logits: Tensor,
    labels: Tensor | Labels,
    options?: TfjsCrossEntropyOptions & { reduction?: R },
  ): LossTensor<R>;
  /** Probability-target cross-entropy: `targets` has the logits' shape (one-hot, soft, teacher outputs). */
  softCrossEntropy<R extends Reduction = 'mean'>(
    logits: Tensor,
    targets: Tensor,
    options?: TfjsSoftCrossEntropyOptions & { reduction?: R },
  ): LossTensor<R>;
  /**
   * Keras-style sparse loss for `model.compile`: yTrue holds class ids ([N] or [N, 1]), or,
   * as `model.fit` hands it over, one-hot rows with yPred's shape (each row must be one-hot).
   * Options are checked here, once.
   */
  sparseCategoricalCrossentropy<R extends Reduction = 'mean'>(options?: TfjsCrossEntropyOptions & { reduction?: R }): TfjsLossFunction<R>;
  /** Keras-style loss for `model.compile`: yTrue holds probabilities with yPred's shape. */
  categoricalCrossentropy<R extends Reduction = 'mean'>(options?: TfjsSoftCrossEntropyOptions & { reduction?: R }): TfjsLossFunction<R>;
}
