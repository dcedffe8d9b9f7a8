// One call shape on one backend, repeated, for bench/callgrind/run.sh:
//   node drive.mjs DIST_ROOT BACKEND MODE(loss|loss+grad) SHAPE(RxK) ITERS [hard|soft]
// hard: crossEntropy on a zero-copy batch (the kernel alone); soft: softCrossEntropy through the
// public API with a reused grad array. DIST_ROOT is a built checkout (its dist/), so that two
// builds can be counted with the same driver.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeInputs, parseShape } from '../data.mjs';

const [root, backend, mode, shape, itersText, call = 'hard'] = process.argv.slice(2);
const build = await import(pathToFileURL(path.resolve(root, 'dist/index.js')).href);
const { rows, numClasses } = parseShape(shape);
const { logits, labels } = makeInputs(rows, numClasses);
const xent = await build.createXent({ backend });
let run;
if (call === 'hard') {
  const batch = xent.createBatch(rows, numClasses);
  batch.logits.set(logits);
  batch.labels.set(labels);
  const options = { smoothing: 0.1, grad: mode === 'loss+grad' };
  run = () => batch.crossEntropy(options);
} else {
  const targets = new Float32Array(rows * numClasses);
  for (let i = 0; i < rows; i++) targets[i * numClasses + labels[i]] = 1;
  const options = { numClasses, smoothing: 0.1, grad: mode === 'loss+grad' ? new Float32Array(rows * numClasses) : false };
  run = () => xent.softCrossEntropy(logits, targets, options);
}
const iters = Number(itersText);
let s = 0;
for (let i = 0; i < iters; i++) s += run().loss;
console.log(backend, mode, shape, iters, s);
