// Two builds in one process for bench/perf/run.sh: the same zero-copy batch call on each, in
// turns of five calls, for SECONDS (so that the load of the shared VM falls on both alike):
//   node drive.mjs ROOT_A ROOT_B SHAPE(RxK) SECONDS [BACKEND] [loss|loss+grad]
// ROOT_A and ROOT_B are built checkouts (their dist/). A's module is instantiated first, so
// its code comes first in V8's code dump (run.sh tells the two apart by that order).
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeInputs, parseShape } from '../data.mjs';

const [rootA, rootB, shape, seconds = '20', backend = 'wasm-simd', mode = 'loss'] = process.argv.slice(2);
const { rows, numClasses } = parseShape(shape);
const { logits, labels } = makeInputs(rows, numClasses);
async function prepare(root) {
  const build = await import(pathToFileURL(path.resolve(root, 'dist/index.js')).href);
  const xent = await build.createXent({ backend });
  const batch = xent.createBatch(rows, numClasses);
  batch.logits.set(logits);
  batch.labels.set(labels);
  const options = { smoothing: 0.1, grad: mode === 'loss+grad' };
  return () => batch.crossEntropy(options);
}
const a = await prepare(rootA);
const b = await prepare(rootB);
for (let i = 0; i < 50; i++) { a(); b(); }
const cpu = () => { const { user, system } = process.cpuUsage(); return user + system; };
const times = { A: [], B: [] };
const end = performance.now() + Number(seconds) * 1000;
while (performance.now() < end) {
  for (const [run, list] of [[a, times.A], [b, times.B]]) {
    const start = cpu();
    for (let j = 0; j < 5; j++) run();
    list.push(cpu() - start);
  }
}
const median = (v) => [...v].sort((x, y) => x - y)[v.length >> 1];
console.error(`CPU µs per 5 calls, median: A ${median(times.A)}, B ${median(times.B)}, B ÷ A ${(median(times.B) / median(times.A)).toFixed(3)} (${times.A.length} turns)`);
