/**
 * The tfjs op: a loss tensor whose gradient smoothxent computed, through `tf.customGrad`.
 *
 * Costs, per call (one N·K read-back of the logits, one N·K upload of the gradient, nothing else):
 * 1. Under a gradient tape (tf.grad, optimizer.minimize, model.fit) the forward call already
 *    asks the core for the gradient (one fused kernel call for loss and gradient, gradScale
 *    1). Outside a tape only the loss is computed, since no backward pass will come.
 * 2. The backward pass reads dy (one number, or one per row for reduction 'none'):
 *    - dy = 1, every tf.grad / minimize / fit of a scalar loss: the gradient is uploaded as
 *      it is (no tf.mul, no pass over it);
 *    - any other dy that is the same for every row is folded into `gradScale`: the core is
 *      called again, writing the scaled gradient into the same buffer (one rounding, as if
 *      computed so from the start);
 *    - a dy that differs per row ('none' under sample weights) scales each row in place.
 * 3. The gradient tensor has the logits' shape and dtype (float32); labels and targets get
 *    none. The uploaded array is never written again while tfjs may hold it: tfjs-cpu keeps
 *    it by reference, tfjs-wasm copies it into its heap at once (`GradBuffers`).
 *
 * The gradient is a constant of the tape, so second-order gradients (tf.grad of a tf.grad)
 * would silently be 0: that is an Error instead.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import type { Layout } from './tensors.js';
import type { TfjsNamespace } from './types.js';

/**
 * Gradient buffers to reuse from call to call. Only a buffer that tfjs copied when it was
 * uploaded comes back here: tfjs-wasm copies into its heap at once, while tfjs-cpu (and
 * webgl, lazily) keep the array itself, so those get a new array every call. A fresh N·K
 * array pays its page faults on first touch: 2.7 ms at 1024×1000 on the bench VM, more
 * than the kernel's 2.3 ms. A buffer between forward and backward is out of the pool, so
 * two losses on one tape never share one.
 */
export class GradBuffers {
  private readonly free: Float32Array[] = [];

  take(size: number): Float32Array {
    const index = this.free.findIndex((buffer) => buffer.length === size);
    return index >= 0 ? this.free.splice(index, 1)[0] : new Float32Array(size);
  }

  /** Keeps the two most recent: a training loop alternates at most a few shapes. */
  give(buffer: Float32Array): void {
    this.free.unshift(buffer);
    if (this.free.length > 2) this.free.length = 2;
  }
}

/** tfjs backends whose upload (`tf.tensor(array)`) copies the array before returning. */
const COPIES_ON_UPLOAD = new Set(['wasm']);

export interface Computed {
  /** The loss ('mean', 'sum') or one loss per row ('none'). */
  loss: number | Float32Array;
  /** The gradient computed with the loss at gradScale 1, or null when no tape was recording. */
  grad: Float32Array | null;
  /** Writes the gradient times `scale` into `into` (the core, called again with gradScale = scale). */
  gradInto(into: Float32Array, scale: number): void;
}

/** Whether tfjs records ops for a backward pass right now (assume so if this tfjs cannot tell). */
export function tapeIsOn(tf: TfjsNamespace): boolean {
  const engine = tf.engine();
  return typeof engine.isTapeOn === 'function' ? engine.isTapeOn() : true;
}

/** The loss as a tfjs op of `logits` (its only input) with `computed`'s gradient. */
export function lossOp(tf: TfjsNamespace, logits: Tensor, layout: Layout, computed: Computed, buffers: GradBuffers, where: string): Tensor {
  let pending = computed.grad;
  const op = tf.customGrad(() => ({
    value: typeof computed.loss === 'number' ? tf.scalar(computed.loss, 'float32') : tf.tensor(computed.loss, layout.rowShape, 'float32'),
    gradFunc: (dy: Tensor) => {
      if (tf.engine().isTapeOn?.()) {
        throw new Error(`${where}: second-order gradients are not supported (smoothxent computes the gradient itself; tfjs cannot differentiate it again)`);
      }
      // The buffer is handed to tfjs once; a second backward pass (if any) gets a new one.
      const grad = pending ?? buffers.take(logits.size);
      const fresh = pending === null;
      pending = null;
      scaleInto(grad, fresh, dy.dataSync() as ArrayLike<number>, layout.numClasses, computed);
      const tensor = tf.tensor(grad, layout.shape, 'float32');
      if (COPIES_ON_UPLOAD.has(tf.getBackend())) buffers.give(grad);
      return tensor;
    },
  }));
  return op(logits);
}

/** Turns `grad` (the gradient at scale 1, or an empty buffer if `fresh`) into dy times the gradient. */
function scaleInto(grad: Float32Array, fresh: boolean, dy: ArrayLike<number>, numClasses: number, computed: Computed): void {
  const first = dy[0];
  let uniform = true;
  for (let i = 1; i < dy.length && uniform; i++) uniform = dy[i] === first;
  if (uniform && Number.isFinite(first)) {
    if (fresh || first !== 1) computed.gradInto(grad, first);
    return;
  }
  // A per-row dy, or a non-finite one (the core's gradScale must be finite): scale rows as IEEE does.
  if (fresh) computed.gradInto(grad, 1);
  const perRow = dy.length !== 1;
  for (let row = 0, base = 0; base < grad.length; row++, base += numClasses) {
    const scale = perRow ? dy[row] : first;
    for (let k = base; k < base + numClasses; k++) grad[k] *= scale;
  }
}
