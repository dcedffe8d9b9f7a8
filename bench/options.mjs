#!/usr/bin/env node
/**
 * What each training-loop option costs, and that the ones that are off cost nothing:
 * the same call with every option at its default, with the defaults spelled out, and with
 * one option switched on at a time — side by side in one process, per backend.
 *
 *   npm run build && node bench/options.mjs              # 4096x1000 and 8192x10
 *   node bench/options.mjs --shapes 512x32000 --time 300
 *
 * Prints a markdown table of median ns per logit and the ratio to the all-defaults call.
 */
import { parseArgs } from 'node:util';
import { Bench } from 'tinybench';
import { createXent } from '../dist/index.js';
import { makeInputs, parseShape } from './data.mjs';

const { values: args } = parseArgs({
  options: {
    shapes: { type: 'string', default: '4096x1000,8192x10' },
    backends: { type: 'string', default: 'wasm-simd,js' },
    time: { type: 'string', default: '400' },
  },
});

const SMOOTHING = 0.1;

/** Variants: a name and the options on top of { numClasses, smoothing: 0.1, grad }. */
function variants(rows, numClasses, logits) {
  const weight = new Float32Array(numClasses).map((_, k) => 0.5 + (k % 7) / 7);
  return [
    ['all defaults (baseline)', {}],
    ['defaults spelled out', { ignoreIndex: -100, zLoss: 0, gradScale: 1, reduction: 'mean', lse: false }],
    ['ignoreIndex, 10 % rows ignored', { ignoreIndex: -1, ignoredShare: 0.1 }],
    ['weight', { weight }],
    ['zLoss 1e-4', { zLoss: 1e-4 }],
    ['softcap 30', { softcap: 30 }],
    ['gradScale 0.5', { gradScale: 0.5 }],
    ["grad: 'inplace'", { grad: 'inplace', copy: logits }],
    ['lse: true', { lse: true }],
    ["reduction 'none'", { reduction: 'none' }],
  ];
}

const median = (task) => task.result.latency.p50;

for (const shape of args.shapes.split(',')) {
  const { rows, numClasses } = parseShape(shape);
  const { logits, labels } = makeInputs(rows, numClasses);
  const lines = [];
  for (const backend of args.backends.split(',')) {
    const xent = await createXent({ backend });
    const grad = new Float32Array(rows * numClasses);
    const bench = new Bench({ time: Number(args.time), warmupTime: 100 });
    for (const [name, extra] of variants(rows, numClasses, logits)) {
      const { ignoredShare, copy, ...options } = extra;
      const theseLabels = ignoredShare ? labels.map((y, i) => (i % Math.round(1 / ignoredShare) === 0 ? -1 : y)) : labels;
      const input = copy ? copy.slice() : logits;
      const call = { numClasses, smoothing: SMOOTHING, grad, ...options };
      // 'inplace' overwrites its input, so it runs on a copy whose values become the previous
      // call's gradient: smaller numbers, the same finite work per logit.
      bench.add(`${backend}: ${name}`, () => {
        xent.crossEntropy(input, theseLabels, call);
      });
    }
    await bench.run();
    const base = median(bench.tasks[0]);
    for (const task of bench.tasks) {
      const ns = (median(task) * 1e6) / (rows * numClasses);
      lines.push(`| ${task.name} | ${ns.toFixed(3)} | ${(median(task) / base).toFixed(3)} |`);
    }
  }
  console.log(`\n### ${rows}×${numClasses}, ε = ${SMOOTHING}, mean, loss + gradient (${process.version})\n`);
  console.log('| backend: options | ns/logit (median) | × all defaults |');
  console.log('|---|---:|---:|');
  for (const line of lines) console.log(line);
}
