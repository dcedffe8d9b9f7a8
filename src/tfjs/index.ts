/**
 * smoothxent/tfjs: smoothxent's losses as TensorFlow.js ops with their own gradient, for
 * tf.grad, optimizer.minimize and model.fit.
 *
 *   import * as tf from '@tensorflow/tfjs';
 *   import { createTfjsLosses } from 'smoothxent/tfjs';
 *   const losses = await createTfjsLosses(tf);
 *   model.compile({ optimizer: 'adam', loss: losses.sparseCategoricalCrossentropy({ smoothing: 0.1 }) });
 *
 * tfjs is an optional peer dependency: the caller passes its `tf` namespace in, and nothing
 * here imports tfjs at run time (types only). The losses use the core's public API only.
 */
import { createXent, type Labels, type RowsResult, type ScalarResult, type Xent } from '../index.js';
import { GradBuffers, lossOp, tapeIsOn } from './gradient.js';
import { checkLabels, checkLogits, checkTargets, floatData, readLabels, type Layout, type Names } from './tensors.js';
import type {
  TfjsCreateOptions, TfjsCrossEntropyOptions, TfjsLosses, TfjsLossFunction, TfjsNamespace, TfjsSoftCrossEntropyOptions,
} from './types.js';
import type { Tensor } from '@tensorflow/tfjs-core';

export type * from './types.js';

/** The option names each kind of loss accepts (the core's, less numClasses, grad, gradScale, lse). */
const HARD_KEYS = ['smoothing', 'reduction', 'weight', 'ignoreIndex', 'zLoss', 'softcap', 'fromLogits'] as const;
const SOFT_KEYS = ['smoothing', 'reduction', 'weight', 'temperature', 'fromLogits'] as const;

const NAMESPACE_MEMBERS = ['Tensor', 'customGrad', 'tensor', 'scalar', 'tidy', 'log', 'clipByValue', 'engine', 'backend', 'getBackend'] as const;

/**
 * The core's errors name its own call and arguments (`crossEntropy: labels[3] …`); the
 * adapter's caller called something else with other names (`sparseCategoricalCrossentropy:
 * yTrue[3] …`). Same class, same text otherwise.
 */
function renamed(error: unknown, coreCall: string, names: Names, coreArgs: Record<string, string> = {}): unknown {
  const prefix = `${coreCall}: `;
  if (!(error instanceof Error) || !error.message.startsWith(prefix)) return error;
  let rest = error.message.slice(prefix.length);
  for (const [coreName, name] of Object.entries(coreArgs)) {
    if (rest.startsWith(coreName)) {
      rest = name + rest.slice(coreName.length);
      break;
    }
  }
  const Kind = error instanceof RangeError ? RangeError : error instanceof TypeError ? TypeError : Error;
  return new Kind(`${names.where}: ${rest}`);
}

type Options = Record<string, unknown>;

/** A core function with its labels or targets bound, and the names it uses in its errors. */
interface CoreCall {
  name: 'crossEntropy' | 'softCrossEntropy';
  labels: 'labels' | 'targets';
  call(logits: Float32Array, options: Options): ScalarResult | RowsResult;
}

/** Checks the options object, its keys and fromLogits; returns fromLogits and the rest for the core. */
function splitOptions(options: unknown, keys: readonly string[], names: Names): { fromLogits: boolean; core: Options } {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${names.where}: options must be an object, got ${Array.isArray(options) ? 'an array' : String(options)}`);
  }
  for (const key in options) {
    if (!keys.includes(key)) throw new TypeError(`${names.where}: unknown option ${JSON.stringify(key)} (known: ${keys.join(', ')})`);
  }
  const { fromLogits = true, ...core } = options as Options;
  if (typeof fromLogits !== 'boolean') throw new TypeError(`${names.where}: fromLogits must be a boolean, got ${String(fromLogits)}`);
  return { fromLogits, core };
}

class TfjsLossesImpl implements TfjsLosses {
  private readonly buffers = new GradBuffers();

  constructor(private readonly tf: TfjsNamespace, readonly xent: Xent) {}

  get backend() {
    return this.xent.backend;
  }

  /**
   * Validates the core options as the core does, before any work: a call on zero rows (with
   * as many classes as `weight` has, so that it passes; the real call checks it against K).
   */
  private checkCoreOptions(core: Options, soft: boolean, names: Names): void {
    const weight = core.weight;
    const numClasses = weight instanceof Float32Array && weight.length > 0 ? weight.length : 1;
    const empty = new Float32Array(0);
    try {
      if (soft) this.xent.softCrossEntropy(empty, empty, { ...core, numClasses });
      else this.xent.crossEntropy(empty, new Int32Array(0), { ...core, numClasses });
    } catch (error) {
      throw renamed(error, soft ? 'softCrossEntropy' : 'crossEntropy', names);
    }
  }

  /** tfjs-layers' rule for probabilities: log(clip(p, ε, 1 − ε)), its gradient through tfjs's own ops. */
  private logitsOfProbabilities(probabilities: Tensor): Tensor {
    const epsilon = this.tf.backend().epsilon();
    return this.tf.log(this.tf.clipByValue(probabilities, epsilon, 1 - epsilon));
  }

  private withLogits(fromLogits: boolean, predictions: Tensor, compute: (logits: Tensor) => Tensor): Tensor {
    if (fromLogits) return compute(predictions);
    return this.tf.tidy(() => compute(this.logitsOfProbabilities(predictions)));
  }

  /**
   * Reads the logits, calls the core (with the gradient when a tape records), and wraps the
   * result as the op. `call` is the core function with the labels or targets bound.
   */
  private op(names: Names, layout: Layout, logits: Tensor, options: Options, core: CoreCall): Tensor {
    const data = floatData(logits);
    const reduction = options.reduction ?? 'mean';
    const run = (grad: boolean | Float32Array, gradScale: number, reductionOfCall: unknown) => {
      try {
        return core.call(data, { ...options, numClasses: layout.numClasses, reduction: reductionOfCall, grad, gradScale });
      } catch (error) {
        throw renamed(error, core.name, names, { logits: names.logits, [core.labels]: names.labels });
      }
    };
    const result = run(tapeIsOn(this.tf) ? this.buffers.take(data.length) : false, 1, reduction);
    // The gradient of 'none' is that of the sum of the rows: recompute it as 'sum' (no N losses).
    const gradInto = (into: Float32Array, scale: number) => void run(into, scale, reduction === 'none' ? 'sum' : reduction);
    const loss = 'losses' in result ? result.losses : result.loss;
    return lossOp(this.tf, logits, layout, { loss, grad: result.grad ?? null, gradInto }, this.buffers, names.where);
  }

  private hard(names: Names, logits: unknown, labels: unknown, options: Options, fromLogits: boolean, oneHot: boolean): Tensor {
    const layout = checkLogits(this.tf, logits, names);
    const form = checkLabels(this.tf, labels, layout, names, oneHot);
    // Labels are read (and checked) before fromLogits: false makes its two ops: under a tape,
    // tfjs keeps what an op saved for backward until a backward pass, which a throw prevents.
    const ids = readLabels(labels as Tensor | Labels, form, layout, names);
    return this.withLogits(fromLogits, logits as Tensor, (z) => {
      const call = (data: Float32Array, options: Options) => this.xent.crossEntropy(data, ids, options as never);
      return this.op(names, layout, z, options, { name: 'crossEntropy', labels: 'labels', call });
    });
  }

  private soft(names: Names, logits: unknown, targets: unknown, options: Options, fromLogits: boolean): Tensor {
    const layout = checkLogits(this.tf, logits, names);
    const targetData = floatData(checkTargets(this.tf, targets, layout, names));
    return this.withLogits(fromLogits, logits as Tensor, (z) => {
      const call = (data: Float32Array, options: Options) => this.xent.softCrossEntropy(data, targetData, options as never);
      return this.op(names, layout, z, options, { name: 'softCrossEntropy', labels: 'targets', call });
    });
  }

  crossEntropy(logits: Tensor, labels: Tensor | Labels, options: TfjsCrossEntropyOptions = {}) {
    const names = { where: 'crossEntropy', logits: 'logits', labels: 'labels' };
    const { fromLogits, core } = splitOptions(options, HARD_KEYS, names);
    this.checkCoreOptions(core, false, names);
    return this.hard(names, logits, labels, core, fromLogits, false) as never;
  }

  softCrossEntropy(logits: Tensor, targets: Tensor, options: TfjsSoftCrossEntropyOptions = {}) {
    const names = { where: 'softCrossEntropy', logits: 'logits', labels: 'targets' };
    const { fromLogits, core } = splitOptions(options, SOFT_KEYS, names);
    this.checkCoreOptions(core, true, names);
    return this.soft(names, logits, targets, core, fromLogits) as never;
  }

  sparseCategoricalCrossentropy(options: TfjsCrossEntropyOptions = {}) {
    const names = { where: 'sparseCategoricalCrossentropy', logits: 'yPred', labels: 'yTrue' };
    const { fromLogits, core } = splitOptions(options, HARD_KEYS, names);
    this.checkCoreOptions(core, false, names);
    const loss = (yTrue: Tensor, yPred: Tensor) => this.hard(names, yPred, yTrue, core, fromLogits, true);
    return loss as TfjsLossFunction<never>;
  }

  categoricalCrossentropy(options: TfjsSoftCrossEntropyOptions = {}) {
    const names = { where: 'categoricalCrossentropy', logits: 'yPred', labels: 'yTrue' };
    const { fromLogits, core } = splitOptions(options, SOFT_KEYS, names);
    this.checkCoreOptions(core, true, names);
    const loss = (yTrue: Tensor, yPred: Tensor) => this.soft(names, yPred, yTrue, core, fromLogits);
    return loss as TfjsLossFunction<never>;
  }
}

/**
 * Loads smoothxent (`createXent(options)`: the core's create options, passed as they are)
 * and returns its losses as tfjs ops for the given `tf` namespace.
 */
export async function createTfjsLosses(tf: TfjsNamespace, options: TfjsCreateOptions = {}): Promise<TfjsLosses> {
  const names = { where: 'createTfjsLosses', logits: '', labels: '' };
  if (typeof tf !== 'object' || tf === null) {
    throw new TypeError(`createTfjsLosses: tf must be the TensorFlow.js namespace (import * as tf from '@tensorflow/tfjs'), got ${String(tf)}`);
  }
  const missing = NAMESPACE_MEMBERS.filter((name) => typeof (tf as unknown as Options)[name] !== 'function');
  if (missing.length > 0) {
    throw new TypeError(
      `createTfjsLosses: tf must be the TensorFlow.js namespace (import * as tf from '@tensorflow/tfjs'), got an object without ${missing.join(', ')}`,
    );
  }
  let xent: Xent;
  try {
    xent = await createXent(options);
  } catch (error) {
    throw renamed(error, 'createXent', names);
  }
  return new TfjsLossesImpl(tf, xent);
}

