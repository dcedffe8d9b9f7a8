#!/usr/bin/env node
/**
 * The class axis not last (`shape`, `classAxis`): segmentation logits N×C×H×W, loss + gradient
 * (ε = 0.1, mean, the gradient into a reused array) and loss only, three ways on the same values:
 *
 *   nchw       crossEntropy(logits, labels, { shape: [N, C, H, W], classAxis: 1 }): strided kernel
 *   nhwc       the same values already as rows (N·H·W × C), { numClasses: C }: the row kernels
 *   transpose  NCHW transposed into rows in JS, the rows call (gradient in place), and the
 *              gradient transposed back into NCHW: what a user without classAxis has to do
 *
 *   npm run build && node bench/layout.mjs            # 4×21×128×128, writes bench/layout.json
 *   node bench/layout.mjs --shapes 4x21x128x128,8x150x64x64 --time 3000 --backend wasm-simd
 *   node bench/layout.mjs --shapes 8x1000x512 --soft  # N×C×T (any rank ≥ 3, class axis 1); --soft
 *                                                     # adds softCrossEntropy rows (targets laid out as the logits)
 *   node bench/layout.mjs --dtypes                    # adds 16-bit logits with the class axis at 1: float32,
 *                                                     # float16 (Uint16Array bits), bfloat16, and float16 with a
 *                                                     # float16 gradient, side by side (table 2)
 *
 * Timed ROUND-ROBIN (bench/round-robin.mjs: one sample of each task in turn, a GC before each
 * round) so that the load's drift on this shared VM is charged to all three alike; the load
 * average is recorded.
 * Bars (issue 12): nchw within 1.3× of nhwc, and ≥ 3× faster than transpose.
 */
import os from 'node:os';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { RELAXED_FLAG, relaxedSimdEnabled } from '../scripts/relaxed-simd.mjs';
import { roundRobin } from './round-robin.mjs';

const { values: args } = parseArgs({
  options: {
    shapes: { type: 'string', default: '4x21x128x128' },
    time: { type: 'string', default: '3000' },
    'min-samples': { type: 'string', default: '21' },
    backend: { type: 'string' },
    soft: { type: 'boolean', default: false },
    dtypes: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

// Node 20 runs relaxed SIMD only with the flag (not allowed in NODE_OPTIONS): re-execute once.
if (!relaxedSimdEnabled() && !process.env.SMOOTHXENT_BENCH_REEXEC && !args.backend) {
  const child = spawnSync(process.execPath, [RELAXED_FLAG, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit', env: { ...process.env, SMOOTHXENT_BENCH_REEXEC: '1' },
  });
  process.exit(child.status ?? 1);
}

const { createXent } = await import(new URL('../dist/index.js', import.meta.url));
const xent = await createXent(args.backend ? { backend: args.backend } : {});
const timeMs = Number(args.time);
const minSamples = Number(args['min-samples']);
const SMOOTHING = 0.1;

/** [N][C][inner] → (N·inner)×C rows, reading contiguously. */
function toRows(z, N, C, inner, rows) {
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const from = (n * C + c) * inner;
      const to = n * inner * C + c;
      for (let i = 0; i < inner; i++) rows[to + i * C] = z[from + i];
    }
  }
  return rows;
}

/** The inverse, writing contiguously. */
function fromRows(rows, N, C, inner, z) {
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const to = (n * C + c) * inner;
      const from = n * inner * C + c;
      for (let i = 0; i < inner; i++) z[to + i] = rows[from + i * C];
    }
  }
  return z;
}

const results = [];
const dtypeResults = [];
const load = os.loadavg();
for (const spec of args.shapes.split(',')) {
  const dims = spec.split('x').map(Number);
  const [N, C] = dims;
  const inner = dims.slice(2).reduce((a, b) => a * b, 1);
  let seed = 1;
  const random = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const logits = Float32Array.from({ length: N * C * inner }, () => (random() - 0.5) * 8);
  const labels = Int32Array.from({ length: N * inner }, () => Math.floor(random() * C));
  const rows = toRows(logits, N, C, inner, new Float32Array(logits.length));
  const grad = new Float32Array(logits.length);
  const scratch = new Float32Array(logits.length);
  const shaped = { shape: dims, classAxis: 1, smoothing: SMOOTHING };
  const plain = { numClasses: C, smoothing: SMOOTHING };
  // Soft targets: a normalised random distribution per position, laid out as the logits.
  const targetRows = new Float32Array(args.soft ? logits.length : 0);
  for (let p = 0; p < targetRows.length / C; p++) {
    let sum = 0;
    for (let c = 0; c < C; c++) sum += targetRows[p * C + c] = random();
    for (let c = 0; c < C; c++) targetRows[p * C + c] /= sum;
  }
  const targets = args.soft ? fromRows(targetRows, N, C, inner, new Float32Array(logits.length)) : null;
  const targetScratch = new Float32Array(targetRows.length);
  // The three agree (the strided call equals the rows call bit for bit; test/layout.test.ts).
  const a = xent.crossEntropy(logits, labels, { ...shaped, grad }).loss;
  const b = xent.crossEntropy(rows, labels, plain).loss;
  if (!Object.is(a, b)) throw new Error(`nchw ${a} ≠ nhwc ${b}`);
  const modes = ['loss+grad', 'loss', ...(args.soft ? ['soft loss+grad', 'soft loss'] : [])];
  for (const mode of modes) {
    const withGrad = mode.endsWith('loss+grad');
    const soft = mode.startsWith('soft');
    const run = (z, strided, options) => (soft ? xent.softCrossEntropy(z, strided ? targets : targetRows, options) : xent.crossEntropy(z, labels, options));
    const tasks = [
      { name: 'nchw', call: () => run(logits, true, withGrad ? { ...shaped, grad } : shaped) },
      { name: 'nhwc', call: () => run(rows, false, withGrad ? { ...plain, grad } : plain) },
      {
        name: 'transpose',
        call: () => {
          toRows(logits, N, C, inner, scratch);
          if (soft) toRows(targets, N, C, inner, targetScratch);
          const options = withGrad ? { ...plain, grad: 'inplace' } : plain;
          const result = soft ? xent.softCrossEntropy(scratch, targetScratch, options) : xent.crossEntropy(scratch, labels, options);
          if (withGrad) fromRows(scratch, N, C, inner, grad);
          return result;
        },
      },
    ];
    const [nchw, nhwc, transpose] = (await roundRobin(tasks, { timeMs, minSamples })).map((timed) => timed.medianMs);
    results.push({ shape: spec, mode, ms: { nchw, nhwc, transpose }, nchwOverNhwc: nchw / nhwc, transposeOverNchw: transpose / nchw });
  }
  if (!args.dtypes) continue;
  // 16-bit logits, the class axis at 1: the bits of the float32 logits' values rounded (the
  // JS encoder of the package's fallback), the same call with dtype.
  const { encodeHalf } = await import(new URL('../dist/js/half.js', import.meta.url));
  const bits = { float16: new Uint16Array(logits.length), bfloat16: new Uint16Array(logits.length) };
  for (const format of ['float16', 'bfloat16']) encodeHalf(logits, 0, logits.length, format, bits[format], 0);
  const grad16 = new Uint16Array(logits.length);
  for (const mode of ['loss+grad', 'loss']) {
    const withGrad = mode === 'loss+grad';
    const o = (extra) => ({ ...shaped, ...(withGrad ? { grad } : {}), ...extra });
    const tasks = [
      { name: 'float32', call: () => xent.crossEntropy(logits, labels, o({})) },
      { name: 'float16', call: () => xent.crossEntropy(bits.float16, labels, o({ dtype: 'float16' })) },
      { name: 'bfloat16', call: () => xent.crossEntropy(bits.bfloat16, labels, o({ dtype: 'bfloat16' })) },
      ...(withGrad ? [{ name: 'float16, float16 grad', call: () => xent.crossEntropy(bits.float16, labels, { ...shaped, dtype: 'float16', grad: grad16 }) }] : []),
    ];
    const ms = (await roundRobin(tasks, { timeMs, minSamples })).map((timed) => timed.medianMs);
    dtypeResults.push({ shape: spec, mode, ms: Object.fromEntries(tasks.map((t, i) => [t.name, ms[i]])) });
  }
}

const loadAfter = os.loadavg();
console.log(`backend ${xent.backend}, Node ${process.version}, ${os.cpus()[0]?.model?.trim()} × ${os.cpus().length}, load average ${load[0].toFixed(2)} → ${loadAfter[0].toFixed(2)}`);
console.log('| shape (class axis 1) | mode | NCHW classAxis 1 (ms) | NHWC rows (ms) | JS transpose + call (ms) | NCHW ÷ NHWC | transpose ÷ NCHW |');
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(`| ${r.shape.replaceAll('x', '×')} | ${r.mode} | ${r.ms.nchw.toFixed(2)} | ${r.ms.nhwc.toFixed(2)} | ${r.ms.transpose.toFixed(2)} | ${r.nchwOverNhwc.toFixed(2)} | ${r.transposeOverNchw.toFixed(2)} |`);
}
if (dtypeResults.length > 0) {
  console.log('\n| shape (class axis 1) | mode | float32 (ms) | float16 | bfloat16 | float16, float16 grad |');
  console.log('|---|---|---:|---:|---:|---:|');
  for (const r of dtypeResults) {
    const f = r.ms.float32;
    const cell = (name) => (r.ms[name] === undefined ? '—' : `${r.ms[name].toFixed(2)} (${(r.ms[name] / f).toFixed(2)}×)`);
    console.log(`| ${r.shape.replaceAll('x', '×')} | ${r.mode} | ${f.toFixed(2)} | ${cell('float16')} | ${cell('bfloat16')} | ${cell('float16, float16 grad')} |`);
  }
}
const out = args.out ?? fileURLToPath(new URL('./layout.json', import.meta.url));
writeFileSync(out, JSON.stringify({ backend: xent.backend, node: process.version, loadBefore: load, loadAfter, statistic: 'median of round-robin samples, ms per call', results, dtypeResults }, null, 2) + '\n');
xent.dispose();
