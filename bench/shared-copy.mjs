#!/usr/bin/env node
/**
 * How fast this runtime copies a caller's Float32Array into wasm memory, plain and shared
 * (what the public API does on the calling thread for every chunk; README "What these figures
 * say"): GB/s of TypedArray.prototype.set of `--mb` MiB, in and out, alternating plain and
 * shared so both see the same machine.
 *
 *   node bench/shared-copy.mjs [--mb 16] [--reps 30]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { mb: { type: 'string', default: '16' }, reps: { type: 'string', default: '30' } } });
const bytes = Number(args.mb) * 2 ** 20;
const reps = Number(args.reps);
const pages = Math.ceil(bytes / 65536);
const memories = {
  plain: new WebAssembly.Memory({ initial: pages }),
  shared: new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }),
};
const caller = new Float32Array(bytes / 4).map((_, i) => i * 1e-3);
const back = new Float32Array(bytes / 4);
const times = { plain: { in: [], out: [] }, shared: { in: [], out: [] } };
for (let r = 0; r < reps; r++) {
  for (const kind of r % 2 ? ['shared', 'plain'] : ['plain', 'shared']) {
    const view = new Float32Array(memories[kind].buffer, 0, caller.length);
    let t = performance.now();
    view.set(caller);
    times[kind].in.push(performance.now() - t);
    t = performance.now();
    back.set(view);
    times[kind].out.push(performance.now() - t);
  }
}
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
const gbps = (ms) => (bytes / 1e9 / (ms / 1000)).toFixed(1);
console.log(`${args.mb} MiB, ${reps} reps, Node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log('| memory | copy in (GB/s) | copy out (GB/s) |\n|---|---:|---:|');
for (const kind of ['plain', 'shared']) console.log(`| ${kind} | ${gbps(median(times[kind].in))} | ${gbps(median(times[kind].out))} |`);
