#!/usr/bin/env node
/**
 * A/B of two builds' zero-copy batch calls on 1 and 2 threads, side by side in one process, for
 * a change to the pool (bench/ab.mjs times one thread in CPU time, which a pool's call does
 * not fit: here it is wall time):
 *
 *   node bench/ab-threads.mjs --base /tmp/ab-base/dist [--head dist] [--shape 4096x1000] [--loss] [--rounds 30]
 *
 * Each round runs every task (A and B, 1 and 2 threads) in turn, reversing the order every
 * other round; a task's sample is the mean of 3 calls right after one untimed call (warm, as in
 * a loop). Prints the medians (ms), each build's 1 ÷ 2 threads, and B ÷ A on 2 threads (the
 * same build against itself gives 0.97–1.03 on the 2-core VM).
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import path from 'node:path';
import { makeInputs, parseShape } from './data.mjs';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    head: { type: 'string', default: fileURLToPath(new URL('../dist', import.meta.url)) },
    shape: { type: 'string', default: '4096x1000' },
    loss: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '30' },
  },
});
if (!args.base) throw new Error('--base DIR: the dist/ of the build to compare against');
const shape = parseShape(args.shape);
const grad = !args.loss;
const { logits, labels } = makeInputs(shape.rows, shape.numClasses);
const tasks = [];
for (const [name, dir] of [['A', args.base], ['B', args.head]]) {
  const { createXent } = await import(path.resolve(dir, 'index.js'));
  for (const threads of [1, 2]) {
    const xent = await createXent({ threads });
    const batch = xent.createBatch(shape.rows, shape.numClasses);
    batch.logits.set(logits);
    batch.labels.set(labels);
    tasks.push({ id: `${name}-t${threads}`, call: () => batch.crossEntropy({ smoothing: 0.1, grad }), samples: [], xent });
  }
}
for (let i = 0; i < 10; i++) for (const task of tasks) task.call();
for (let round = 0; round < Number(args.rounds); round++) {
  for (const task of round % 2 ? tasks : [...tasks].reverse()) {
    task.call();
    const begin = performance.now();
    for (let k = 0; k < 3; k++) task.call();
    task.samples.push((performance.now() - begin) / 3);
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
const m = Object.fromEntries(tasks.map((task) => [task.id, median(task.samples)]));
console.log(`${args.shape} ${grad ? 'loss+grad' : 'loss'}: ` + Object.entries(m).map(([id, ms]) => `${id} ${ms.toFixed(2)} ms`).join(', '));
console.log(`A 1÷2 threads ${(m['A-t1'] / m['A-t2']).toFixed(2)}, B 1÷2 threads ${(m['B-t1'] / m['B-t2']).toFixed(2)}, B÷A on 2 threads ${(m['B-t2'] / m['A-t2']).toFixed(3)}`);
for (const task of tasks) task.xent.dispose();
