/**
 * Round-robin timing, for benches whose methods must share the machine's conditions: after a
 * pilot, the tasks of a group run in turn, one sample each (a full GC before each round,
 * outside the timing), until every one has ≥ minSamples samples and the group has run
 * ≥ timeMs per task. Sequential blocks (as tinybench runs them) let the load of this shared
 * 2-core VM drift between one method's block and the next's; taking turns gives each method
 * the same conditions, so the ratios hold even when the absolute times do not.
 *
 * A task is { call, async?, settleMs?, warm? }: `call` is awaited when `async` is true (otherwise
 * it runs synchronously, with no microtask per call); `settleMs` is an untimed pause after each
 * of its samples (onnxruntime's pool spins ~50 ms after a run); `warm` untimed calls run right
 * before each sample (a loop's steady state: a pool's threads are awake, as in the second and
 * later calls of a loop, not asleep after the other tasks' turns). With sampleMs > 0, a sample
 * repeats the call until it lasts about sampleMs (sized from three pilot calls), and reports
 * the time per call.
 */
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc');

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** [{ medianMs, samples, loadAverage1m }] per task, in the tasks' order. */
export async function roundRobin(tasks, { timeMs, minSamples, sampleMs = 0 }) {
  const reps = [];
  for (const task of tasks) {
    const begin = performance.now();
    const pilots = sampleMs > 0 ? 3 : 1;
    for (let i = 0; i < pilots; i++) await task.call();
    reps.push(sampleMs > 0 ? Math.max(1, Math.ceil(sampleMs / ((performance.now() - begin) / pilots))) : 1);
    if (task.settleMs) await pause(task.settleMs);
  }
  const samples = tasks.map(() => []);
  const started = performance.now();
  while (samples[0].length < minSamples || performance.now() - started < timeMs * tasks.length) {
    collectGarbage();
    for (const [i, task] of tasks.entries()) {
      const n = reps[i];
      for (let w = 0; w < (task.warm ?? 0); w++) {
        if (task.async) await task.call();
        else task.call();
      }
      const begin = performance.now();
      if (task.async) for (let r = 0; r < n; r++) await task.call();
      else for (let r = 0; r < n; r++) task.call();
      samples[i].push((performance.now() - begin) / n);
      if (task.settleMs) await pause(task.settleMs);
    }
  }
  const loadAverage1m = Number(os.loadavg()[0].toFixed(2));
  return samples.map((times) => {
    const sorted = [...times].sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    const medianMs = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    return { medianMs, samples: times.length, loadAverage1m };
  });
}
