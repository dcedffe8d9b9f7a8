/**
 * Type tests, compiled by `npm run typecheck` (tsc over test/, part of `npm test`) and never
 * run. What a consumer writes must compile; each line under `// @ts-expect-error` must not
 * (tsc fails on a directive whose line compiles: "Unused '@ts-expect-error' directive").
 *
 * A result's keys follow the options passed: `grad` with grad true, a Float32Array or
 * 'inplace'; `lse` with lse: true; `loss` for 'mean' / 'sum', `losses` for 'none'; a key the
 * options do not ask for is not in the type. The checks look at keys one at a time, so a key
 * added to every result of a reduction (ScalarFields, RowsFields) changes no line here.
 */
import type { Batch, CrossEntropyOptions, Labels, Reduction, ScalarResult, RowsResult, Xent } from '../../src/index.js';

/** true when A and B are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
/** Compiles only for true. */
function expectTrue<T extends true>(): T | void {}

declare const xent: Xent;
declare const batch: Batch;
declare const logits: Float32Array;
declare const targets: Float32Array;
declare const labels: Int32Array;
declare const someBoolean: boolean;
declare const someReduction: Reduction;
declare const someOptions: CrossEntropyOptions;
const numClasses = 10;

// --- crossEntropy: grad
const withGrad = xent.crossEntropy(logits, labels, { numClasses, grad: true });
const grad: Float32Array = withGrad.grad;
const loss: number = withGrad.loss;
expectTrue<Equal<typeof withGrad.grad, Float32Array>>();
const into: Float32Array = xent.crossEntropy(logits, labels, { numClasses, grad: new Float32Array(40) }).grad;
const inplace: Float32Array = xent.crossEntropy(logits, labels, { numClasses, grad: 'inplace', smoothing: 0.1 }).grad;

const noGrad = xent.crossEntropy(logits, labels, { numClasses });
// @ts-expect-error no grad option: the result has no grad key
noGrad.grad;
// @ts-expect-error grad: false: no grad key either
xent.crossEntropy(logits, labels, { numClasses, grad: false }).grad;
// @ts-expect-error grad not known to the compiler: optional, so not a Float32Array
const maybe: Float32Array = xent.crossEntropy(logits, labels, { numClasses, grad: someBoolean }).grad;
const maybeToo: Float32Array | undefined = xent.crossEntropy(logits, labels, { numClasses, grad: someBoolean }).grad;

// --- crossEntropy: lse and reduction
const rows = xent.crossEntropy(logits, labels, { numClasses, reduction: 'none', lse: true });
const losses: Float32Array = rows.losses;
const lse: Float32Array = rows.lse;
// @ts-expect-error 'none' has losses, not loss
rows.loss;
// @ts-expect-error no grad asked for
rows.grad;
// @ts-expect-error no lse asked for
xent.crossEntropy(logits, labels, { numClasses, reduction: 'sum' }).lse;
// @ts-expect-error 'sum' has loss, not losses
xent.crossEntropy(logits, labels, { numClasses, reduction: 'sum' }).losses;
const either = xent.crossEntropy(logits, labels, { numClasses, reduction: someReduction });
const total: number | Float32Array = 'loss' in either ? either.loss : either.losses;
// Options built beforehand: a plain object literal widens grad to boolean (optional key); as const keeps it.
const built = { numClasses, grad: true };
// @ts-expect-error grad widened to boolean: optional
const widened: Float32Array = xent.crossEntropy(logits, labels, built).grad;
const kept: Float32Array = xent.crossEntropy(logits, labels, { numClasses, grad: true } as const).grad;
// Options typed as a whole: every key optional, results still fit the wide types.
const wide: ScalarResult | RowsResult = xent.crossEntropy(logits, labels, someOptions);

// --- crossEntropy: labels and option names
xent.crossEntropy(logits, [1, 2, 3, 0], { numClasses });
xent.crossEntropy(logits, BigInt64Array.of(1n, 2n, 3n, 0n), { numClasses });
xent.crossEntropy(logits, labels as Labels, { numClasses });
// @ts-expect-error Float32Array labels: the message names the label types (and softCrossEntropy)
xent.crossEntropy(logits, new Float32Array(4), { numClasses });
// @ts-expect-error a misspelt option
xent.crossEntropy(logits, labels, { numClasses, smoothng: 0.1 });
// @ts-expect-error numClasses is required
xent.crossEntropy(logits, labels, { grad: true });

// --- softCrossEntropy
const soft = xent.softCrossEntropy(logits, targets, { numClasses, grad: 'inplace', lse: true, temperature: 2 });
const softGrad: Float32Array = soft.grad;
const softLse: Float32Array = soft.lse;
const softLoss: number = soft.loss;
// @ts-expect-error no grad asked for
xent.softCrossEntropy(logits, targets, { numClasses }).grad;
const softRows: Float32Array = xent.softCrossEntropy(logits, targets, { numClasses, reduction: 'none' }).losses;
// @ts-expect-error ignoreIndex is not an option of softCrossEntropy
xent.softCrossEntropy(logits, targets, { numClasses, ignoreIndex: 3 });

// --- the class axis anywhere: shape (and classAxis) instead of numClasses
const shapedGrad: Float32Array = xent.crossEntropy(logits, labels, { shape: [2, 10, 3], classAxis: 1, grad: true }).grad;
const shapedLosses: Float32Array = xent.softCrossEntropy(logits, targets, { shape: [2, 10, 3], classAxis: -2, reduction: 'none' }).losses;
const shapedBoth: number = xent.crossEntropy(logits, labels, { shape: [6, 10], numClasses }).loss;
// @ts-expect-error neither numClasses nor shape
xent.crossEntropy(logits, labels, { smoothing: 0.1 });
// @ts-expect-error a batch has no shape
batch.crossEntropy({ shape: [2, 10] });

// --- batches
const batchGrad: Float32Array = batch.crossEntropy({ grad: true }).grad;
const batchInplace: Float32Array = batch.crossEntropy({ grad: 'inplace', reduction: 'none' }).grad;
const batchLoss: number = batch.crossEntropy().loss;
// @ts-expect-error no options: no grad key
batch.crossEntropy().grad;
// @ts-expect-error a batch writes its own gradient: no Float32Array
batch.crossEntropy({ grad: new Float32Array(40) });
// @ts-expect-error numClasses is fixed by the batch
batch.crossEntropy({ numClasses: 10 });

export { shapedGrad, shapedLosses, shapedBoth, widened, kept, grad, loss, into, inplace, maybe, maybeToo, losses, lse, total, wide, softGrad, softLse, softLoss, softRows, batchGrad, batchInplace, batchLoss };
