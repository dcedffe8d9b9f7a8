#!/usr/bin/env node
/**
 * Evaluation benchmark (issue 9): `xent.evaluate` (and rowStats, softmax) against
 * `crossEntropy` loss-only on the same data and backend, and against a hand-written JS
 * evaluation (bench/peers/handwritten-eval.mjs), side by side in one process; then
 * `fitTemperature` at 4096×1000: passes and time.
 *
 *   npm run bench:eval                       # build, then this
 *   node bench/eval.mjs --shapes 4096x1000 --time 300
 *
 * Like bench/run.mjs, when this Node cannot run relaxed SIMD as it stands but knows the flag
 * it re-executes itself once with --experimental-wasm-relaxed-simd (Node 20). Prints markdown tables: median
 * ns per logit, and the ratios the issue asks for.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Bench } from 'tinybench';
import { createXent } from '../dist/index.js';
import { makeInputs, parseShape } from './data.mjs';
import { handwrittenEvaluate } from './peers/handwritten-eval.mjs';
import { RELAXED_FLAG, relaxedSimdEnabled } from '../scripts/relaxed-simd.mjs';

const { values: args } = parseArgs({
  options: {
    shapes: { type: 'string', default: '8192x10,4096x1000,512x32000' },
    time: { type: 'string', default: '500' },
    'fit-shape': { type: 'string', default: '4096x1000' },
  },
});

if (!relaxedSimdEnabled() && !process.env.SMOOTHXENT_EVAL_REEXEC && spawnSync(process.execPath, [RELAXED_FLAG, '-e', ''], { stdio: 'ignore' }).status === 0) {
  const child = spawnSync(process.execPath, [RELAXED_FLAG, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, SMOOTHXENT_EVAL_REEXEC: '1' },
  });
  process.exit(child.status ?? 1);
}

const relaxed = relaxedSimdEnabled() ? await createXent({ backend: 'wasm-relaxed-simd' }) : null;
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc');
const SMOOTHING = 0.1;
const backends = { 'wasm-simd': await createXent({ backend: 'wasm-simd' }), js: await createXent({ backend: 'js' }) };
if (relaxed) backends['wasm-relaxed-simd'] = relaxed;

/** The timed calls of one shape: [id, label, call]. */
function tasks(rows, numClasses, logits, labels) {
  const list = [];
  const options = { numClasses, smoothing: SMOOTHING };
  for (const [name, xent] of Object.entries(backends)) {
    list.push([`loss-${name}`, `crossEntropy loss only, ${name}`, () => xent.crossEntropy(logits, labels, options)]);
    list.push([`evaluate-${name}`, `evaluate (ε = 0.1), ${name}`, () => xent.evaluate(logits, labels, options)]);
  }
  const simd = backends['wasm-simd'];
  const ev = simd.createEvaluator(options);
  list.push(['evaluate-defaults', 'evaluate (defaults: ε = 0), wasm-simd', () => simd.evaluate(logits, labels, { numClasses })]);
  list.push(['evaluator-add', 'evaluator.add + result (reused), wasm-simd', () => { ev.reset(); ev.add(logits, labels); return ev.result(); }]);
  list.push(['rowstats', 'rowStats with labels, wasm-simd', () => simd.rowStats(logits, labels, { numClasses })]);
  const out = new Float32Array(logits.length);
  list.push(['softmax', 'softmax into a reused array, wasm-simd', () => simd.softmax(logits, { numClasses, out })]);
  list.push(['handwritten', 'hand-written JS evaluation (Math.exp)', () => handwrittenEvaluate(logits, labels, rows, numClasses)]);
  return list;
}

function check(rows, numClasses, logits, labels) {
  const mine = backends['wasm-simd'].evaluate(logits, labels, { numClasses });
  const theirs = handwrittenEvaluate(logits, labels, rows, numClasses);
  for (const key of ['nll', 'accuracy', 'meanConfidence', 'brier', 'entropy', 'ece']) {
    if (!(Math.abs(mine[key] - theirs[key]) <= 1e-5 * Math.max(1, Math.abs(theirs[key])))) {
      throw new Error(`hand-written evaluation disagrees on ${key}: ${theirs[key]} vs ${mine[key]}`);
    }
  }
}

const median = (task) => task.result.latency.p50;

/**
 * The ratio a ÷ b measured in alternation: `rounds` pairs of back-to-back calls, the median of
 * the per-pair ratios. Robust to a load that changes while tinybench runs its tasks one after
 * the other (this machine is shared).
 */
function pairedRatio(a, b, rounds = 41) {
  const ratios = [];
  for (let i = 0; i < rounds; i++) {
    let t = performance.now();
    a();
    const ta = performance.now() - t;
    t = performance.now();
    b();
    ratios.push(ta / (performance.now() - t));
  }
  ratios.sort((x, y) => x - y);
  return ratios[rounds >> 1];
}
const format = (v) => (v >= 100 ? Math.round(v).toString() : v.toPrecision(3));

console.log(`Machine: ${os.cpus()[0].model.trim()}, ${os.cpus().length} cores, Node ${process.version}; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at start.`);
console.log(`Command: node ${process.execArgv.join(' ')} bench/eval.mjs ${process.argv.slice(2).join(' ')}`.replace(/\s+/g, ' ').trim() + '\n');
const shapes = args.shapes.split(',').map(parseShape);
const rowsByTask = new Map();
const paired = new Map();
for (const shape of shapes) {
  const { logits, labels } = makeInputs(shape.rows, shape.numClasses);
  check(shape.rows, shape.numClasses, logits, labels);
  const bench = new Bench({ time: Number(args.time), warmupTime: 100 });
  const list = tasks(shape.rows, shape.numClasses, logits, labels);
  for (const [id, , call] of list) bench.add(id, call, { beforeAll: collectGarbage });
  await bench.run();
  for (const [name] of Object.entries(backends)) {
    const find = (id) => list.find(([taskId]) => taskId === id)[2];
    paired.set(`${name} ${shape.id}`, pairedRatio(find(`evaluate-${name}`), find(`loss-${name}`)));
  }
  for (const [id, label] of list) {
    const task = bench.tasks.find((t) => t.name === id);
    if (!rowsByTask.has(id)) rowsByTask.set(id, { label, ns: {} });
    rowsByTask.get(id).ns[shape.id] = (median(task) * 1e6) / (shape.rows * shape.numClasses);
  }
  console.error(`${shape.label} done (load ${os.loadavg()[0].toFixed(2)})`);
}

const header = `| method | ${shapes.map((s) => s.label).join(' | ')} |\n|---|${shapes.map(() => '---:').join('|')}|`;
console.log('ns per logit, median of tinybench samples:\n');
console.log(header);
for (const { label, ns } of rowsByTask.values()) console.log(`| ${label} | ${shapes.map((s) => format(ns[s.id])).join(' | ')} |`);
const ns = (id, shape) => rowsByTask.get(id)?.ns[shape.id];
console.log('\nRatios (same run, same data):\n');
console.log(header);
for (const name of Object.keys(backends)) {
  console.log(`| evaluate ÷ crossEntropy loss only, ${name} | ${shapes.map((s) => format(ns(`evaluate-${name}`, s) / ns(`loss-${name}`, s)) + '×').join(' | ')} |`);
}
for (const name of Object.keys(backends)) {
  console.log(`| evaluate ÷ crossEntropy loss only, ${name}, paired (median of 41 alternating pairs) | ${shapes.map((s) => format(paired.get(`${name} ${s.id}`)) + '×').join(' | ')} |`);
}
for (const name of Object.keys(backends)) {
  console.log(`| hand-written JS ÷ evaluate ${name} (speed-up) | ${shapes.map((s) => format(ns('handwritten', s) / ns(`evaluate-${name}`, s)) + '×').join(' | ')} |`);
}

// fitTemperature: passes and time.
const fitShape = parseShape(args['fit-shape']);
// A classifier's logits: the label's logit raised by 0–8 (bench/data.mjs's labels are unrelated
// to its logits, whose best temperature is the upper bound).
const { logits, labels } = makeInputs(fitShape.rows, fitShape.numClasses);
for (let r = 0; r < fitShape.rows; r++) logits[r * fitShape.numClasses + labels[r]] += 8 * ((r * 7919) % 1000) / 1000;
console.log(`\nfitTemperature at ${fitShape.label} (median of 5 calls):\n`);
console.log('| backend | temperature | Newton passes | + ECE passes | time (ms) | ms per pass |\n|---|---:|---:|---:|---:|---:|');
for (const [name, xent] of Object.entries(backends)) {
  const times = [];
  let fit;
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    fit = xent.fitTemperature(logits, labels, { numClasses: fitShape.numClasses });
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const ms = times[2];
  console.log(`| ${name} | ${fit.temperature.toPrecision(6)} | ${fit.iterations} | 2 | ${ms.toFixed(1)} | ${(ms / (fit.iterations + 2)).toFixed(2)} |`);
}
console.log(`\nLoad at end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
