#!/usr/bin/env node
/**
 * The timeline of one sync zero-copy batch call on 2 threads (the pool's range calls record
 * every chunk: which thread, when it started and ended), to see where a call's time goes:
 *
 *   node bench/timeline.mjs --shape 4096x1000 [--grad] [--calls 3] [--chunks] [--api]
 *
 * (--api: the public API's call instead, the gradient into a reused array; --pause ms: an
 * idle pause before each call, as between the methods of a round-robin bench.) Per call and
 * thread: chunks run, busy ms, first start and last end from the call's start; then the
 * call's wall time and its total busy time (≤ 2 × wall). The calling thread's records are
 * split by what it does: computing its chunks, copying a worker's chunk in, or out.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { makeInputs, parseShape } from './data.mjs';

const { values: args } = parseArgs({
  options: {
    shape: { type: 'string', default: '4096x1000' },
    grad: { type: 'boolean', default: false },
    calls: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    chunks: { type: 'boolean', default: false },
    api: { type: 'boolean', default: false },
    pause: { type: 'string', default: '0' },
  },
});
const { createXent } = await import(new URL('../dist/index.js', import.meta.url));
const shape = parseShape(args.shape);
const xent = await createXent({ threads: Number(args.threads) });
const pool = xent.threading.testing().shared;
const { logits, labels } = makeInputs(shape.rows, shape.numClasses);
const batch = xent.createBatch(shape.rows, shape.numClasses);
batch.logits.set(logits);
batch.labels.set(labels);
const options = { smoothing: 0.1, grad: args.grad };
const apiOptions = { numClasses: shape.numClasses, smoothing: 0.1, grad: args.grad ? new Float32Array(logits.length) : false };
const run = args.api ? () => xent.crossEntropy(logits, labels, apiOptions) : () => batch.crossEntropy(options);
for (let i = 0; i < 30; i++) run();
console.log(`${args.shape} ${args.grad ? 'loss+grad' : 'loss'}, ${args.api ? 'public API' : 'zero-copy batch'}, ${xent.threads} threads, ${xent.backend}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (let c = 0; c < Number(args.calls); c++) {
  if (Number(args.pause) > 0) await new Promise((resolve) => setTimeout(resolve, Number(args.pause)));
  const tracing = pool.testing().trace();
  const t0 = performance.timeOrigin + performance.now();
  run();
  const t1 = performance.timeOrigin + performance.now();
  const records = tracing.read();
  const threads = new Map();
  for (const [thread, chunk, start, end] of records) {
    const t = threads.get(thread) ?? { chunks: 0, busy: 0, first: Infinity, last: 0, list: [] };
    t.chunks++;
    t.busy += end - start;
    t.first = Math.min(t.first, start - t0);
    t.last = Math.max(t.last, end - t0);
    t.list.push([chunk, start - t0, end - t0]);
    threads.set(thread, t);
  }
  let busy = 0;
  for (const [thread, t] of threads) {
    busy += t.busy;
    const who = { [-1]: 'calling thread, computing', [-2]: 'calling thread, copying in', [-3]: 'calling thread, copying out', [-4]: 'calling thread, computing chunks taken back' }[thread] ?? `worker @${thread}`;
    console.log(`  ${who}: ${t.chunks} chunks, busy ${t.busy.toFixed(3)} ms, first start ${t.first.toFixed(3)}, last end ${t.last.toFixed(3)} ms`);
    if (args.chunks) console.log('    ' + t.list.map(([k, s, e]) => `${k}:${s.toFixed(2)}-${e.toFixed(2)}`).join(' '));
  }
  console.log(`  call: wall ${(t1 - t0).toFixed(3)} ms, busy ${busy.toFixed(3)} ms (${(busy / (t1 - t0)).toFixed(2)} threads)`);
}
batch.dispose();
xent.dispose();
