/**
 * Type tests for 16-bit logits (compiled by `npm run typecheck`, never run): the gradient's
 * type follows the grad option and the logits' type; a Float16Array is typed by its shape
 * (Float16ArrayLike), so these compile with a TypeScript lib that has none.
 */
import type { Float16ArrayLike, HalfDtype, HalfGrad, Logits, Xent } from '../../src/index.js';

declare const xent: Xent;
declare const bits: Uint16Array;
declare const f16: Float16ArrayLike;
declare const labels: Int32Array;
declare const targets: Float32Array;
const numClasses = 4;

const f32Grad: Float32Array = xent.crossEntropy(bits, labels, { numClasses, dtype: 'bfloat16', grad: true }).grad;
const inplace: Uint16Array = xent.crossEntropy(bits, labels, { numClasses, dtype: 'float16', grad: 'inplace' }).grad;
const into = new Uint16Array(8);
const given: Uint16Array = xent.crossEntropy(bits, labels, { numClasses, dtype: 'float16', grad: into }).grad;
const overF16: Float16ArrayLike = xent.crossEntropy(f16, labels, { numClasses, grad: 'inplace' }).grad;
const soft: Float32Array = xent.softCrossEntropy(f16, targets, { numClasses, grad: true }).grad;
const dtype: HalfDtype = 'bfloat16';
const logits: Logits[] = [bits, f16, new Float32Array(4)];
const halfGrads: HalfGrad[] = [bits, f16];
const probabilities: Float32Array = xent.softmax(bits, { numClasses, dtype });
void xent.evaluate(f16, labels, { numClasses });
void xent.rowStatsAsync(bits, null, { numClasses, dtype: 'float16', signal: new AbortController().signal });
void [f32Grad, inplace, given, overF16, soft, logits, halfGrads, probabilities];

// @ts-expect-error: dtype is one of 'float16' and 'bfloat16'
xent.crossEntropy(bits, labels, { numClasses, dtype: 'float8' });
// @ts-expect-error: a 16-bit gradient is not a Float32Array
const wrong: Float32Array = xent.crossEntropy(bits, labels, { numClasses, dtype: 'float16', grad: into }).grad;
// @ts-expect-error: logits are float32 or 16-bit
xent.crossEntropy(new Float64Array(4), labels, { numClasses });
// evaluator.add takes the layouts and dtypes evaluate takes.
xent.createEvaluator({ numClasses }).add(bits, labels, { dtype: 'bfloat16', shape: [2, numClasses, 8], classAxis: 1 });
void xent.createEvaluator({ numClasses }).addAsync(f16, labels, { shape: [4, numClasses], signal: new AbortController().signal });
// @ts-expect-error: evaluator.add's options are the batch's layout and dtype, not the evaluator's
xent.createEvaluator({ numClasses }).add(bits, labels, { dtype: 'float16', smoothing: 0.1 });
void wrong;
