#!/usr/bin/env node
/**
 * 16-bit logits against float32, round-robin: `crossEntropy` on the same logits as float32, as
 * float16 bits and as bfloat16 bits (Uint16Array + dtype), loss only and loss + gradient (into
 * a reused Float32Array, and into a reused 16-bit array of the logits' dtype), one slice of
 * calls of each in turn, alternating the order; each slice's time is this process's CPU time
 * (not wall time: time the core gave to other processes on the shared VM is not charged), and
 * the ratio is the median slice time over the float32 call's.
 *
 *   npm run build && node --experimental-wasm-relaxed-simd bench/dtype.mjs   # Node 20 (Node ≥ 22: no flag)
 *   node bench/dtype.mjs --backend wasm-simd --slices 21 --shapes 4096x1000,512x32000
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { makeInputs, parseShape } from './data.mjs';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'auto' },
    slices: { type: 'string', default: '15' },
    calls: { type: 'string', default: '5' },
    shapes: { type: 'string', default: '4096x1000,512x32000' },
  },
});
const { createXent } = await import(new URL('../dist/index.js', import.meta.url));
const { encodeHalf } = await import(new URL('../dist/js/half.js', import.meta.url));
const xent = await createXent({ backend: args.backend });
const slices = Number(args.slices);
const perSlice = Number(args.calls);
const median = (values) => values.slice().sort((a, b) => a - b)[values.length >> 1];

console.log(`bench/dtype.mjs: ${os.cpus()[0]?.model?.trim()}, ${os.cpus().length} cores, Node ${process.version}, backend ${xent.backend}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`${slices} slices × ${perSlice} calls per method, median ns per logit (CPU time), ratio to the float32 call\n`);
console.log('| shape | mode | float32 | float16 | bfloat16 | float16, float16 grad | bfloat16, bfloat16 grad |');
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const shape of args.shapes.split(',').map(parseShape)) {
  const { rows, numClasses } = shape;
  const { logits, labels } = makeInputs(rows, numClasses);
  const bits = {};
  for (const dtype of ['float16', 'bfloat16']) {
    bits[dtype] = new Uint16Array(logits.length);
    encodeHalf(logits, 0, logits.length, dtype, bits[dtype], 0);
  }
  const grad32 = new Float32Array(logits.length);
  const grad16 = new Uint16Array(logits.length);
  for (const mode of ['loss', 'loss+grad']) {
    const options = { numClasses, smoothing: 0.1 };
    const withGrad = (grad) => (mode === 'loss' ? options : { ...options, grad });
    const calls = {
      float32: () => xent.crossEntropy(logits, labels, withGrad(grad32)),
      float16: () => xent.crossEntropy(bits.float16, labels, { ...withGrad(grad32), dtype: 'float16' }),
      bfloat16: () => xent.crossEntropy(bits.bfloat16, labels, { ...withGrad(grad32), dtype: 'bfloat16' }),
      ...(mode === 'loss' ? {} : {
        'float16, float16 grad': () => xent.crossEntropy(bits.float16, labels, { ...options, dtype: 'float16', grad: grad16 }),
        'bfloat16, bfloat16 grad': () => xent.crossEntropy(bits.bfloat16, labels, { ...options, dtype: 'bfloat16', grad: grad16 }),
      }),
    };
    const names = Object.keys(calls);
    const times = Object.fromEntries(names.map((name) => [name, []]));
    for (const call of Object.values(calls)) for (let i = 0; i < 3; i++) call(); // warm-up
    for (let s = 0; s < slices; s++) {
      for (const name of s % 2 ? names.slice().reverse() : names) {
        const start = process.cpuUsage();
        for (let i = 0; i < perSlice; i++) calls[name]();
        const used = process.cpuUsage(start);
        times[name].push(((used.user + used.system) * 1e3) / (perSlice * rows * numClasses));
      }
    }
    const base = median(times.float32);
    const cell = (name) => (times[name] ? `${median(times[name]).toFixed(2)} (${(median(times[name]) / base).toFixed(2)}×)` : '—');
    console.log(`| ${shape.label} | ${mode} | ${cell('float32')} | ${cell('float16')} | ${cell('bfloat16')} | ${cell('float16, float16 grad')} | ${cell('bfloat16, bfloat16 grad')} |`);
  }
}
console.log(`\nload at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
xent.dispose();
