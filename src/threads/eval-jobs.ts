/**
 * The evaluation kernels on a SharedPool (src/eval.ts's softmax, rowStats, evaluator and
 * fitTemperature): each chunk's rows are copied into a worker's command slot and the per-row
 * kernel (softmaxRows, statsRows, temperatureRows) runs there. The per-row outputs are copied
 * out (softmax, rowStats), or — for an evaluation's sums and temperature scaling's — added up
 * HERE, by this thread's instance over the same memory, chunk after chunk in row order
 * (statsAccumulate, temperatureSum: the reductions the one-thread bridge runs after each of its
 * chunks), straight from the slot; a chunk that finishes before the one above it is kept until
 * that one is added. So the sums get the same additions in the same order as on one thread.
 * Slot layouts are the bridge's `regions` (16 bytes of slack after each: the stats kernels read
 * a row's last vector whole).
 */
import type { Accumulation, RowStatsOutputs, SoftmaxRequest, StatsRequest, TemperatureRequest } from '../backend.js';
import { copy, regions, statsScratchBytes } from '../wasm/bridge.js';
import { chunkRows, type SummedJob } from './jobs.js';
import type { Job, Member, SharedPool } from './pool.js';
import { SLOTS, type KernelName } from './protocol.js';

/**
 * A job whose chunk region is `sizes(rows)` (bytes, laid out by `regions`); `post` copies a
 * chunk in and names the kernel call, `finish` takes its outputs (false: not yet, see Job).
 */
function regionJob(
  pool: SharedPool, rows: number, K: number, sizes: (n: number) => number[],
  steps: {
    post(at: number[], r0: number, r1: number, scratch: number): { kernel: KernelName; args: number[] };
    finish(at: number[], r0: number, r1: number): boolean;
  },
): Job {
  const scratchBytes = statsScratchBytes(K);
  const perRow = Math.max(1, sizes(1).reduce((a, b) => a + b, 0));
  // Alignment and slack: what a region layout adds beyond the bytes per row.
  const fixed = regions(0, [scratchBytes, ...sizes(1)]).end - perRow + 64;
  const rowsPerChunk = chunkRows(pool, rows, K, fixed, perRow, pool.usable().length || 1);
  const slotBytes = regions(0, [scratchBytes, ...sizes(rowsPerChunk)]).end;
  const slotAt = (m: Member, slot: number, n: number) => regions(m.arenaAt + slot * slotBytes, [scratchBytes, ...sizes(n)]).at;
  return {
    rows,
    chunkRows: rowsPerChunk,
    arenaBytes: SLOTS * slotBytes,
    begin: () => {},
    post: (m, slot, r0, r1) => {
      const [scratch, ...at] = slotAt(m, slot, r1 - r0);
      return steps.post(at, r0, r1, scratch);
    },
    finish: (m, slot, r0, r1) => steps.finish(slotAt(m, slot, r1 - r0).slice(1), r0, r1),
  };
}

/** softmax(z/T) (or its log) of each row, into request.out. */
export function softmaxJob(pool: SharedPool, request: SoftmaxRequest): SummedJob<void> {
  const { logits, out, rows, numClasses: K } = request;
  const job = regionJob(pool, rows, K, (n) => [4 * n * K], {
    post: ([z], r0, r1) => {
      copy(pool.f32, z >> 2, logits, r0 * K, r1 * K);
      return { kernel: 'softmaxRows', args: [z, z, r1 - r0, K, 1 / request.temperature, Number(request.log)] };
    },
    finish: ([z], r0, r1) => {
      copy(out, r0 * K, pool.f32, z >> 2, (z >> 2) + (r1 - r0) * K);
      return true;
    },
  });
  return { job, sum: () => undefined };
}

/** rowStats: the per-row statistics into `out`. */
export function rowStatsJob(pool: SharedPool, request: StatsRequest, out: RowStatsOutputs): SummedJob<void> {
  const { logits, labels, rows, numClasses: K } = request;
  const labeled = labels !== null;
  const job = regionJob(pool, rows, K, (n) => [4 * n * K, labeled ? 4 * n : 0, 8 * n, 8 * n, labeled ? 8 * n : 0, 4 * n, 4 * n, labeled ? 4 * n : 0], {
    post: ([z, y, lse, entropy, logP, confidence, prediction, rank], r0, r1, scratch) => {
      copy(pool.f32, z >> 2, logits, r0 * K, r1 * K);
      if (labels) copy(pool.i32, y >> 2, labels, r0, r1);
      return {
        kernel: 'statsRows',
        args: [z, y, r1 - r0, K, 1 / request.temperature, 0, request.ignoreIndex, lse, confidence, prediction, entropy, logP, rank, 0, 0, 0, scratch],
      };
    },
    finish: ([, , lse, entropy, logP, confidence, prediction, rank], r0, r1) => {
      const n = r1 - r0;
      const { f32, i32, f64 } = pool;
      out.lse.set(f64.subarray(lse >> 3, (lse >> 3) + n), r0);
      out.entropy.set(f64.subarray(entropy >> 3, (entropy >> 3) + n), r0);
      copy(out.confidence, r0, f32, confidence >> 2, (confidence >> 2) + n);
      copy(out.prediction, r0, i32, prediction >> 2, (prediction >> 2) + n);
      if (out.targetLogProb) out.targetLogProb.set(f64.subarray(logP >> 3, (logP >> 3) + n), r0);
      if (out.rank) copy(out.rank, r0, i32, rank >> 2, (rank >> 2) + n);
      return true;
    },
  });
  return { job, sum: () => undefined };
}

/**
 * An evaluation's batch: statsRows per chunk on the workers, statsAccumulate of each chunk
 * here in row order onto the sums (kept in a block of this call), the keys to `into.keys`.
 */
export function accumulateJob(pool: SharedPool, request: StatsRequest, into: Accumulation): SummedJob {
  const { logits, rows, numClasses: K } = request;
  const labels = request.labels as NonNullable<StatsRequest['labels']>;
  const { sums, topK, bins, keys } = into;
  const rankCap = topK.length > 0 ? topK[topK.length - 1] : 1;
  const block = regions(pool.heap.alloc(8 * sums.length + 4 * topK.length + 64, 'an evaluation'), [8 * sums.length, 4 * topK.length]);
  pool.refreshViews();
  const [sumsAt, topKAt] = block.at;
  pool.f64.set(sums, sumsAt >> 3);
  if (topK.length > 0) pool.i32.set(topK, topKAt >> 2);
  let next = 0;
  let counted = 0;
  const job = regionJob(pool, rows, K, (n) => [4 * n * K, 4 * n, 4 * n, 4 * n, 4 * n, 4 * n, 8 * n, 8 * n, 8 * n, 8 * n], {
    post: ([z, y, confidence, prediction, rank, , entropy, logP, brier, smoothed], r0, r1, scratch) => {
      copy(pool.f32, z >> 2, logits, r0 * K, r1 * K);
      copy(pool.i32, y >> 2, labels, r0, r1);
      return {
        kernel: 'statsRows',
        args: [z, y, r1 - r0, K, 1 / request.temperature, request.smoothing, request.ignoreIndex, 0, confidence, prediction, entropy, logP, rank, brier, smoothed, rankCap, scratch],
      };
    },
    finish: ([, y, confidence, prediction, rank, keysAt, entropy, logP, brier, smoothed], r0, r1) => {
      if (r0 !== next) return false;
      const written = pool.local.statsAccumulate(
        y, r1 - r0, request.ignoreIndex, confidence, prediction, entropy, logP, rank, brier, smoothed,
        sumsAt, topKAt, topK.length, bins, keysAt,
      );
      copy(keys, into.keysAt + counted, pool.i32, keysAt >> 2, (keysAt >> 2) + written);
      counted += written;
      next = r1;
      return true;
    },
  });
  return {
    job,
    sum: () => {
      sums.set(pool.f64.subarray(sumsAt >> 3, (sumsAt >> 3) + sums.length));
      return counted;
    },
    release: () => pool.heap.release(block.at[0]),
  };
}

/** One pass of temperature scaling: temperatureRows per chunk there, temperatureSum here in row order. */
export function temperatureJob(pool: SharedPool, request: TemperatureRequest): SummedJob<Float64Array> {
  const { logits, labels, rows, numClasses: K } = request;
  const sumsAt = pool.heap.alloc(32, 'a temperature pass');
  pool.refreshViews();
  if (request.sumsIn) pool.f64.set(request.sumsIn, sumsAt >> 3);
  else pool.f64.fill(0, sumsAt >> 3, (sumsAt >> 3) + 4);
  let next = 0;
  const job = regionJob(pool, rows, K, (n) => [4 * n * K, 4 * n, 24 * n], {
    post: ([z, y, out], r0, r1) => {
      copy(pool.f32, z >> 2, logits, r0 * K, r1 * K);
      copy(pool.i32, y >> 2, labels, r0, r1);
      return { kernel: 'temperatureRows', args: [z, y, r1 - r0, K, request.beta, request.ignoreIndex, out] };
    },
    finish: ([, y, out], r0, r1) => {
      if (r0 !== next) return false;
      pool.local.temperatureSum(y, r1 - r0, request.ignoreIndex, out, sumsAt);
      next = r1;
      return true;
    },
  });
  return { job, sum: () => pool.f64.slice(sumsAt >> 3, (sumsAt >> 3) + 4), release: () => pool.heap.release(sumsAt) };
}
