#!/usr/bin/env node
/**
 * smoothxent/tfjs against TensorFlow.js's own loss, side by side in one process, on tfjs-cpu
 * and tfjs-wasm (4.22, SIMD, 1 thread): the loss alone and whole training steps.
 *
 *   npm run build && node --experimental-wasm-relaxed-simd bench/tfjs-train.mjs
 *   node bench/tfjs-train.mjs --quick                       # smoke test, writes nothing
 *   node bench/tfjs-train.mjs --shapes 1024x1000 --tfjs wasm --time 2000
 *
 * Options: --shapes BxK list (default 1024x1000,128x32000), --tfjs cpu,wasm, --backend
 * (smoothxent's, default auto), --time MS per task (default 1500), --out FILE (default
 * bench/tfjs-train.json), --quick.
 *
 * Model: 64 input features → Dense 64 relu → Dense K (logits), Adam, ε = 0.1, reduction mean.
 * Per tfjs backend and shape, one model and one batch (x [B, 64], class ids, one-hot [B, K]):
 * - loss part: tf.valueAndGrad of the loss w.r.t. fixed logits [B, K], the loss read back
 *   (the gradient stays a tensor, as in training), everything in tf.tidy:
 *     tfjs        tf.losses.softmaxCrossEntropy(oneHot, logits, undefined, 0.1)
 *     smoothxent  losses.crossEntropy(logits, labels, { smoothing: 0.1 })   (int32 class ids)
 *     smoothxent, one-hot  losses.sparseCategoricalCrossentropy(…)(oneHot, logits), as model.fit hands it
 * - training step (custom loop): optimizer.minimize(() => loss(model.apply(x)), true, weights),
 *   the cost read back: forward, loss + gradient, backward, Adam update.
 * - model.fit step: model.trainOnBatch(x, oneHot) of a compiled twin model (fit's own path).
 * The tasks of each part run round-robin (see bench/round-robin.mjs). Ratios are tfjs time ÷
 * smoothxent time (higher is better).
 *
 * Under Node, tfjs-core registers no gradients: bench/peers/tfjs.mjs loads them (and checks
 * which tfjs-backend-wasm binary runs). Node 20 needs --experimental-wasm-relaxed-simd for
 * smoothxent's relaxed-SIMD backend; without it `auto` is wasm-simd (the header says which).
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeInputs, parseShape } from './data.mjs';
import { loadTfjs } from './peers/tfjs.mjs';
import { roundRobin } from './round-robin.mjs';

const { values: args } = parseArgs({
  options: {
    shapes: { type: 'string', default: '1024x1000,128x32000' },
    tfjs: { type: 'string', default: 'cpu,wasm' },
    backend: { type: 'string', default: 'auto' },
    time: { type: 'string', default: '1500' },
    out: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});

const FEATURES = 64;
const HIDDEN = 64;
const SMOOTHING = 0.1;
const timeMs = args.quick ? 100 : Number(args.time);
const minSamples = args.quick ? 2 : 5;

const { tf, info } = await loadTfjs();
const tfl = await import('@tensorflow/tfjs-layers');
const { createTfjsLosses } = await import('../dist/tfjs/index.js');
const losses = await createTfjsLosses(tf, { backend: args.backend });

const machine = {
  cpuModel: os.cpus()[0]?.model?.trim() ?? 'unknown',
  cores: os.cpus().length,
  node: process.version,
  loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
  date: new Date().toISOString(),
};
log(`tfjs-train bench: ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, load ${machine.loadAverageAtStart.join(' ')}`);
log(`tfjs ${info.version} (wasm binary ${info.wasmBinary}, threads ${info.wasmThreads}); smoothxent backend ${losses.backend}`);

function buildModel(numClasses) {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: HIDDEN, activation: 'relu', inputShape: [FEATURES] }),
      tfl.layers.dense({ units: numClasses }),
    ],
  });
}

const results = [];
const checks = [];
for (const tfjsBackend of args.tfjs.split(',')) {
  if (!(await tf.setBackend(tfjsBackend))) throw new Error(`tf.setBackend('${tfjsBackend}') failed`);
  for (const shape of args.shapes.split(',').map(parseShape)) {
    const { rows: batch, numClasses } = shape;
    const { logits: logitData, labels: ids } = makeInputs(batch, numClasses);
    const x = tf.tensor2d(makeInputs(batch, FEATURES, 99).logits, [batch, FEATURES]);
    const logits = tf.tensor2d(logitData, [batch, numClasses]);
    const labels = tf.tensor1d(ids, 'int32');
    // One-hot targets as model.fit hands them on (fit slices them with tf.gather): a plain
    // float32 tensor. Not tf.cast(tf.oneHot(…)): on tfjs-cpu that tensor keeps tf.oneHot's data
    // under dtype int32, and every dataSync() converts it into a new Int32Array (12 ms here).
    const oneHotData = new Float32Array(batch * numClasses);
    ids.forEach((y, i) => (oneHotData[i * numClasses + y] = 1));
    const oneHot = tf.tensor2d(oneHotData, [batch, numClasses]);
    const tfjsLoss = (yTrue, yPred) => tf.losses.softmaxCrossEntropy(yTrue, yPred, undefined, SMOOTHING);
    const sparse = losses.sparseCategoricalCrossentropy({ smoothing: SMOOTHING });
    const ours = (z) => losses.crossEntropy(z, labels, { smoothing: SMOOTHING });

    // The same numbers first: loss and gradient of both losses on these logits.
    const valueAndGrad = (f) => tf.tidy(() => {
      const { value, grad } = tf.valueAndGrad(f)(logits);
      return { loss: value.dataSync()[0], grad: grad.dataSync().slice() };
    });
    const a = valueAndGrad((z) => tfjsLoss(oneHot, z));
    const b = valueAndGrad(ours);
    let gradDiff = 0;
    for (let i = 0; i < a.grad.length; i++) gradDiff = Math.max(gradDiff, Math.abs(a.grad[i] - b.grad[i]));
    const check = { tfjs: tfjsBackend, shape: shape.id, lossTfjs: a.loss, lossSmoothxent: b.loss, maxGradDifference: gradDiff };
    checks.push(check);
    log(`\ntfjs-${tfjsBackend} ${shape.label}: loss tfjs ${a.loss.toPrecision(8)} smoothxent ${b.loss.toPrecision(8)}, max |Δgrad| ${gradDiff.toExponential(2)}`);

    const model = buildModel(numClasses);
    const weights = model.trainableWeights.map((w) => w.read());
    const optimizer = tf.train.adam(1e-3);
    const step = (loss) => () => {
      const cost = optimizer.minimize(() => loss(model.apply(x, { training: true })), true, weights);
      cost.dataSync();
      cost.dispose();
    };
    const fitModels = {};
    for (const [name, loss] of [['tfjs', tfjsLoss], ['smoothxent', sparse]]) {
      fitModels[name] = buildModel(numClasses);
      fitModels[name].setWeights(model.getWeights());
      fitModels[name].compile({ optimizer: tf.train.adam(1e-3), loss });
    }
    const lossPart = (f) => () => tf.tidy(() => {
      tf.valueAndGrad(f)(logits).value.dataSync();
    });

    const groups = [
      ['loss part', [
        ['tfjs', lossPart((z) => tfjsLoss(oneHot, z))],
        ['smoothxent', lossPart(ours)],
        ['smoothxent, one-hot yTrue', lossPart((z) => sparse(oneHot, z))],
      ]],
      ['training step', [['tfjs', step((z) => tfjsLoss(oneHot, z))], ['smoothxent', step(ours)]]],
      ['model.fit step', [['tfjs', () => fitModels.tfjs.trainOnBatch(x, oneHot)], ['smoothxent', () => fitModels.smoothxent.trainOnBatch(x, oneHot)]]],
    ];
    for (const [part, tasks] of groups) {
      const measured = await roundRobin(tasks.map(([, call]) => ({ call, async: true })), { timeMs, minSamples });
      tasks.forEach(([method], i) => {
        results.push({ tfjs: tfjsBackend, shape: shape.id, part, method, ...measured[i] });
        log(`  ${part.padEnd(15)} ${method.padEnd(26)} ${measured[i].medianMs.toPrecision(4).padStart(8)} ms  (${measured[i].samples} samples, load ${measured[i].loadAverage1m})`);
      });
    }
    model.dispose();
    optimizer.dispose();
    for (const m of Object.values(fitModels)) m.dispose();
    tf.dispose([x, logits, labels, oneHot]);
  }
}
machine.loadAverageAtEnd = os.loadavg().map((l) => Number(l.toFixed(2)));
const leaked = tf.memory().numTensors;

const median = (tfjs, shape, part, method) => results.find((r) => r.tfjs === tfjs && r.shape === shape && r.part === part && r.method === method)?.medianMs;
const lines = [
  `Machine: ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, load ${machine.loadAverageAtStart.join(' ')} → ${machine.loadAverageAtEnd.join(' ')}; ` +
    `tfjs ${info.version}, smoothxent ${losses.backend}, ε = ${SMOOTHING}. Median ms; ratio = tfjs ÷ smoothxent.`,
  '',
  '| tfjs backend | B×K | loss part: tfjs | smoothxent | ratio | one-hot yTrue | ratio | training step: tfjs | smoothxent | ratio | model.fit step: tfjs | smoothxent | ratio |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
];
const ms = (v) => (v === undefined ? '–' : v.toPrecision(3));
const ratio = (a, b) => (a === undefined || b === undefined ? '–' : `${(a / b).toPrecision(3)}×`);
for (const { tfjs, shape } of checks) {
  const m = (part, method) => median(tfjs, shape, part, method);
  const lossTfjs = m('loss part', 'tfjs');
  const stepTfjs = m('training step', 'tfjs');
  const fitTfjs = m('model.fit step', 'tfjs');
  lines.push(
    `| ${tfjs} | ${shape.replace('x', '×')} | ${ms(lossTfjs)} | ${ms(m('loss part', 'smoothxent'))} | ${ratio(lossTfjs, m('loss part', 'smoothxent'))} ` +
      `| ${ms(m('loss part', 'smoothxent, one-hot yTrue'))} | ${ratio(lossTfjs, m('loss part', 'smoothxent, one-hot yTrue'))} ` +
      `| ${ms(stepTfjs)} | ${ms(m('training step', 'smoothxent'))} | ${ratio(stepTfjs, m('training step', 'smoothxent'))} ` +
      `| ${ms(fitTfjs)} | ${ms(m('model.fit step', 'smoothxent'))} | ${ratio(fitTfjs, m('model.fit step', 'smoothxent'))} |`,
  );
}
const table = lines.join('\n');
console.log('\n' + table);
if (leaked) log(`note: ${leaked} tfjs tensors still allocated at the end (tfjs-layers keeps some per model it built)`);

const out = args.out ?? (args.quick ? undefined : fileURLToPath(new URL('tfjs-train.json', import.meta.url)));
if (out) {
  const command = `node ${process.execArgv.join(' ')} bench/tfjs-train.mjs ${process.argv.slice(2).join(' ')}`.replace(/\s+/g, ' ').trim();
  writeFileSync(out, JSON.stringify({ machine, command, tfjs: info, smoothxentBackend: losses.backend, checks, results, table }, null, 2) + '\n');
  log(`wrote ${out}`);
}

function log(message) {
  console.error(message);
}
