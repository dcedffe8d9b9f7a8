/**
 * The threads page's script (bundled from src/ by esbuild, served twice by
 * browser-threads.test.ts: with COOP/COEP, so cross-origin isolated, and without): checks that
 * run in the page and return plain data, exposed on `window.smoothxentThreads`.
 */
import * as lib from '../../src/index.js';
import type { BackendName, RowsResult, ScalarResult, Xent } from '../../src/index.js';
import { maxDifference, randomBatch } from './cases.js';

type Result = ScalarResult | RowsResult;

/** Whether two results are identical bit for bit (Object.is on every number), else what differs. */
function difference(a: Result, b: Result): string | null {
  for (const field of ['loss', 'losses', 'grad', 'lse'] as const) {
    const x = (a as unknown as Record<string, unknown>)[field];
    const y = (b as unknown as Record<string, unknown>)[field];
    if (x === undefined && y === undefined) continue;
    if (typeof x === 'number' || typeof y === 'number') {
      if (!Object.is(x, y)) return `${field}: ${String(x)} vs ${String(y)}`;
      continue;
    }
    const u = x as Float32Array;
    const v = y as Float32Array;
    if (!u || !v || u.length !== v.length) return `${field}: lengths differ`;
    for (let i = 0; i < u.length; i++) if (!Object.is(u[i], v[i])) return `${field}[${i}]: ${u[i]} vs ${v[i]}`;
  }
  return null;
}

const copyOf = (r: Result): Result => ({ ...r, grad: r.grad?.slice(), lse: r.lse?.slice() }) as Result;

async function wasmBackends(): Promise<BackendName[]> {
  const names: BackendName[] = [];
  for (const backend of ['wasm-relaxed-simd', 'wasm-simd', 'wasm'] as const) {
    try {
      (await lib.createXent({ backend })).dispose();
      names.push(backend);
    } catch {
      // not in this browser
    }
  }
  return names;
}

export interface ThreadsReport {
  backend: BackendName;
  threads: number;
  sharedMemory: boolean;
  /** Each comparison against the one-thread sync call of the same backend: null when identical. */
  differences: Record<string, string | null>;
  lossErrorVsJs: number;
  gradErrorVsJs: number;
}

const api = {
  environment: () => ({
    crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
    sharedArrayBuffer: typeof SharedArrayBuffer === 'function',
    waitAsync: typeof (Atomics as { waitAsync?: unknown }).waitAsync === 'function',
  }),

  /** Every wasm backend with `threads`, sync and async, plain calls, soft targets and a batch, against one thread and js. */
  async threadsAgainstOneThread(rows: number, numClasses: number, threads: number): Promise<ThreadsReport[]> {
    const { logits, labels } = randomBatch(rows, numClasses, 3);
    const targets = new Float32Array(logits.length);
    for (let i = 0; i < targets.length; i++) targets[i] = ((i * 2654435761) % 1000) / 1000;
    const js = await lib.createXent({ backend: 'js' });
    const options = { numClasses, smoothing: 0.1, grad: true, lse: true } as const;
    const jsResult = js.crossEntropy(logits, labels, options);
    const reports: ThreadsReport[] = [];
    for (const backend of await wasmBackends()) {
      const one = await lib.createXent({ backend });
      const many = await lib.createXent({ backend, threads });
      const expected = copyOf(one.crossEntropy(logits, labels, options));
      const soft = copyOf(one.softCrossEntropy(logits, targets, { numClasses, smoothing: 0.1, grad: true, temperature: 2 }));
      const differences: Record<string, string | null> = {
        'threads 1 async': difference(await one.crossEntropyAsync(logits, labels, options), expected),
        [`threads ${threads} sync`]: difference(many.crossEntropy(logits, labels, options), expected),
        [`threads ${threads} async`]: difference(await many.crossEntropyAsync(logits, labels, options), expected),
        [`threads ${threads} soft async`]: difference(await many.softCrossEntropyAsync(logits, targets, { numClasses, smoothing: 0.1, grad: true, temperature: 2 }), soft),
        [`threads ${threads} reduction none async`]: difference(
          await many.crossEntropyAsync(logits, labels, { ...options, reduction: 'none' }),
          one.crossEntropy(logits, labels, { ...options, reduction: 'none' }),
        ),
      };
      // The evaluation calls: per-row work on the workers, the sums here in row order.
      const evaluation = one.evaluate(logits, labels, { numClasses, smoothing: 0.1, bins: 10 });
      const same = (a: unknown, b: unknown) => (JSON.stringify(a) === JSON.stringify(b) ? null : `${JSON.stringify(a).slice(0, 200)} vs ${JSON.stringify(b).slice(0, 200)}`);
      differences[`threads ${threads} evaluateAsync`] = same(await many.evaluateAsync(logits, labels, { numClasses, smoothing: 0.1, bins: 10 }), evaluation);
      differences[`threads ${threads} softmaxAsync`] = difference({ losses: await many.softmaxAsync(logits, { numClasses }) } as Result, { losses: one.softmax(logits, { numClasses }) } as Result);
      differences[`threads ${threads} fitTemperatureAsync`] = same(await many.fitTemperatureAsync(logits, labels, { numClasses }), one.fitTemperature(logits, labels, { numClasses }));
      const batch = many.createBatch(rows, numClasses);
      batch.logits.set(logits);
      batch.labels.set(labels);
      differences[`threads ${threads} batch sync`] = difference(copyOf(batch.crossEntropy({ smoothing: 0.1, grad: true, lse: true })), expected);
      differences[`threads ${threads} batch async`] = difference(copyOf(await batch.crossEntropyAsync({ smoothing: 0.1, grad: true, lse: true })), expected);
      batch.dispose();
      reports.push({
        backend,
        threads: many.threads,
        sharedMemory: many.sharedMemory,
        differences,
        lossErrorVsJs: Math.abs((expected as ScalarResult).loss - (jsResult as ScalarResult).loss) / Math.abs((jsResult as ScalarResult).loss),
        gradErrorVsJs: maxDifference(expected.grad as Float32Array, jsResult.grad as Float32Array) * rows,
      });
      one.dispose();
      many.dispose();
    }
    return reports;
  },

  /**
   * A sync call (it blocks the page), then the same call async while a timer chain and
   * requestAnimationFrame count: the longest gap between timer callbacks is how long the page
   * was blocked at most.
   */
  async responsiveness(rows: number, numClasses: number, threads: number) {
    const xent: Xent = await lib.createXent({ threads });
    const { logits, labels } = randomBatch(rows, numClasses, 3);
    const options = { numClasses, smoothing: 0.1 };
    let start = performance.now();
    const sync = xent.crossEntropy(logits, labels, options);
    const syncMs = performance.now() - start;
    let frames = 0;
    let ticks = 0;
    let maxGapMs = 0;
    let running = true;
    const frame = () => {
      frames++;
      if (running) requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
    let last = performance.now();
    const tick = () => {
      const now = performance.now();
      maxGapMs = Math.max(maxGapMs, now - last);
      last = now;
      ticks++;
      if (running) setTimeout(tick, 0);
    };
    setTimeout(tick, 0);
    start = performance.now();
    const result = await xent.crossEntropyAsync(logits, labels, options);
    const asyncMs = performance.now() - start;
    running = false;
    const report = { backend: xent.backend, threads: xent.threads, sharedMemory: xent.sharedMemory, syncMs, asyncMs, frames, ticks, maxGapMs, same: Object.is(result.loss, sync.loss) };
    xent.dispose();
    return report;
  },

  /** Aborted mid-call: an AbortError, the inputs unchanged, and the next call right. */
  async abortMidCall(rows: number, numClasses: number, threads: number) {
    const xent = await lib.createXent({ threads });
    const { logits, labels } = randomBatch(rows, numClasses, 3);
    const before = logits.slice();
    const expected = xent.crossEntropy(logits, labels, { numClasses, smoothing: 0.1, grad: true });
    // Aborted at the first turn of the event loop: the call is then under way (its chunks wait on
    // the workers, many turns away). A 10 ms timer came too late at load 5, and once on CI even a
    // 0 ms timer ran only after a 1024 × 32000 call had finished: then the call's result must be
    // right, and it is tried again (up to 5 times; an abort that never lands fails the test).
    let error: Error | null = null;
    let finishedFirst = 0;
    for (let attempt = 0; attempt < 5 && error === null; attempt++) {
      const controller = new AbortController();
      const call = xent.crossEntropyAsync(logits, labels, { numClasses, smoothing: 0.1, grad: true, signal: controller.signal });
      setTimeout(() => controller.abort(), 0);
      const outcome = await call.then((r) => r, (e: Error) => e);
      if (outcome instanceof Error) error = outcome;
      else if (difference(outcome, expected) === null) finishedFirst++;
      else throw new Error(`abortMidCall: a call that finished before its abort differs: ${difference(outcome, expected)}`);
    }
    let unchanged = true;
    for (let i = 0; i < logits.length; i++) if (!Object.is(logits[i], before[i])) unchanged = false;
    const next = await xent.crossEntropyAsync(logits, labels, { numClasses, smoothing: 0.1, grad: true });
    xent.dispose();
    return { error: error && { name: error.name, isDOMException: error instanceof DOMException }, finishedFirst, unchanged, nextDifference: difference(next, expected) };
  },
};
export type ThreadsTestApi = typeof api;

(globalThis as unknown as { smoothxentThreads: ThreadsTestApi }).smoothxentThreads = api;
document.body.dataset.ready = 'true';
