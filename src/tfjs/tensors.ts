/**
 * Reading tfjs tensors into what the core takes, with every check the adapter adds to the
 * core's: tensor types, dtypes, ranks and shapes first (before any data is read), then the
 * values the core cannot see (float labels holding integers, one-hot rows). Each error
 * names the call and the tensor argument as the caller wrote it (`logits`, or `yPred` in a
 * Keras-style loss) and shows the bad value.
 *
 * Traps handled here (tfjs 4.22):
 * - `dataSync()` is typed as a union and does not always match the dtype: on tfjs-cpu,
 *   `tf.cast(intTensor, 'float32').dataSync()` returns the Int32Array it was cast from.
 *   Float data that is not a Float32Array is converted (one copy, only then).
 * - On tfjs-cpu `dataSync()` returns the backend's own array (no copy): never written here.
 * - `model.fit` hands a custom loss targets with the model output's shape, so the sparse
 *   loss receives one-hot [N, K] rows there: each must be one-hot, and becomes its class id.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import type { Labels } from '../index.js';
import type { TfjsNamespace } from './types.js';

/** Who is calling and what the caller calls the two tensors, for error messages. */
export interface Names {
  where: string;
  logits: string;
  labels: string;
}

/** The logits' layout: rows × classes, class axis last. */
export interface Layout {
  shape: number[];
  /** The shape of one loss per row: the logits' shape without the class axis. */
  rowShape: number[];
  rows: number;
  numClasses: number;
}

const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** A short rendering of a bad value: tensors by dtype and shape, typed arrays by type and length. */
export function describeValue(tf: TfjsNamespace, value: unknown): string {
  if (value instanceof tf.Tensor) return `${/^[aeiou]/.test(value.dtype) ? 'an' : 'a'} ${value.dtype} tensor of shape ${shapeText(value.shape)}`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as ArrayLike<unknown>).length})`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}

export function checkLogits(tf: TfjsNamespace, logits: unknown, names: Names): Layout {
  const { where } = names;
  if (!(logits instanceof tf.Tensor)) throw new TypeError(`${where}: ${names.logits} must be a tf.Tensor, got ${describeValue(tf, logits)}`);
  if (logits.dtype !== 'float32') throw new TypeError(`${where}: ${names.logits} must be a float32 tensor, got ${describeValue(tf, logits)}`);
  const shape = logits.shape;
  if (shape.length < 2) {
    throw new RangeError(`${where}: ${names.logits} must have rank ≥ 2 (rows × classes, class axis last), got shape ${shapeText(shape)}`);
  }
  const numClasses = shape[shape.length - 1];
  if (numClasses < 1) throw new RangeError(`${where}: ${names.logits} must have at least one class (last axis ≥ 1), got shape ${shapeText(shape)}`);
  const rowShape = shape.slice(0, -1);
  return { shape, rowShape, rows: logits.size / numClasses, numClasses };
}

/** How the labels arrive: a tensor of ids, a tensor of one-hot rows, or the caller's array of ids. */
export type LabelsForm = 'ids' | 'one-hot' | 'array';

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Checks the labels' type, dtype and shape against the logits. Ids: the logits' shape less
 * the class axis, that with a trailing 1, or flat [N]. One-hot (only if `oneHot`): the
 * logits' shape; with K = 1 a trailing 1 reads as ids.
 */
export function checkLabels(tf: TfjsNamespace, labels: unknown, layout: Layout, names: Names, oneHot: boolean): LabelsForm {
  const { where } = names;
  if (!(labels instanceof tf.Tensor)) {
    const isArray = Array.isArray(labels) || (ArrayBuffer.isView(labels) && !(labels instanceof DataView));
    if (!isArray) {
      throw new TypeError(`${where}: ${names.labels} must be a tf.Tensor of class ids or a typed array / number[] of them, got ${describeValue(tf, labels)}`);
    }
    const length = (labels as ArrayLike<unknown>).length;
    if (length !== layout.rows) throw new RangeError(`${where}: ${names.labels} must hold one class id per row (${layout.rows}), got ${describeValue(tf, labels)}`);
    return 'array';
  }
  if (labels.dtype !== 'int32' && labels.dtype !== 'float32') {
    throw new TypeError(`${where}: ${names.labels} must be an int32 or float32 tensor of class ids, got ${describeValue(tf, labels)}`);
  }
  const { rowShape, rows } = layout;
  if (sameShape(labels.shape, rowShape) || sameShape(labels.shape, [...rowShape, 1]) || sameShape(labels.shape, [rows])) return 'ids';
  if (oneHot && sameShape(labels.shape, layout.shape)) return 'one-hot';
  const expected = [shapeText(rowShape), shapeText([...rowShape, 1])];
  if (rowShape.length > 1) expected.push(shapeText([rows]));
  if (oneHot) expected.push(`one-hot ${shapeText(layout.shape)}`);
  throw new RangeError(
    `${where}: ${names.labels} must have shape ${expected.join(' or ')} (${names.logits} has shape ${shapeText(layout.shape)}), got shape ${shapeText(labels.shape)}`,
  );
}

/** A tensor's values as float32 (one conversion only when tfjs holds another array type). */
export function floatData(tensor: Tensor): Float32Array {
  const data = tensor.dataSync();
  if (data instanceof Float32Array) return data;
  return Float32Array.from(data as ArrayLike<number>);
}

/** The labels as the core's class ids; values the core cannot check are checked here. */
export function readLabels(labels: Tensor | Labels, form: LabelsForm, layout: Layout, names: Names): Labels {
  if (form === 'array') return labels as Labels;
  const data = (labels as Tensor).dataSync() as ArrayLike<number>;
  if (form === 'one-hot') return idsOfOneHot(data, layout, names);
  if (data instanceof Int32Array) return data;
  return integerIds(data, names);
}

/** Float labels must hold integers (in the int32 range); the core then checks each is a class or ignoreIndex. */
function integerIds(data: ArrayLike<number>, names: Names): Int32Array {
  const ids = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const value = data[i];
    if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) {
      throw new RangeError(`${names.where}: ${names.labels}[${i}] must be an integer class id, got ${value}`);
    }
    ids[i] = value;
  }
  return ids;
}

/**
 * One-hot rows (exactly one 1, the rest 0) → their class ids. A row is skimmed eight entries
 * at a time through their bits (a float +0 and an int 0 are all-zero bits): 1.2 instead of
 * 3.4 ns per entry for a plain float loop at 1024×1000, where this N·K pass had cost more
 * than the loss kernel. A block with any bit set is looked at value by value.
 */
function idsOfOneHot(data: ArrayLike<number>, layout: Layout, names: Names): Int32Array {
  const { rows, numClasses } = layout;
  const values = data instanceof Float32Array || data instanceof Int32Array ? data : Float32Array.from(data);
  const bits = values instanceof Int32Array ? values : new Int32Array(values.buffer, values.byteOffset, values.length);
  const ids = new Int32Array(rows);
  for (let i = 0, base = 0; i < rows; i++, base += numClasses) {
    let id = -1;
    const end = base + numClasses;
    let block = base;
    for (; block + 8 <= end; block += 8) {
      if ((bits[block] | bits[block + 1] | bits[block + 2] | bits[block + 3] | bits[block + 4] | bits[block + 5] | bits[block + 6] | bits[block + 7]) === 0) continue;
      id = oneHotEntries(values, block, block + 8, base, id, names, i);
    }
    id = oneHotEntries(values, block, end, base, id, names, i);
    if (id < 0) throw notOneHot(names, i, 'no 1');
    ids[i] = id;
  }
  return ids;
}

/** Entries [from, to) of the row starting at `base`: returns the row's class id so far (−1: none yet). */
function oneHotEntries(values: Float32Array | Int32Array, from: number, to: number, base: number, id: number, names: Names, row: number): number {
  for (let index = from; index < to; index++) {
    const value = values[index];
    if (value === 0) continue;
    const k = index - base;
    if (value !== 1 || id >= 0) throw notOneHot(names, row, `${value} at class ${k}${value === 1 ? ` (and 1 at class ${id})` : ''}`);
    id = k;
  }
  return id;
}

function notOneHot(names: Names, row: number, found: string): RangeError {
  return new RangeError(
    `${names.where}: ${names.labels} row ${row} must be one-hot (one 1, the rest 0) when ${names.labels} has ${names.logits}'s shape, got ${found}`,
  );
}

/** Probability targets: a float32 or int32 tensor with the logits' shape. */
export function checkTargets(tf: TfjsNamespace, targets: unknown, layout: Layout, names: Names): Tensor {
  const { where } = names;
  if (!(targets instanceof tf.Tensor)) throw new TypeError(`${where}: ${names.labels} must be a tf.Tensor, got ${describeValue(tf, targets)}`);
  if (targets.dtype !== 'float32' && targets.dtype !== 'int32') {
    throw new TypeError(`${where}: ${names.labels} must be a float32 or int32 tensor of probabilities, got ${describeValue(tf, targets)}`);
  }
  if (!sameShape(targets.shape, layout.shape)) {
    throw new RangeError(`${where}: ${names.labels} must have ${names.logits}'s shape ${shapeText(layout.shape)}, got shape ${shapeText(targets.shape)}`);
  }
  return targets;
}
