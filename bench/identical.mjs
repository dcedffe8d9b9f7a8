#!/usr/bin/env node
/**
 * Bit identity of two builds: a kernel change meant for speed alone must give every result
 * bit for bit as before. Loads another built checkout (A, --base DIR) and this one (B), runs
 * the same random inputs through both on every wasm backend (and js), for every option,
 * reduction and kernel path (small K four rows per vector, the row-wise kernel, rows < 4,
 * ties at the max inside and outside the max's chunk, confident rows, ±∞, NaN, softcap,
 * soft targets, softmax, rowStats, evaluate), and compares the bits of every output (NaN
 * against NaN of any sign or payload).
 *
 *   node --experimental-wasm-relaxed-simd bench/identical.mjs --base /tmp/ab-base   # Node 20
 *
 * Options: --base DIR (A), --head DIR (B, default this checkout), --cases N (random option
 * sets per shape, 6), --seed S. Exits 1 on the first list of differences it prints.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { mulberry32 } from './data.mjs';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    head: { type: 'string', default: fileURLToPath(new URL('..', import.meta.url)) },
    cases: { type: 'string', default: '6' },
    seed: { type: 'string', default: '1' },
    backends: { type: 'string', default: 'wasm-relaxed-simd,wasm-simd,wasm,js' },
  },
});
if (!args.base) throw new Error('--base DIR: a built checkout to compare with');
const A = await import(pathToFileURL(path.resolve(args.base, 'dist/index.js')).href);
const B = await import(pathToFileURL(path.resolve(args.head, 'dist/index.js')).href);

const random = mulberry32(Number(args.seed));
const pick = (list) => list[Math.floor(random() * list.length)];
const normal = () => random() + random() + random() - 1.5;

/** Logits of one kind: each stresses a path of the kernels. */
function makeLogits(kind, rows, K) {
  const z = new Float32Array(rows * K);
  for (let r = 0; r < rows; r++) {
    const row = z.subarray(r * K, (r + 1) * K);
    const sigma = kind === 'wide' ? 20 : 4;
    for (let k = 0; k < K; k++) row[k] = normal() * sigma;
    const top = Math.floor(random() * K);
    switch (kind) {
      case 'confident': row[top] += 8 + random() * 30; break; // the exact pass, loss ~1e-4 … 1e-17
      case 'extreme': row[top] += 60 + random() * 60; break; // loss below 1e-30, exps underflow
      case 'borderline': row[top] = Math.max(...row) + 5.5 + random(); break; // runner-up gap ≈ 6
      case 'ties': { // ties at the max: near it (same chunk) and far from it
        const m = Math.max(...row) + random() * 3;
        row[top] = m;
        const extra = 1 + Math.floor(random() * 3);
        for (let i = 0; i < extra; i++) row[Math.floor(random() * K)] = m;
        if (random() < 0.5) row[(top + 64 + Math.floor(random() * 200)) % K] = m;
        if (random() < 0.5) row[K - 1] = m; // the K mod 4 tail
        break;
      }
      case 'integers': for (let k = 0; k < K; k++) row[k] = Math.round(row[k] / 2); break; // many ties
      case 'offset': for (let k = 0; k < K; k++) row[k] += 3000; break; // large, nearly equal logits
      case 'special': { // −∞ (masked), and now and then +∞ or NaN
        for (let k = 0; k < K; k++) if (random() < 0.2) row[k] = -Infinity;
        const u = random();
        if (u < 0.1) row[Math.floor(random() * K)] = Infinity;
        else if (u < 0.2) row[Math.floor(random() * K)] = NaN;
        else if (u < 0.25) row.fill(-Infinity);
        break;
      }
      default: break;
    }
  }
  return z;
}

function makeLabels(rows, K, ignoreIndex, ignoreShare) {
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) y[r] = random() < ignoreShare ? ignoreIndex : Math.floor(random() * K);
  return y;
}

function makeTargets(rows, K, oneHot) {
  const t = new Float32Array(rows * K);
  for (let r = 0; r < rows; r++) {
    if (oneHot) {
      t[r * K + Math.floor(random() * K)] = 1;
      continue;
    }
    let sum = 0;
    for (let k = 0; k < K; k++) {
      const v = random() < 0.3 ? 0 : random();
      t[r * K + k] = v;
      sum += v;
    }
    for (let k = 0; k < K; k++) t[r * K + k] = sum > 0 ? t[r * K + k] / sum : 0;
  }
  return t;
}

/** The bits of a result, flattened: [path, Uint32Array | Float64Array bits]. */
// A NaN's sign and payload are not compared: V8 gives the same computation a NaN of either
// sign depending on which tier (Liftoff or TurboFan) compiled the function when it ran.
function bitsOf(value, at = '', out = []) {
  if (value instanceof Float32Array) {
    const bits = new Uint32Array(value.length);
    for (let i = 0; i < value.length; i++) bits[i] = Number.isNaN(value[i]) ? 0x7fc00000 : new Uint32Array(value.buffer, value.byteOffset + 4 * i, 1)[0];
    out.push([at, bits]);
  } else if (value instanceof Int32Array) out.push([at, new Uint32Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength))]);
  else if (typeof value === 'number') out.push([at, new Uint32Array(new Float64Array([Number.isNaN(value) ? NaN : value]).buffer)]);
  else if (Array.isArray(value)) value.forEach((v, i) => bitsOf(v, `${at}[${i}]`, out));
  else if (value && typeof value === 'object') for (const key of Object.keys(value).sort()) bitsOf(value[key], `${at}.${key}`, out);
  else out.push([at, value]);
  return out;
}

const xents = {};
let compared = 0;
let values = 0;
const failures = [];
function compare(what, run) {
  let a;
  let b;
  try {
    a = run(xents.A);
  } catch (error) {
    a = { error: String(error.message) };
  }
  try {
    b = run(xents.B);
  } catch (error) {
    b = { error: String(error.message) };
  }
  const bitsA = bitsOf(a);
  const bitsB = bitsOf(b);
  compared++;
  if (bitsA.length !== bitsB.length) {
    failures.push(`${what}: different result keys`);
    return;
  }
  for (let i = 0; i < bitsA.length; i++) {
    const [pa, va] = bitsA[i];
    const [pb, vb] = bitsB[i];
    if (pa !== pb) {
      failures.push(`${what}: key ${pa} vs ${pb}`);
      return;
    }
    if (va instanceof Uint32Array) {
      values += va.length;
      if (va.length !== vb.length) {
        failures.push(`${what} ${pa}: lengths ${va.length} vs ${vb.length}`);
        return;
      }
      for (let j = 0; j < va.length; j++) {
        if (va[j] !== vb[j]) {
          failures.push(`${what} ${pa}[${j}]: ${va[j].toString(16)} vs ${vb[j].toString(16)}`);
          return;
        }
      }
    } else if (va !== vb) {
      failures.push(`${what} ${pa}: ${va} vs ${vb}`);
      return;
    }
  }
}

const shapes = [
  [1, 10], [2, 7], [3, 64], [5, 3], [17, 1], [4, 4], [33, 10], [70, 13], [130, 32], [64, 33], [41, 63], [37, 64],
  [9, 65], [6, 100], [5, 255], [7, 256], [3, 257], [4, 301], [5, 1000], [3, 1001], [2, 4099], [1, 32000],
];
const kinds = ['normal', 'wide', 'confident', 'extreme', 'borderline', 'ties', 'integers', 'offset', 'special'];
const backends = args.backends.split(',');
const cases = Number(args.cases);

for (const backend of backends) {
  try {
    xents.A = await A.createXent({ backend });
    xents.B = await B.createXent({ backend });
  } catch (error) {
    console.log(`${backend}: unavailable (${error.message.split('\n')[0]})`);
    continue;
  }
  const before = compared;
  for (const [rows, K] of shapes) {
    for (const kind of kinds) {
      for (let c = 0; c < cases; c++) {
        const logits = makeLogits(kind, rows, K);
        const ignoreIndex = pick([-100, 0]);
        const labels = makeLabels(rows, K, ignoreIndex, pick([0, 0, 0.3]));
        const weight = random() < 0.3 ? Float32Array.from({ length: K }, () => 0.2 + 2 * random()) : undefined;
        const options = {
          numClasses: K,
          smoothing: pick([0, 0.1, 0.1, 0.3]),
          reduction: pick(['none', 'sum', 'mean']),
          grad: pick([true, false, 'inplace']),
          lse: random() < 0.4,
          ...(weight ? { weight } : {}),
          ...(random() < 0.3 ? { gradScale: pick([0.5, 3]) } : {}),
        };
        const hard = {
          ...options,
          ignoreIndex,
          ...(random() < 0.3 ? { zLoss: pick([1e-4, 0.5]) } : {}),
          ...(random() < 0.2 ? { softcap: pick([5, 30]) } : {}),
        };
        const tag = `${backend} ${rows}×${K} ${kind}`;
        compare(`${tag} crossEntropy ${JSON.stringify({ ...hard, weight: !!weight })}`, (x) => x.crossEntropy(hard.grad === 'inplace' ? logits.slice() : logits, labels, hard));
        const temperature = pick([1, 1, 0.5, 2.5]);
        const soft = { ...options, temperature };
        const targets = makeTargets(rows, K, random() < 0.4);
        compare(`${tag} softCrossEntropy ${JSON.stringify({ ...soft, weight: !!weight })}`, (x) => x.softCrossEntropy(soft.grad === 'inplace' ? logits.slice() : logits, targets, soft));
        if (c === 0) {
          compare(`${tag} batch`, (x) => {
            const batch = x.createBatch(rows, K);
            batch.logits.set(logits);
            batch.labels.set(labels);
            const result = batch.crossEntropy({ smoothing: 0.1, grad: true, reduction: 'none', lse: true });
            const copy = { losses: result.losses.slice(), grad: result.grad.slice(), lse: result.lse.slice() };
            batch.dispose();
            return copy;
          });
          const log = random() < 0.5;
          const statsLabels = random() < 0.2 ? null : labels;
          compare(`${tag} softmax T=${temperature} log=${log}`, (x) => x.softmax(logits, { numClasses: K, temperature, log }));
          compare(`${tag} rowStats T=${temperature}`, (x) => x.rowStats(logits, statsLabels, { numClasses: K, temperature, ignoreIndex }));
          compare(`${tag} evaluate`, (x) => x.evaluate(logits, labels, { numClasses: K, ignoreIndex, smoothing: 0.1, temperature }));
        }
      }
    }
  }
  console.log(`${backend}: ${compared - before} calls compared`);
}
if (failures.length) {
  console.log(`\n${failures.length} calls differ:`);
  for (const failure of failures.slice(0, 40)) console.log(`  ${failure}`);
  process.exit(1);
}
console.log(`bit-identical: ${compared} calls, ${values} values (A ${path.resolve(args.base)}, B ${path.resolve(args.head)})`);
