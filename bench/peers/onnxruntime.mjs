/**
 * onnxruntime-node 1.30 peer (CPU execution provider), loaded with createRequire from
 * node_modules (its npm install script, which downloads CUDA providers and fails offline, is
 * denied in package.json allowScripts: the CPU binary ships in the package). The graphs are
 * built here (bench/onnx-encode.mjs), with symbolic N and K so one model serves every shape:
 *
 *   logp = LogSoftmax(logits, axis 1)
 *   loss = (1 − ε)·NegativeLogLikelihoodLoss(logp, labels, mean) − ε·ReduceMean(ReduceMean(logp, classes), rows)
 *   grad = (Exp(logp) − OneHot(labels, K, [ε/K, 1 − ε + ε/K])) / N        (loss + gradient model)
 *
 * which is label-smoothed cross-entropy with reduction 'mean', and its gradient. ReduceMean
 * over classes, then over rows, was the fastest form of the smoothing term. ORT has no
 * autograd at inference, so the gradient is written out. The input tensors are built outside
 * the timed call; inside it, `session.run` (async) returns the outputs as JS arrays.
 *
 * Two sessions: the default (intraOpNumThreads 0: one thread per physical core) and one
 * thread. ORT's pool keeps spinning ~50 ms after a run: run.mjs lets it settle (method.settleMs)
 * before it times the next method.
 */
import { createRequire } from 'node:module';
import { FLOAT, INT64, model, node, tensor, valueInfo } from '../onnx-encode.mjs';

const require = createRequire(import.meta.url);
let ort;
let loadError;
try {
  ort = require('onnxruntime-node');
} catch (error) {
  loadError = error;
}

function crossEntropyModel({ smoothing, grad }) {
  const nodes = [
    node('LogSoftmax', ['logits'], ['logp'], { axis: 1 }),
    node('NegativeLogLikelihoodLoss', ['logp', 'labels'], ['nll'], { reduction: 'mean' }),
    node('ReduceMean', ['logp'], ['rowMean'], { axes: [1], keepdims: 0 }),
    node('ReduceMean', ['rowMean'], ['meanLogp'], { keepdims: 0 }),
    node('Mul', ['nll', 'keep'], ['kept']),
    node('Mul', ['meanLogp', 'spread'], ['spreadTerm']),
    node('Sub', ['kept', 'spreadTerm'], ['loss']),
  ];
  const initializers = [tensor('keep', FLOAT, [], [1 - smoothing]), tensor('spread', FLOAT, [], [smoothing])];
  const outputs = [valueInfo('loss', FLOAT, [])];
  if (grad) {
    nodes.push(
      node('Exp', ['logp'], ['p']),
      node('Shape', ['logits'], ['shape']),
      node('Gather', ['shape', 'one'], ['classes'], { axis: 0 }),
      node('Gather', ['shape', 'zero'], ['rowCount'], { axis: 0 }),
      node('Cast', ['rowCount'], ['rowsFloat'], { to: FLOAT }),
      // OneHot's values are [off, on]: the smoothed targets ε/K and 1 − ε + ε/K.
      node('Cast', ['classes'], ['classesFloat'], { to: FLOAT }),
      node('Div', ['spread', 'classesFloat'], ['off']),
      node('Add', ['keep', 'off'], ['on']),
      node('Unsqueeze', ['off', 'zero'], ['offVector']),
      node('Unsqueeze', ['on', 'zero'], ['onVector']),
      node('Concat', ['offVector', 'onVector'], ['values'], { axis: 0 }),
      node('OneHot', ['labels', 'classes', 'values'], ['targets'], { axis: -1 }),
      node('Sub', ['p', 'targets'], ['difference']),
      node('Div', ['difference', 'rowsFloat'], ['grad']),
    );
    initializers.push(tensor('zero', INT64, [1], [0]), tensor('one', INT64, [], [1]));
    outputs.push(valueInfo('grad', FLOAT, ['N', 'K']));
  }
  return model({
    nodes,
    inputs: [valueInfo('logits', FLOAT, ['N', 'K']), valueInfo('labels', INT64, ['N'])],
    outputs,
    initializers,
  });
}

const sessions = new Map();

/** One session per (threads, grad), created once; intraOpNumThreads 0 is ORT's default. */
function sessionFor(threads, grad, smoothing) {
  const id = `${threads} ${grad} ${smoothing}`;
  if (!sessions.has(id)) {
    const options = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1 };
    sessions.set(id, ort.InferenceSession.create(crossEntropyModel({ smoothing, grad }), options));
  }
  return sessions.get(id);
}

function ortMethod(threads, id, label) {
  return {
    id,
    label,
    async: true,
    /** ORT's threads spin ~50 ms after a run; the next method waits this long first. */
    settleMs: 150,
    available() {
      if (!ort) return `onnxruntime-node could not be loaded: ${loadError?.message ?? loadError}`;
      return true;
    },
    async prepare({ rows, numClasses, logits, labels, smoothing, grad }) {
      const session = await sessionFor(threads, grad, smoothing);
      const feeds = {
        logits: new ort.Tensor('float32', logits, [rows, numClasses]),
        labels: new ort.Tensor('int64', BigInt64Array.from(labels, BigInt), [rows]),
      };
      const call = () => session.run(feeds);
      const evaluate = async () => {
        const out = await session.run(feeds);
        return { loss: out.loss.data[0], grad: grad ? out.grad.data : undefined };
      };
      return { call, evaluate, dispose() {} };
    },
  };
}

export const onnxruntimeMethods = [
  ortMethod(0, 'onnxruntime-node', 'onnxruntime-node 1.30 (default threads: one per core)'),
  ortMethod(1, 'onnxruntime-node-1thread', 'onnxruntime-node 1.30, 1 thread'),
];

/** The version that ran, for results.json. */
export const onnxruntimeInfo = () => (ort ? { version: require('onnxruntime-node/package.json').version } : undefined);
