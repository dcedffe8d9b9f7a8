#!/usr/bin/env node
/**
 * Threads: 1 and 2 threads side by side, with onnxruntime-node (its default threads, one per
 * core, and one thread) as the reference, in one process:
 *
 *   npm run bench:threads            # npm run build, then this: writes bench/threads.json
 *   node bench/threads.mjs --shapes 4096x1000,512x32000 --time 3000
 *
 * For each shape and mode (loss + gradient, loss only): the zero-copy batch and the public API
 * (the gradient into a reused array; loss only) on createXent() and createXent({ threads: 2 }),
 * and onnxruntime-node; at 16×256 also crossEntropyAsync against the sync call (the fixed cost
 * of an async call). The backend is what createXent() picks here (the run says which).
 *
 * The tasks of one shape and mode are timed ROUND-ROBIN: one sample of each in turn, until each
 * has enough samples. On this shared 2-core VM the load drifts within a run; sequential blocks
 * would charge that drift to whichever method ran later, and a 2-thread method is the first to
 * suffer when another process takes a core. Taking turns gives each method the same conditions,
 * so the ratios hold even when the absolute times do not; the load is recorded with each row.
 * onnxruntime's pool keeps spinning ~50 ms after a run, so every onnxruntime sample is followed
 * by an untimed pause before the next task.
 *
 * Each shape and mode runs twice:
 * - "warm": one untimed call of the same method right before each sample, as in a loop's
 *   second and later calls (the pool's worker polls for 0.3 ms after a sync call, and
 *   onnxruntime's threads spin for ~50 ms), so a sample measures the call, not a wake-up;
 * - "after idle" (our methods only): each sample follows 100 ms with nothing to do, as the
 *   first call after a pause; a worker asleep in Atomics.wait then takes 0.05–5 ms to start on
 *   this VM (its idle vCPU halts and the host must schedule it again), which this shows.
 */
import os from 'node:os';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeInputs, parseShape } from './data.mjs';
import { onnxruntimeInfo, onnxruntimeMethods } from './peers/onnxruntime.mjs';
import { threadsTables } from './report.mjs';
import { roundRobin } from './round-robin.mjs';

const { values: args } = parseArgs({
  options: {
    shapes: { type: 'string', default: '8192x10,4096x1000,512x32000,32x128000,16x256' },
    modes: { type: 'string', default: 'loss+grad,loss' },
    time: { type: 'string', default: '2000' },
    'min-samples': { type: 'string', default: '15' },
    out: { type: 'string' },
  },
});
const SMOOTHING = 0.1;
const timeMs = Number(args.time);
const minSamples = Number(args['min-samples']);
/** A sample lasts at least this long (small shapes repeat the call within a sample). */
const SAMPLE_MS = 2;
const ORT_SETTLE_MS = 100;
/** The idle pause before each sample of the "after idle" group. */
const IDLE_MS = 100;


const { createXent } = await import(new URL('../dist/index.js', import.meta.url));
const one = await createXent();
const two = await createXent({ threads: 2 });
if (two.threads !== 2) throw new Error(`createXent({ threads: 2 }) runs ${two.threads} thread(s) here`);
const backend = one.backend;

const machine = {
  cpuModel: os.cpus()[0]?.model?.trim() ?? 'unknown',
  cores: os.cpus().length,
  node: process.version,
  loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
  date: new Date().toISOString(),
};
const log = (message) => console.error(message);
log(`threads bench: ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, backend ${backend}, load ${machine.loadAverageAtStart.join(' ')}`);

/** The tasks of one shape and mode: { id, label, call, async?, settleMs? }. */
async function tasksFor(shape, mode, logits, labels) {
  const { rows, numClasses } = shape;
  const grad = mode === 'loss+grad';
  const tasks = [];
  for (const [threads, xent] of [[1, one], [2, two]]) {
    const batch = xent.createBatch(rows, numClasses);
    batch.logits.set(logits);
    batch.labels.set(labels);
    const batchOptions = { smoothing: SMOOTHING, grad };
    tasks.push({ id: `batch-t${threads}`, label: `zero-copy batch, ${threads} thread${threads > 1 ? 's' : ''}`, call: () => batch.crossEntropy(batchOptions), dispose: () => batch.dispose() });
    const options = { numClasses, smoothing: SMOOTHING, grad: grad ? new Float32Array(logits.length) : false };
    tasks.push({ id: `api-t${threads}`, label: `public API${grad ? ', grad into a reused array' : ''}, ${threads} thread${threads > 1 ? 's' : ''}`, call: () => xent.crossEntropy(logits, labels, options) });
    if (shape.rows * shape.numClasses <= 4096) {
      tasks.push({ id: `async-t${threads}`, label: `crossEntropyAsync, ${threads} thread${threads > 1 ? 's' : ''}`, async: true, call: () => xent.crossEntropyAsync(logits, labels, options) });
    }
  }
  for (const method of onnxruntimeMethods) {
    if (method.available() !== true) continue;
    const prepared = await method.prepare({ rows, numClasses, logits, labels, smoothing: SMOOTHING, grad });
    tasks.push({ id: method.id, label: method.label, async: true, settleMs: ORT_SETTLE_MS, call: prepared.call });
  }
  return tasks;
}

const rows = [];
for (const shape of args.shapes.split(',').map(parseShape)) {
  const { logits, labels } = makeInputs(shape.rows, shape.numClasses);
  const elements = shape.rows * shape.numClasses;
  for (const mode of args.modes.split(',')) {
    const tasks = await tasksFor(shape, mode, logits, labels);
    for (const start of ['warm', 'idle']) {
      const group = start === 'warm'
        ? tasks.map((task) => ({ ...task, warm: 1 }))
        : tasks.filter((task) => /^(batch|api)-t/.test(task.id)).map((task) => ({ ...task, settleMs: IDLE_MS }));
      const timed = await roundRobin(group, { timeMs: start === 'warm' ? timeMs : timeMs / 4, minSamples, sampleMs: start === 'warm' ? SAMPLE_MS : 0 });
      const loadAverage1m = Number(os.loadavg()[0].toFixed(2));
      for (const [i, task] of group.entries()) {
        const row = { shape: shape.id, mode, start, method: task.id, label: task.label, nsPerElement: (timed[i].medianMs * 1e6) / elements, medianMs: timed[i].medianMs, samples: timed[i].samples, loadAverage1m };
        rows.push(row);
        log(`${shape.id.padEnd(10)} ${mode.padEnd(9)} ${start.padEnd(4)} ${task.id.padEnd(26)} ${row.nsPerElement.toPrecision(4).padStart(9)} ns/el  (${row.samples} samples, load ${loadAverage1m})`);
      }
    }
    for (const task of tasks) task.dispose?.();
  }
}
machine.loadAverageAtEnd = os.loadavg().map((l) => Number(l.toFixed(2)));
const results = {
  schemaVersion: 1,
  machine,
  runtime: { backend, onnxruntime: onnxruntimeInfo() },
  config: {
    smoothing: SMOOTHING,
    timeMsPerTask: timeMs,
    minSamples,
    command: `node bench/threads.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    statistic: "median of round-robin samples; warm: a sample follows one untimed call of its method and is the mean of back-to-back calls lasting ≥ 2 ms; idle: a sample is one call after 100 ms idle",
  },
  results: rows,
};
const out = args.out ?? fileURLToPath(new URL('threads.json', import.meta.url));
writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
log(`wrote ${out}`);
console.log(threadsTables(results));
one.dispose();
two.dispose();
