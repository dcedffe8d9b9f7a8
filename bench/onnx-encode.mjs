/**
 * A small ONNX model encoder: just enough protobuf (varints, length-delimited fields, packed
 * int64 lists) to write the cross-entropy graphs of peers/onnxruntime.mjs,
 * with no dependency. Field numbers are onnx.proto's (ModelProto, GraphProto, NodeProto,
 * AttributeProto, ValueInfoProto, TypeProto, TensorShapeProto, TensorProto).
 */

const WIRE_VARINT = 0;
const WIRE_LENGTH = 2;

export const FLOAT = 1;
export const INT64 = 7;

const ATTRIBUTE_INT = 2;
const ATTRIBUTE_STRING = 3;
const ATTRIBUTE_INTS = 7;

/** Bytes of a varint (non-negative integers, or bigint for int64 values). */
function varint(value) {
  let v = BigInt(value);
  if (v < 0n) v += 1n << 64n; // two's complement, as protobuf encodes negative int64
  const out = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}

const key = (field, wire) => varint((field << 3) | wire);
const text = (s) => [...new TextEncoder().encode(s)];

/** A message is a list of byte arrays (its fields), concatenated. */
const message = (...fields) => fields.flat();
const varintField = (field, value) => [...key(field, WIRE_VARINT), ...varint(value)];
const bytesField = (field, bytes) => [...key(field, WIRE_LENGTH), ...varint(bytes.length), ...bytes];
const stringField = (field, s) => bytesField(field, text(s));
const packedInt64s = (field, values) => bytesField(field, values.flatMap(varint));

/** An attribute: an int, a string or a list of ints (all the graphs here need). */
export function attribute(name, value) {
  if (typeof value === 'string') return message(stringField(1, name), bytesField(4, text(value)), varintField(20, ATTRIBUTE_STRING));
  if (Array.isArray(value)) return message(stringField(1, name), packedInt64s(8, value), varintField(20, ATTRIBUTE_INTS));
  if (!Number.isInteger(value)) throw new Error(`attribute ${name}: only ints, strings and int lists are encoded, got ${value}`);
  return message(stringField(1, name), varintField(3, value), varintField(20, ATTRIBUTE_INT));
}

/** A node: op_type, inputs, outputs, attributes ({ name: value }). */
export function node(opType, inputs, outputs, attributes = {}) {
  return message(
    ...inputs.map((name) => stringField(1, name)),
    ...outputs.map((name) => stringField(2, name)),
    stringField(3, `${opType}_${outputs[0]}`),
    stringField(4, opType),
    ...Object.entries(attributes).map(([name, value]) => bytesField(5, attribute(name, value))),
  );
}

/** A typed value (graph input or output): dims are numbers or symbolic names. */
export function valueInfo(name, elemType, dims) {
  const shape = message(...dims.map((d) => bytesField(1, typeof d === 'string' ? stringField(2, d) : varintField(1, d))));
  const tensorType = message(varintField(1, elemType), bytesField(2, shape));
  return message(stringField(1, name), bytesField(2, bytesField(1, tensorType)));
}

/** A constant (initializer): float32 or int64 values, raw little-endian bytes. */
export function tensor(name, elemType, dims, values) {
  const raw = elemType === FLOAT ? new Uint8Array(Float32Array.from(values).buffer) : new Uint8Array(BigInt64Array.from(values, BigInt).buffer);
  return message(...dims.map((d) => varintField(1, d)), varintField(2, elemType), stringField(8, name), bytesField(9, [...raw]));
}

/** A whole model: one graph, the default ONNX opset `opset`, IR version 8. */
export function model({ nodes, inputs, outputs, initializers = [], opset = 17, name = 'graph' }) {
  const graph = message(
    ...nodes.map((n) => bytesField(1, n)),
    stringField(2, name),
    ...initializers.map((t) => bytesField(5, t)),
    ...inputs.map((v) => bytesField(11, v)),
    ...outputs.map((v) => bytesField(12, v)),
  );
  return Uint8Array.from(
    message(varintField(1, 8), stringField(2, 'smoothxent-bench'), bytesField(7, graph), bytesField(8, message(stringField(1, ''), varintField(2, opset)))),
  );
}
