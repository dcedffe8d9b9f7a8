/**
 * Jobs over the caller's arrays (crossEntropy and softCrossEntropy on a SharedPool): each
 * chunk's rows are copied into a command slot of a worker's arena, computed there, and its
 * gradient, row losses and lse copied out to the caller's arrays (or the pool's row-loss
 * buffer); the sum is then taken here, in row order, as the kernel sums (sum.ts).
 *
 * A worker's arena: [weight K f32]? then SLOTS chunk regions, each laid out as the bridge lays
 * out one call (kernel scratch, logits with the gradient written over them, targets or labels,
 * losses, lse; src/wasm/bridge.ts layout).
 */
import type { HardRequest, SoftRequest } from '../backend.js';
import { align16, CHUNK_BYTES, SMALL_K, copy, copyHalfIn, copyHalfOut, copyOutputs, halfArgs, layout, ROWS_PER_VECTOR, sumsInGroups, type Layout, type Parts } from '../wasm/bridge.js';
import type { Job, Member, SharedPool } from './pool.js';
import { RANGE_MAX_CHUNKS, SLOTS, type KernelName } from './protocol.js';
import { rowLossSum } from './sum.js';

/** Chunks per worker a call aims for at least, so that a slower worker holds it up by little… */
const CHUNKS_PER_WORKER = 4;
/** …but no chunk smaller than this (bytes of logits): a small call is one chunk, one round trip. */
const MIN_CHUNK_BYTES = 64 * 1024;
/**
 * Target bytes of a worker's chunk: larger than the bridge's CHUNK_BYTES, whose point (the
 * chunk still in this core's L2 between copy-in, kernel and copy-out) is lost anyway when the
 * copies run on another core; fewer chunks mean fewer wake-ups of this thread and the workers.
 */
export const POOL_CHUNK_BYTES = 4 * CHUNK_BYTES;

/**
 * Bytes of logits per chunk of a range call (pool.ts RangeJob: threads claim chunks from one
 * counter, so a chunk costs an atomic add, not a hand-over): small, so that the threads end
 * within a chunk of each other, yet tens of µs of work, so the claims cost nothing measurable.
 */
export const RANGE_CHUNK_BYTES = 32 * 1024;

/**
 * Rows per chunk of a range call, at most RANGE_MAX_CHUNKS chunks: for small K (≤ SMALL_K, whose
 * kernels take rows four at a time and sum them in groups) a multiple of four, at least four;
 * above, the kernels take each row on its own, so any number of rows (32×128000 is then 32
 * chunks of a row, not 8 of four: the threads end closer together).
 */
export function rangeRows(rows: number, K: number): number {
  const share = Math.max(1, Math.ceil(RANGE_CHUNK_BYTES / (4 * K)), Math.ceil(rows / RANGE_MAX_CHUNKS));
  if (K > SMALL_K) return share;
  return Math.max(ROWS_PER_VECTOR, Math.ceil(share / ROWS_PER_VECTOR) * ROWS_PER_VECTOR);
}

/** A job and what it leaves (the sum of the row losses, …), read once the job is done. */
export interface SummedJob<T = number> {
  job: Job;
  sum(): T;
  /** Frees what the job allocated for the call (after it is done or abandoned). */
  release?(): void;
}

/**
 * Rows per chunk for `workers` workers: at least CHUNKS_PER_WORKER chunks each, but no chunk
 * under MIN_CHUNK_BYTES of logits; a multiple of four rows (whole small-K groups), at least four.
 */
export function shareRows(rows: number, K: number, workers: number): number {
  const share = Math.max(Math.ceil(rows / (workers * CHUNKS_PER_WORKER)), Math.ceil(MIN_CHUNK_BYTES / (4 * K)));
  return Math.max(ROWS_PER_VECTOR, Math.ceil(share / ROWS_PER_VECTOR) * ROWS_PER_VECTOR);
}

/** Rows per chunk: what fits the slot budget, in whole groups of four, split for the workers (shareRows). */
export function chunkRows(pool: SharedPool, rows: number, K: number, fixed: number, perRow: number, workers: number): number {
  const budget = Math.max(perRow, Math.min(pool.chunkBytes, Math.floor(pool.arenaBytes / (workers * SLOTS))) - fixed);
  const fit = Math.max(1, Math.floor(budget / perRow));
  const chunk = fit < ROWS_PER_VECTOR ? fit : fit - (fit % ROWS_PER_VECTOR);
  return Math.min(rows, chunk < ROWS_PER_VECTOR ? chunk : Math.min(chunk, shareRows(rows, K, workers)));
}

/** crossEntropy on the caller's arrays. */
export function hardJob(pool: SharedPool, request: HardRequest, rowWise: boolean): SummedJob {
  const { rows, numClasses: K, weight, grad, lse } = request;
  const half = request.half ?? null;
  const parts: Parts = { weight: false, targets: false, labels: true, losses: true, lse: lse !== null };
  const losses = request.losses ?? pool.lossesFor(rows);
  const job = copyJob(pool, rows, K, parts, weight, 4 * K + 4 * (2 + Number(lse !== null)), {
    copyIn: (at, r0, r1) => {
      copyLogitsIn(pool, request, at, r0, r1);
      copy(pool.i32, at.labels >> 2, request.labels, r0, r1);
    },
    kernel: (at, weightAt, rowsInChunk) => {
      const args = [
        at.logits, grad || half?.grad ? at.logits : 0, at.labels, rowsInChunk, K,
        request.smoothing, request.scale, request.ignoreIndex,
        weightAt, request.weightSum, request.zLoss, request.softcap, at.scratch,
        at.losses, at.lse, 0, Number(rowWise),
      ];
      return half ? { kernel: 'xentRowsHalf', args: [...halfArgs(half), ...args] } : { kernel: 'xentRows', args };
    },
    copyOut: (at, r0, r1) => copyLogitsOut(pool, request, at, r0, r1, losses),
  });
  return { job, sum: () => rowLossSum(losses, rows, sumsInGroups(pool.backend, K, request.softcap, rowWise)) };
}

/** softCrossEntropy on the caller's arrays. */
export function softJob(pool: SharedPool, request: SoftRequest, rowWise: boolean): SummedJob {
  const { rows, numClasses: K, weight, grad, lse } = request;
  const half = request.half ?? null;
  const parts: Parts = { weight: false, targets: true, labels: false, losses: true, lse: lse !== null };
  const losses = request.losses ?? pool.lossesFor(rows);
  const job = copyJob(pool, rows, K, parts, weight, 8 * K + 4 * (1 + Number(lse !== null)), {
    copyIn: (at, r0, r1) => {
      copyLogitsIn(pool, request, at, r0, r1);
      copy(pool.f32, at.targets >> 2, request.targets, r0 * K, r1 * K);
    },
    kernel: (at, weightAt, rowsInChunk) => {
      const args = [
        at.logits, at.targets, grad || half?.grad ? at.logits : 0, rowsInChunk, K,
        request.smoothing, request.scale, weightAt, request.temperature,
        at.losses, at.lse, 0, at.scratch, Number(rowWise),
      ];
      return half ? { kernel: 'softRowsHalf', args: [...halfArgs(half), ...args] } : { kernel: 'softRows', args };
    },
    copyOut: (at, r0, r1) => copyLogitsOut(pool, request, at, r0, r1, losses),
  });
  return { job, sum: () => rowLossSum(losses, rows, sumsInGroups(pool.backend, K, 0, rowWise)) };
}

/** A chunk's logits into its slot: float32, or 16-bit bits that its worker decodes (assembly/half.ts). */
function copyLogitsIn(pool: SharedPool, request: HardRequest | SoftRequest, at: Layout, r0: number, r1: number): void {
  const K = request.numClasses;
  if (request.half) copyHalfIn(pool.u16, at, K, r0, r1, request.half);
  else copy(pool.f32, at.logits >> 2, request.logits, r0 * K, r1 * K);
}

/** A chunk's gradient (float32 or 16-bit), row losses and lse out. */
function copyLogitsOut(pool: SharedPool, request: HardRequest | SoftRequest, at: Layout, r0: number, r1: number, losses: Float32Array): void {
  const K = request.numClasses;
  copyOutputs(pool.f32, at, K, r0, r1, request.grad, losses, request.lse);
  if (request.half) copyHalfOut(pool.u16, at, K, r0, r1, request.half);
}

/**
 * A job over the caller's arrays, given how a chunk is copied in, computed and copied out;
 * `tailBytes` of scratch per slot after the chunk's regions (at align16(at.end)).
 */
export function copyJob(
  pool: SharedPool, rows: number, K: number, parts: Parts, weight: Float32Array | null, perRow: number,
  steps: {
    copyIn(at: Layout, r0: number, r1: number): void;
    kernel(at: Layout, weightAt: number, rowsInChunk: number, r0: number): { kernel: KernelName; args: number[] };
    copyOut(at: Layout, r0: number, r1: number): void;
  },
  tailBytes = 0,
): Job {
  const workers = pool.usable().length || 1;
  const fixed = layout(0, 0, K, parts).end + 64 + tailBytes;
  const rowsPerChunk = chunkRows(pool, rows, K, fixed, perRow, workers);
  const slotBytes = align16(align16(layout(0, rowsPerChunk, K, parts).end) + tailBytes);
  const weightBytes = weight ? align16(4 * K) : 0;
  const slotAt = (m: Member, slot: number, rowsInChunk: number) => layout(m.arenaAt + weightBytes + slot * slotBytes, rowsInChunk, K, parts);
  return {
    rows,
    chunkRows: rowsPerChunk,
    anyOrder: true,
    minRows: Math.min(rowsPerChunk, rangeRows(rows, K)),
    arenaBytes: weightBytes + SLOTS * slotBytes,
    begin: (m) => {
      if (weight) copy(pool.f32, m.arenaAt >> 2, weight, 0, K);
    },
    post: (m, slot, r0, r1) => {
      const at = slotAt(m, slot, r1 - r0);
      steps.copyIn(at, r0, r1);
      return steps.kernel(at, weight ? m.arenaAt : 0, r1 - r0, r0);
    },
    finish: (m, slot, r0, r1) => {
      steps.copyOut(slotAt(m, slot, r1 - r0), r0, r1);
      return true;
    },
  };
}
