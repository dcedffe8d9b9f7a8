#!/usr/bin/env node
/**
 * A/B: two builds of smoothxent side by side in one process, for a kernel change that must
 * not cost speed. A is another built checkout (its dist/), B this one; both run the same
 * calls on the same inputs, in short alternating slices (A B B A A B …), and the table gives
 * the median over slices of B's time ÷ A's time (1.000 = no change, > 1 = B slower).
 *
 * Time is this process's CPU time (process.cpuUsage), not wall time: on a shared machine the
 * wall clock also counts the time other processes held the core, which is noise to a ratio
 * (caches and memory bandwidth are still shared: quote the load average with the figures).
 *
 *   # a built checkout of the base, e.g. main:
 *   mkdir /tmp/ab-base && git archive main | tar -x -C /tmp/ab-base
 *   ln -s "$PWD/node_modules" /tmp/ab-base/node_modules && (cd /tmp/ab-base && npm run build)
 *   npm run build && node --experimental-wasm-relaxed-simd bench/ab.mjs --base /tmp/ab-base
 *
 * Options: --head DIR (B, default this checkout), --shapes (default 8192x10,4096x1000,512x32000), --backends (default
 * wasm-relaxed-simd,wasm-simd,wasm,js; ones this runtime lacks are skipped), --modes
 * (loss+grad,loss), --calls (hard: crossEntropy on a zero-copy batch, the kernel alone;
 * soft: softCrossEntropy through the public API with a reused grad array), --slices (40 per
 * build), --time (ms per slice, 25), --smoothing (0.1).
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { makeInputs, parseShape } from './data.mjs';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    head: { type: 'string', default: fileURLToPath(new URL('..', import.meta.url)) },
    shapes: { type: 'string', default: '8192x10,4096x1000,512x32000' },
    backends: { type: 'string', default: 'wasm-relaxed-simd,wasm-simd,wasm,js' },
    modes: { type: 'string', default: 'loss+grad,loss' },
    calls: { type: 'string', default: 'hard' },
    slices: { type: 'string', default: '40' },
    time: { type: 'string', default: '25' },
    smoothing: { type: 'string', default: '0.1' },
  },
});
if (!args.base) throw new Error('--base DIR: a built checkout to compare with (see the header of bench/ab.mjs)');

const builds = {
  A: await import(pathToFileURL(path.resolve(args.base, 'dist/index.js')).href),
  B: await import(pathToFileURL(path.resolve(args.head, 'dist/index.js')).href),
};
const smoothing = Number(args.smoothing);
const slices = Number(args.slices);
const sliceMs = Number(args.time);
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const cpuMicros = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/** CPU µs per call over one slice of about sliceMs of calls (at least 2). */
function slice(run, calls) {
  const start = cpuMicros();
  for (let i = 0; i < calls; i++) run();
  return (cpuMicros() - start) / calls;
}

/** Calls per slice for `run`, from a timed warm-up. */
function callsPerSlice(run) {
  let calls = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < calls; i++) run();
    const elapsed = performance.now() - start;
    if (elapsed >= sliceMs / 4) return Math.max(2, Math.round((calls * sliceMs) / elapsed));
    calls *= 2;
  }
}

/** One timed function per build: the call, with its inputs prepared outside the timing. */
async function prepare(build, backend, call, mode, rows, numClasses, logits, labels) {
  const xent = await build.createXent({ backend });
  if (call === 'hard') {
    const batch = xent.createBatch(rows, numClasses);
    batch.logits.set(logits);
    batch.labels.set(labels);
    const options = { smoothing, grad: mode === 'loss+grad' };
    return { run: () => batch.crossEntropy(options), dispose: () => batch.dispose() };
  }
  const targets = new Float32Array(rows * numClasses);
  for (let i = 0; i < rows; i++) targets[i * numClasses + labels[i]] = 1;
  const options = { numClasses, smoothing, grad: mode === 'loss+grad' ? new Float32Array(rows * numClasses) : false };
  return { run: () => xent.softCrossEntropy(logits, targets, options), dispose: () => {} };
}

console.log(`A: ${path.resolve(args.base)}  B: ${path.resolve(args.head)}`);
console.log(`${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}; load average at start ${load()}`);
console.log(`${slices} slices of ~${sliceMs} ms per build, alternating; CPU ns per logit (median slice); ε = ${smoothing}\n`);
console.log('| call | shape | backend | mode | A ns/logit | B ns/logit | B ÷ A (median of slice pairs) | quartiles of B ÷ A |');
console.log('|---|---|---|---|---:|---:|---:|---|');
for (const call of args.calls.split(',')) {
  for (const shapeText of args.shapes.split(',')) {
    const { rows, numClasses, label } = parseShape(shapeText);
    const { logits, labels } = makeInputs(rows, numClasses);
    for (const backend of args.backends.split(',')) {
      for (const mode of args.modes.split(',')) {
        let tasks;
        try {
          tasks = { A: await prepare(builds.A, backend, call, mode, rows, numClasses, logits, labels), B: await prepare(builds.B, backend, call, mode, rows, numClasses, logits, labels) };
        } catch (error) {
          console.log(`| ${call} | ${label} | ${backend} | ${mode} | unavailable: ${error.message.split('\n')[0]} | | | |`);
          continue;
        }
        const calls = callsPerSlice(tasks.A.run);
        callsPerSlice(tasks.B.run);
        const times = { A: [], B: [] };
        for (let i = 0; i < slices; i++) {
          // A B, B A, A B, …: neither build always runs first after the other.
          for (const which of i % 2 ? ['B', 'A'] : ['A', 'B']) times[which].push(slice(tasks[which].run, calls));
        }
        const perLogit = (micros) => (micros * 1e3) / (rows * numClasses);
        const ratios = times.B.map((b, i) => b / times.A[i]).sort((a, b) => a - b);
        const quartile = (q) => ratios[Math.min(ratios.length - 1, Math.floor(q * ratios.length))].toFixed(3);
        console.log(`| ${call} | ${label} | ${backend} | ${mode} | ${perLogit(median(times.A)).toFixed(3)} | ${perLogit(median(times.B)).toFixed(3)} | ${median(ratios).toFixed(3)} | ${quartile(0.25)} – ${quartile(0.75)} |`);
        tasks.A.dispose();
        tasks.B.dispose();
      }
    }
  }
}
console.log(`\nload average at end ${load()}`);
