/**
 * A zero-copy batch in the pool's shared memory (SharedPool.createBatch): its logits, labels
 * and gradient are views of that memory, so the workers compute on them in place — no copies
 * in or out on any thread. Small sync calls run on this thread's own instance over the same
 * memory; large ones (threads > 1, where this thread may block) and async ones on the workers,
 * as commands over ranges of rows; the row losses land in the batch's losses region and are
 * summed in row order (sum.ts), so every path gives the same bits.
 */
import type { BatchStorage } from '../backend.js';
import { align16, copy, layout, ROWS_PER_VECTOR, scratchBytes, sumsInGroups, type Layout, type Parts } from '../wasm/bridge.js';
import { rangeRows, shareRows, type SummedJob } from './jobs.js';
import { syncCost } from './cost.js';
import type { Job, RangeJob, SharedPool } from './pool.js';
import { SLOTS } from './protocol.js';
import { rowLossSum } from './sum.js';

type BatchRequest = Parameters<BatchStorage['hard']>[0];
type GradMode = Parameters<BatchStorage['hard']>[1];

export class SharedBatch implements BatchStorage {
  readonly logits: Float32Array;
  readonly labels: Int32Array;
  readonly grad: Float32Array;
  private readonly at: Layout;
  private readonly gradAt: number;
  private alive = true;
  private running = 0;

  constructor(private readonly pool: SharedPool, private readonly base: number, readonly rows: number, readonly K: number, private readonly syncThreshold: () => number) {
    const parts: Parts = { weight: true, targets: false, labels: true, losses: true, lse: true };
    this.at = layout(base, rows, K, parts);
    this.gradAt = align16(this.at.end);
    const buffer = pool.memory.buffer;
    this.logits = new Float32Array(buffer, this.at.logits, rows * K);
    this.labels = new Int32Array(buffer, this.at.labels, rows);
    this.grad = new Float32Array(buffer, this.gradAt, rows * K);
  }

  countLabels(numClasses: number, ignoreIndex: number, weight: Float32Array | null): number {
    this.checkIdle();
    const { local } = this.pool;
    const counted = local.labelScan(this.at.labels, this.rows, numClasses, ignoreIndex);
    if (counted < 0 || !weight) return counted;
    copy(this.pool.f32, this.at.weight >> 2, weight, 0, this.K);
    return local.labelWeightSum(this.at.labels, this.rows, this.at.weight, ignoreIndex, 0);
  }

  /** A batch's memory is its calls' memory: one call at a time. */
  private checkIdle(): void {
    if (!this.alive) throw new Error('this batch was disposed');
    if (this.running > 0) throw new Error('an async call on this batch is still running; await it first');
  }

  hard(request: BatchRequest, gradMode: GradMode, wantLosses: boolean, wantLse: boolean) {
    this.checkIdle();
    this.writeWeight(request);
    const { rows, K, at } = this;
    let sum: number;
    if (this.pool.threads > 1 && syncCost(rows, K) >= this.syncThreshold() && this.pool.canRunSync(true)) {
      this.pool.runRange(this.rangeJob(request, gradMode, wantLse), 'batch.crossEntropy');
      sum = this.lossSum(request.softcap);
    } else {
      sum = rows === 0 ? 0 : this.pool.local.xentRows(
        at.logits, this.gradPointer(gradMode), at.labels, rows, K,
        request.smoothing, request.scale, request.ignoreIndex,
        request.weight ? at.weight : 0, request.weightSum, request.zLoss, request.softcap, at.scratch,
        wantLosses ? at.losses : 0, wantLse ? at.lse : 0, 0, rows < ROWS_PER_VECTOR,
      );
    }
    return this.results(sum, wantLosses, wantLse);
  }

  async hardAsync(request: BatchRequest, gradMode: GradMode, wantLosses: boolean, wantLse: boolean, signal: AbortSignal | null) {
    this.checkIdle();
    this.running++;
    try {
      const sum = await this.pool.sumAsync(() => {
        // The weights go in when the call's turn comes, not while an earlier call may read them.
        this.writeWeight(request);
        return this.job(request, gradMode, wantLse);
      }, signal, 'batch.crossEntropyAsync');
      return this.results(sum, wantLosses, wantLse);
    } finally {
      this.running--;
      if (!this.alive && this.running === 0) this.pool.heap.release(this.base);
    }
  }

  private writeWeight(request: BatchRequest): void {
    if (request.weight) copy(this.pool.f32, this.at.weight >> 2, request.weight, 0, this.K);
  }

  private gradPointer(gradMode: GradMode): number {
    return gradMode === 'own' ? this.gradAt : gradMode === 'inplace' ? this.at.logits : 0;
  }

  /** A sync call: every thread claims chunks of the batch's rows (pool.ts RangeJob); each arena holds only kernel scratch. */
  private rangeJob(request: BatchRequest, gradMode: GradMode, wantLse: boolean): RangeJob {
    const { rows, K, at } = this;
    const gradAt = this.gradPointer(gradMode);
    const args = [
      at.logits, gradAt, at.labels, 0, K,
      request.smoothing, request.scale, request.ignoreIndex,
      request.weight ? at.weight : 0, request.weightSum, request.zLoss, request.softcap, 0,
      at.losses, wantLse ? at.lse : 0, 0, Number(rows < ROWS_PER_VECTOR),
    ];
    const strides = args.map(() => 0);
    strides[0] = 4 * K;
    strides[1] = gradAt ? 4 * K : 0;
    strides[2] = 4;
    strides[13] = 4;
    strides[14] = wantLse ? 4 : 0;
    return { rows, chunkRows: rangeRows(rows, K), arenaBytes: align16(scratchBytes(K, false)), kernel: 'xentRows', args, strides, rowsArg: 3, scratchArg: 12 };
  }

  /** The sum of the row losses the kernel wrote, in row order (sum.ts). */
  private lossSum(softcap: number): number {
    const { rows, K, at, pool } = this;
    const losses = new Float32Array(pool.memory.buffer, at.losses, rows);
    return rowLossSum(losses, rows, sumsInGroups(pool.backend, K, softcap, rows < ROWS_PER_VECTOR));
  }

  /** Commands over ranges of the batch's rows; each worker's arena holds only kernel scratch. */
  private job(request: BatchRequest, gradMode: GradMode, wantLse: boolean): SummedJob {
    const { rows, K, at } = this;
    const pool = this.pool;
    const rowWise = rows < ROWS_PER_VECTOR;
    const workers = Math.max(1, pool.threads);
    const scratch = align16(scratchBytes(K, false));
    const chunkRows = Math.min(rows, shareRows(rows, K, workers));
    const gradAt = this.gradPointer(gradMode);
    const job: Job = {
      rows,
      chunkRows,
      arenaBytes: SLOTS * scratch,
      begin: () => {},
      post: (m, slot, r0, r1) => ({
        kernel: 'xentRows',
        args: [
          at.logits + 4 * r0 * K, gradAt ? gradAt + 4 * r0 * K : 0, at.labels + 4 * r0, r1 - r0, K,
          request.smoothing, request.scale, request.ignoreIndex,
          request.weight ? at.weight : 0, request.weightSum, request.zLoss, request.softcap, m.arenaAt + slot * scratch,
          at.losses + 4 * r0, wantLse ? at.lse + 4 * r0 : 0, 0, Number(rowWise),
        ],
      }),
      finish: () => true,
    };
    const losses = new Float32Array(pool.memory.buffer, at.losses, rows);
    return { job, sum: () => rowLossSum(losses, rows, sumsInGroups(pool.backend, K, request.softcap, rowWise)) };
  }

  private results(sum: number, wantLosses: boolean, wantLse: boolean) {
    const f32 = this.pool.f32;
    const { at, rows } = this;
    return {
      sum,
      losses: wantLosses ? f32.slice(at.losses >> 2, (at.losses >> 2) + rows) : null,
      lse: wantLse ? f32.slice(at.lse >> 2, (at.lse >> 2) + rows) : null,
    };
  }

  dispose(): void {
    if (!this.alive) return;
    this.alive = false;
    if (this.running === 0) this.pool.heap.release(this.base);
  }
}
