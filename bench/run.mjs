#!/usr/bin/env node
/**
 * smoothxent benchmark: every method on the same inputs, side by side, in one process.
 *
 *   npm run bench                      # build, then the full run (writes bench/results.json)
 *   node bench/run.mjs --quick         # smoke test: short time per task, writes nothing
 *   node bench/run.mjs --shapes 4096x1000,512x32000 --methods tfjs,smoothxent-wasm-simd
 *   node bench/run.mjs --list          # method ids
 *
 * Options:
 *   --quick              short time per task; results.json is written only with --out
 *   --shapes A,B         ROWSxCLASSES list (default 8192x10,4096x1000,512x32000,32x128000,1x4,4x16,16x256)
 *   --methods A,B        keep methods whose id contains one of these substrings
 *   --modes A,B          loss+grad and/or loss (default both)
 *   --time MS            tinybench time budget per task (default 500; --quick 50)
 *   --out FILE           where to write the results (default bench/results.json)
 *   --check-shape RxK    shape of the correctness check before timing (default 1024x1000)
 *   --no-check           skip the correctness check
 *   --no-relaxed         do not re-execute Node with --experimental-wasm-relaxed-simd
 *
 * Relaxed SIMD: on Node 20 (V8 11.3) relaxed-SIMD wasm is a CompileError unless Node runs
 * with --experimental-wasm-relaxed-simd, and that flag is not allowed in NODE_OPTIONS. So when
 * this process cannot validate a relaxed-SIMD module, it re-executes itself once with the flag
 * (environment marker SMOOTHXENT_BENCH_REEXEC=1). On Node ≥ 22 it is on by default.
 *
 * Method contract (bench/peers/*.mjs): { id, label, floor?, modes?, async?, settleMs?,
 * lossTolerance?, available?(): true | reason, prepare(input): { call(), evaluate?(): { loss, grad? }, dispose() } },
 * where input is { rows, numClasses, logits, labels, smoothing, grad }. `call` is what is timed;
 * with `async` it returns a promise, awaited inside the timing; `settleMs`: time to wait after
 * the method's task before timing the next one (onnxruntime's pool spins after each run);
 * `lossTolerance`: the correctness check's relative bar for a method whose inputs are rounded
 * (16-bit logits), instead of LOSS_TOLERANCE.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { RELAXED_FLAG, RELAXED_SIMD_PROBE } from '../scripts/relaxed-simd.mjs';

/**
 * A full garbage collection before each task, so that no task pays for the garbage of the
 * one before it (the `grad: true` rows leave N·K arrays behind each call; on small shapes
 * whichever task ran next was charged for collecting them). gc() without --expose-gc.
 */
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc');
const REEXEC_MARKER = 'SMOOTHXENT_BENCH_REEXEC';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    shapes: { type: 'string', default: '8192x10,4096x1000,512x32000,32x128000,1x4,4x16,16x256' },
    methods: { type: 'string' },
    modes: { type: 'string', default: 'loss+grad,loss' },
    time: { type: 'string' },
    out: { type: 'string' },
    'check-shape': { type: 'string', default: '1024x1000' },
    'no-check': { type: 'boolean', default: false },
    'no-relaxed': { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
  },
});

const relaxedStatus = maybeReexecForRelaxedSimd();

// Everything below runs in the process that does the measuring.
const { Bench } = await import('tinybench');
const { makeInputs, parseShape } = await import('./data.mjs');
const { textbookMethod } = await import('./peers/textbook.mjs');
const { loadTfjs, tfjsCpuMethod, tfjsWasmMethod, tfjsTensorCount } = await import('./peers/tfjs.mjs');
const { smoothxentMethods, floorMethods } = await import('./peers/smoothxent.mjs');
const { onnxruntimeMethods, onnxruntimeInfo } = await import('./peers/onnxruntime.mjs');
const { markdownTables, MODES } = await import('./report.mjs');

const SMOOTHING = 0.1;
const REFERENCE_TFJS = 'tfjs-wasm';
const REFERENCE_FLOOR = 'floor-exp-simd';
const REFERENCE_ONNXRUNTIME = 'onnxruntime-node';
const LOSS_TOLERANCE = 1e-4; // relative, against smoothxent's js backend

const ALL_METHODS = [textbookMethod, tfjsCpuMethod, tfjsWasmMethod, ...onnxruntimeMethods, ...smoothxentMethods, ...floorMethods];

const timing = args.quick
  ? { timeMs: 50, warmupMs: 10, minSamples: 3, minSamplesSlow: 1, sampleMs: 0.5, slowCallMs: 300 }
  : { timeMs: 500, warmupMs: 150, minSamples: 7, minSamplesSlow: 3, sampleMs: 1, slowCallMs: 1000 };
if (args.time) timing.timeMs = Number(args.time);

await main();

async function main() {
  if (args.list) {
    for (const method of ALL_METHODS) console.log(`${method.id.padEnd(32)} ${method.label}`);
    return;
  }
  const shapes = args.shapes.split(',').map(parseShape);
  const modes = args.modes.split(',').map((m) => m.trim());
  for (const mode of modes) {
    if (!MODES.some((m) => m.id === mode)) throw new Error(`--modes: expected loss+grad or loss, got ${mode}`);
  }
  const filters = args.methods?.split(',').map((f) => f.trim()).filter(Boolean);
  const selected = ALL_METHODS.filter((m) => !filters || filters.some((f) => m.id.includes(f)));

  const { info: tfjsInfo } = selected.some((m) => m.id.startsWith('tfjs')) ? await loadTfjs() : { info: undefined };
  const methods = [];
  const unavailable = [];
  for (const method of selected) {
    const available = method.available ? await method.available() : true;
    if (available === true) methods.push(method);
    else unavailable.push({ method: method.id, reason: available });
  }

  const results = {
    schemaVersion: 1,
    machine: machineInfo(),
    runtime: { relaxedSimd: relaxedStatus, tfjs: tfjsInfo, onnxruntime: onnxruntimeInfo() },
    config: {
      smoothing: SMOOTHING,
      reduction: 'mean',
      quick: args.quick,
      timing,
      command: `node ${process.execArgv.join(' ')} bench/run.mjs ${process.argv.slice(2).join(' ')}`.replace(/\s+/g, ' ').trim(),
      statistic: 'median of tinybench samples; a sample is the mean of repsPerSample back-to-back calls',
    },
    shapes,
    methods: methods.map(({ id, label }) => ({ id, label })),
    unavailable,
    check: undefined,
    results: [],
  };

  logHeader(results);
  for (const { method, reason } of unavailable) log(`unavailable: ${method}: ${reason}`);

  if (!args['no-check']) results.check = await checkCorrectness(methods, parseShape(args['check-shape']));

  for (const shape of shapes) {
    const { logits, labels } = makeInputs(shape.rows, shape.numClasses);
    const elements = shape.rows * shape.numClasses;
    for (const [modeIndex, mode] of modes.entries()) {
      for (const method of methods) {
        if (method.floor && modeIndex > 0) continue; // floors are mode-independent: once per shape
        if (method.modes && !method.modes.includes(mode)) continue;
        const input = { rows: shape.rows, numClasses: shape.numClasses, logits, labels, smoothing: SMOOTHING, grad: mode === 'loss+grad' };
        const prepared = await method.prepare(input);
        let measured;
        try {
          measured = await (method.async ? measureAsync : measure)(`${method.id} ${shape.id} ${mode}`, prepared.call);
        } finally {
          prepared.dispose();
        }
        if (method.settleMs) await new Promise((resolve) => setTimeout(resolve, method.settleMs));
        const result = {
          shape: shape.id,
          mode: method.floor ? 'any' : mode,
          method: method.id,
          medianNsPerElement: (measured.medianMs * 1e6) / elements,
          madNsPerElement: (measured.madMs * 1e6) / elements,
          minNsPerElement: (measured.minMs * 1e6) / elements,
          samples: measured.samples,
          repsPerSample: measured.reps,
          loadAverage1m: Number(os.loadavg()[0].toFixed(2)), // this bench alone keeps it near 1: clearly above, something else ran too
        };
        results.results.push(result);
        log(
          `${shape.id.padEnd(10)} ${(method.floor ? 'any' : mode).padEnd(9)} ${method.id.padEnd(30)} ` +
            `${result.medianNsPerElement.toPrecision(4).padStart(9)} ns/el  (${measured.samples} samples × ${measured.reps} calls)`,
        );
      }
    }
  }
  addRatios(results);
  results.machine.loadAverageAtEnd = os.loadavg().map((l) => Number(l.toFixed(2)));
  const leaked = await tfjsTensorCount();
  if (leaked) log(`warning: ${leaked} tfjs tensors still allocated after the run`);

  const out = args.out ?? (args.quick ? undefined : fileURLToPath(new URL('results.json', import.meta.url)));
  if (out) {
    writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
    log(`wrote ${out}`);
  }
  console.log('\n' + markdownTables(results));
  if (results.check && !results.check.ok) {
    console.error('CORRECTNESS CHECK FAILED (see above): the timings of the failing methods are not comparable.');
    process.exitCode = 1;
  }
}

/**
 * Times `call` with tinybench. One untimed pilot call first (JIT warm-up, and it tells how
 * long a call takes); then each tinybench sample runs `reps` calls back to back so that a
 * sample lasts ≥ timing.sampleMs (so the 1×4 baseline is not lost in timer resolution) and
 * records their mean. Calls slower than timing.slowCallMs skip tinybench's warm-up (the pilot
 * was one) and need fewer samples, to keep the full run within minutes.
 */
async function measure(name, call) {
  collectGarbage();
  let start = performance.now();
  call();
  let pilotMs = performance.now() - start;
  if (pilotMs < 10) {
    start = performance.now();
    for (let i = 0; i < 5; i++) call();
    pilotMs = (performance.now() - start) / 5;
  }
  const { bench, reps } = benchFor(pilotMs, 1_000_000);
  bench.add(
    name,
    () => {
      const begin = performance.now();
      for (let i = 0; i < reps; i++) call();
      const elapsed = performance.now() - begin;
      return { overriddenDuration: elapsed / reps, overriddenIterationCost: elapsed };
    },
    { async: false },
  );
  bench.runSync();
  return measured(bench, name, reps);
}

/** measure() for a call that returns a promise: each sample awaits `reps` calls one after another. */
async function measureAsync(name, call) {
  collectGarbage();
  let start = performance.now();
  await call();
  let pilotMs = performance.now() - start;
  if (pilotMs < 10) {
    start = performance.now();
    for (let i = 0; i < 5; i++) await call();
    pilotMs = (performance.now() - start) / 5;
  }
  const { bench, reps } = benchFor(pilotMs, 100_000);
  bench.add(
    name,
    async () => {
      const begin = performance.now();
      for (let i = 0; i < reps; i++) await call();
      const elapsed = performance.now() - begin;
      return { overriddenDuration: elapsed / reps, overriddenIterationCost: elapsed };
    },
    { async: true },
  );
  await bench.run();
  return measured(bench, name, reps);
}

/** The calls per sample for a call of `pilotMs`, and a tinybench instance sized for it. */
function benchFor(pilotMs, maxReps) {
  const reps = Math.max(1, Math.min(maxReps, Math.ceil(timing.sampleMs / Math.max(pilotMs, 1e-6))));
  const slow = pilotMs > timing.slowCallMs;
  const bench = new Bench({
    time: timing.timeMs,
    iterations: slow ? timing.minSamplesSlow : timing.minSamples,
    warmup: !slow,
    warmupTime: timing.warmupMs,
    warmupIterations: 1,
    throws: true,
  });
  return { bench, reps };
}

function measured(bench, name, reps) {
  const { result } = bench.tasks[0];
  if (result.state !== 'completed') throw result.error ?? new Error(`${name}: ${result.state}`);
  return {
    medianMs: result.latency.p50,
    madMs: result.latency.mad,
    minMs: result.latency.min,
    samples: result.latency.samplesCount,
    reps,
  };
}

/** Speed-up over tfjs-wasm (same shape and mode) and time over the SIMD exp floor (same shape). */
function addRatios(results) {
  for (const result of results.results) {
    const tfjs = results.results.find((r) => r.shape === result.shape && r.mode === result.mode && r.method === REFERENCE_TFJS);
    const floor = results.results.find((r) => r.shape === result.shape && r.method === REFERENCE_FLOOR);
    result.speedupVsTfjsWasm = tfjs && result.mode !== 'any' ? tfjs.medianNsPerElement / result.medianNsPerElement : null;
    const ort = results.results.find((r) => r.shape === result.shape && r.mode === result.mode && r.method === REFERENCE_ONNXRUNTIME);
    result.speedupVsOnnxruntime = ort && result.mode !== 'any' ? ort.medianNsPerElement / result.medianNsPerElement : null;
    result.timeOverExpFloor = floor ? result.medianNsPerElement / floor.medianNsPerElement : null;
  }
}

/**
 * Before timing anything: every method's loss (both modes) against smoothxent's js backend
 * on one shape, within LOSS_TOLERANCE relative. The gradient's largest difference, relative
 * to the largest reference gradient entry, is printed too.
 */
async function checkCorrectness(methods, shape) {
  const { logits, labels } = makeInputs(shape.rows, shape.numClasses, 777);
  const input = { rows: shape.rows, numClasses: shape.numClasses, logits, labels, smoothing: SMOOTHING };
  const referenceMethod = ALL_METHODS.find((m) => m.id === 'smoothxent-js');
  const referenceAvailable = referenceMethod.available ? (await referenceMethod.available()) === true : true;
  const reference = referenceAvailable ? referenceMethod : textbookMethod;
  const prepared = await reference.prepare({ ...input, grad: true });
  const expected = await prepared.evaluate();
  prepared.dispose();
  const gradScale = maxAbs(expected.grad);

  log(`\ncorrectness check on ${shape.label}, ε = ${SMOOTHING}, mean; reference ${reference.id}: loss ${expected.loss}`);
  const rows = [];
  for (const method of methods) {
    if (!method.prepare || method.floor) continue;
    for (const grad of [true, false]) {
      if (method.modes && !method.modes.includes(grad ? 'loss+grad' : 'loss')) continue;
      const p = await method.prepare({ ...input, grad });
      let actual;
      try {
        actual = await p.evaluate();
      } finally {
        p.dispose();
      }
      const lossRelativeError = Math.abs(actual.loss - expected.loss) / Math.abs(expected.loss);
      const gradRelativeError = grad && actual.grad ? maxAbsDifference(actual.grad, expected.grad) / gradScale : null;
      const ok = lossRelativeError <= (method.lossTolerance ?? LOSS_TOLERANCE) && Number.isFinite(actual.loss) && (!grad || actual.grad?.length === expected.grad.length);
      rows.push({ method: method.id, mode: grad ? 'loss+grad' : 'loss', loss: actual.loss, lossRelativeError, gradRelativeError, ok });
      log(
        `  ${ok ? 'ok  ' : 'FAIL'} ${method.id.padEnd(30)} ${(grad ? 'loss+grad' : 'loss').padEnd(9)} loss ${actual.loss.toPrecision(9)}` +
          `  rel.err ${lossRelativeError.toExponential(2)}` +
          (gradRelativeError == null ? '' : `  grad max|Δ|/max|g| ${gradRelativeError.toExponential(2)}`),
      );
    }
  }
  return {
    shape: shape.id,
    reference: reference.id,
    referenceLoss: expected.loss,
    tolerance: LOSS_TOLERANCE,
    ok: rows.every((r) => r.ok),
    results: rows,
  };
}

function maxAbs(values) {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]));
  return max;
}

function maxAbsDifference(a, b) {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/**
 * Re-executes this script with --experimental-wasm-relaxed-simd when relaxed SIMD is off
 * here and the flag is known to this Node. Returns how relaxed SIMD stands in this process.
 */
function maybeReexecForRelaxedSimd() {
  if (WebAssembly.validate(RELAXED_SIMD_PROBE)) {
    return {
      enabled: true,
      how: process.execArgv.includes(RELAXED_FLAG) ? `node ${RELAXED_FLAG} (re-executed by bench/run.mjs)` : 'on by default in this Node',
    };
  }
  if (args['no-relaxed'] || process.env[REEXEC_MARKER]) {
    return { enabled: false, how: args['no-relaxed'] ? 'disabled by --no-relaxed' : `not available even with ${RELAXED_FLAG}` };
  }
  const flagKnown = spawnSync(process.execPath, [RELAXED_FLAG, '-e', ''], { stdio: 'ignore' }).status === 0;
  if (!flagKnown) return { enabled: false, how: `not available (this Node rejects ${RELAXED_FLAG})` };
  const child = spawnSync(process.execPath, [RELAXED_FLAG, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [REEXEC_MARKER]: '1' },
  });
  process.exit(child.status ?? 1);
}

function machineInfo() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${process.arch}`,
    totalMemoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
    date: new Date().toISOString(),
  };
}

function logHeader(results) {
  const m = results.machine;
  log(`smoothxent bench: ${m.cpuModel}, ${m.cores} cores, Node ${m.node}, V8 ${m.v8}, load ${m.loadAverageAtStart.join(' ')}`);
  log(`relaxed SIMD: ${results.runtime.relaxedSimd.enabled ? 'enabled' : 'off'} (${results.runtime.relaxedSimd.how})`);
  const t = results.runtime.tfjs;
  if (t) log(`tfjs ${t.version}: wasm binary ${t.wasmBinary}, WASM_HAS_SIMD_SUPPORT=${t.wasmHasSimdSupport}, threads ${t.wasmThreads}`);
  log(`methods: ${results.methods.map((m) => m.id).join(', ')}`);
}

function log(message) {
  console.error(message);
}
