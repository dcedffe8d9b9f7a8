/**
 * The only module that touches wasm linear memory. It owns one instance per backend
 * with a streaming arena, copies rows in, calls the kernel once per chunk, and copies
 * the results out. Zero-copy batches get an instance of their own (see createBatch).
 *
 * Arena layout for one call (byte offsets from the heap base, 16-aligned):
 *   [weight K f32]? [kernel scratch] | chunk: [logits rows·K f32 (gradient written over them)]
 *   [targets rows·K f32]? [labels rows i32]? [losses rows f32]? [lse rows f32]?
 * Rows per chunk = what fits in the arena (at least one: a single row larger than the
 * arena grows the memory). After `memory.grow` every JS view of the old buffer is
 * detached, so views are rebuilt right after each growth and never handed out.
 */
import type { Backend, BatchStorage, HardRequest, LabelCounter, SoftRequest, TargetChecker } from '../backend.js';
import { countLabels, firstBadTarget } from '../js/labels.js';
import { compile, instantiateWith, instantiateWithSync, PAGE, MAX_PAGES, type KernelExports, type WasmBackendName } from './load.js';

const align16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

/** Target bytes of one chunk: small enough to stay in a core's L2 cache between passes. */
const CHUNK_BYTES = 256 * 1024;

interface Parts { weight: boolean; targets: boolean; labels: boolean; losses: boolean; lse: boolean }

/** Byte offsets of one call's regions. */
interface Layout {
  weight: number;
  scratch: number;
  logits: number;
  targets: number;
  labels: number;
  losses: number;
  lse: number;
  end: number;
}

/** Regions for `rows` rows after the fixed per-call regions, starting at `base` (no closures: this runs per call). */
function layout(base: number, rows: number, K: number, parts: Parts): Layout {
  const weight = parts.weight ? base : 0;
  const scratch = align16(base + (parts.weight ? 4 * K : 0));
  const logits = align16(scratch + scratchBytes(K, parts.targets));
  let at = align16(logits + 4 * rows * K);
  const targets = parts.targets ? at : 0;
  if (parts.targets) at = align16(at + 4 * rows * K);
  const labels = parts.labels ? at : 0;
  if (parts.labels) at = align16(at + 4 * rows);
  const losses = parts.losses ? at : 0;
  if (parts.losses) at = align16(at + 4 * rows);
  const lse = parts.lse ? at : 0;
  if (parts.lse) at = align16(at + 4 * rows);
  return { weight, scratch, logits, targets, labels, losses, lse, end: at };
}

/**
 * Kernel scratch: the small-K kernels' blocks of column vectors (must match SMALL_K,
 * blockGroups and their layouts in assembly/small.ts and softsmall.ts), else one row for
 * the softcap.
 */
const SMALL_K = 64;
const blockGroups = (K: number) => (K <= 32 ? 32 : 16);
const scratchBytes = (K: number, soft: boolean) =>
  K > SMALL_K ? 4 * K : soft ? 16 * blockGroups(K) * (2 * K + 5) : 16 * blockGroups(K) * (K + 5);

/** Batches of fewer rows skip the small-K kernel, which would fill its lanes with copies. */
const ROWS_PER_VECTOR = 4;

/** Below this many elements a plain loop beats creating a subarray view to copy with. */
const SMALL_COPY = 64;

/** dst[at..] ← src[from..to), without allocating for short runs (also the outputs out of memory). */
function copy(dst: Float32Array | Int32Array, at: number, src: Float32Array | Int32Array | Uint8Array | Uint16Array | Uint32Array, from: number, to: number): void {
  if (to - from <= SMALL_COPY) {
    for (let i = from; i < to; i++) dst[at + i - from] = src[i];
  } else if (from === 0 && to === src.length) {
    dst.set(src, at);
  } else {
    dst.set(src.subarray(from, to), at);
  }
}

/** Rows r0…r1 of a chunk's outputs (gradient, row losses, lse), each when wanted, to the caller's arrays. */
function copyOutputs(
  f32: Float32Array, at: Layout, K: number, r0: number, r1: number,
  grad: Float32Array | null, losses: Float32Array | null, lse: Float32Array | null,
): void {
  if (grad) copy(grad, r0 * K, f32, at.logits >> 2, (at.logits >> 2) + (r1 - r0) * K);
  if (losses) copy(losses, r0, f32, at.losses >> 2, (at.losses >> 2) + (r1 - r0));
  if (lse) copy(lse, r0, f32, at.lse >> 2, (at.lse >> 2) + (r1 - r0));
}

function pagesFor(bytes: number, what: string): number {
  const pages = Math.ceil(bytes / PAGE);
  if (pages > MAX_PAGES) throw new RangeError(`${what} needs ${bytes} bytes of wasm memory, more than the 4 GiB wasm32 can address`);
  return pages;
}

export class WasmBackend implements Backend {
  private f32: Float32Array;
  private i32: Int32Array;
  private readonly base: number;

  private constructor(
    readonly name: WasmBackendName,
    private readonly module: WebAssembly.Module,
    private readonly kernels: KernelExports,
    private readonly memory: WebAssembly.Memory,
    private readonly arenaBytes: number,
  ) {
    this.base = kernels.heapBase();
    this.ensureBytes(this.base + arenaBytes);
    this.f32 = new Float32Array(memory.buffer);
    this.i32 = new Int32Array(memory.buffer);
  }

  static async create(name: WasmBackendName, arenaBytes: number): Promise<WasmBackend> {
    const module = await compile(name);
    const { exports, memory } = await instantiateWith(module, 1);
    return new WasmBackend(name, module, exports, memory, arenaBytes);
  }

  /** Grows the memory to at least `bytes` and rebuilds the views (the old ones are detached). */
  private ensureBytes(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes <= have) return;
    this.memory.grow(pagesFor(bytes, 'this call') - have / PAGE);
    this.f32 = new Float32Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
  }

  /**
   * Rows per chunk: as many as fill CHUNK_BYTES (so that a chunk's copy in, three passes
   * and copy out all hit the cache), never more than the arena holds, at least one; a
   * multiple of ROWS_PER_VECTOR when more, so that chunks hold whole groups of the small-K
   * kernel, which sums its row losses group by group: the result does not depend on the
   * arena's size.
   */
  private rowsPerChunk(rows: number, fixed: number, perRow: number): number {
    const budget = Math.min(CHUNK_BYTES, this.arenaBytes - fixed);
    const fit = Math.max(1, Math.floor(budget / perRow));
    return Math.min(rows, fit < ROWS_PER_VECTOR ? fit : fit - (fit % ROWS_PER_VECTOR));
  }

  /**
   * LabelCounter: the labels are copied into the arena and scanned in wasm (in passes that
   * fit), ~40× faster than the JS loop. Short arrays stay in JS, and so do Uint32Array
   * labels, whose values ≥ 2³¹ would wrap to negative numbers in the arena's int32s.
   */
  readonly countLabels: LabelCounter = (labels, numClasses, ignoreIndex, weight) => {
    const n = labels.length;
    if (n <= SMALL_COPY || labels instanceof Uint32Array) return countLabels(labels, numClasses, ignoreIndex, weight);
    const weightAt = this.base;
    const labelsAt = align16(weightAt + 4 * numClasses);
    const pass = Math.min(n, Math.max(1024, Math.floor((this.base + this.arenaBytes - labelsAt) / 4)));
    this.ensureBytes(labelsAt + 4 * pass);
    const { f32, i32, kernels } = this;
    if (weight) copy(f32, weightAt >> 2, weight, 0, numClasses);
    let counted = 0;
    for (let i0 = 0; i0 < n; i0 += pass) {
      const i1 = Math.min(n, i0 + pass);
      copy(i32, labelsAt >> 2, labels, i0, i1);
      const c = kernels.labelScan(labelsAt, i1 - i0, numClasses, ignoreIndex);
      if (c < 0) return c - i0;
      counted = weight ? kernels.labelWeightSum(labelsAt, i1 - i0, weightAt, ignoreIndex, counted) : counted + c;
    }
    return counted;
  };

  /** TargetChecker: the targets are copied into the arena and scanned in wasm, in passes that fit. */
  readonly firstBadTarget: TargetChecker = (targets) => {
    const n = targets.length;
    if (n <= SMALL_COPY) return firstBadTarget(targets);
    const pass = Math.min(n, Math.floor(this.arenaBytes / 4));
    const { f32, kernels, base } = this;
    for (let i0 = 0; i0 < n; i0 += pass) {
      const i1 = Math.min(n, i0 + pass);
      copy(f32, base >> 2, targets, i0, i1);
      const bad = kernels.firstBadTarget(base, i1 - i0);
      if (bad >= 0) return i0 + bad;
    }
    return -1;
  };

  hard(request: HardRequest): number {
    const { logits, labels, rows, numClasses: K, grad, losses, lse, weight } = request;
    if (rows === 0) return 0;
    const parts = { weight: weight !== null, targets: false, labels: true, losses: losses !== null, lse: lse !== null };
    const fixed = layout(0, 0, K, parts).end + 64;
    const perRow = 4 * K + 4 * (1 + Number(parts.losses) + Number(parts.lse));
    const chunk = this.rowsPerChunk(rows, fixed, perRow);
    const at = layout(this.base, chunk, K, parts);
    this.ensureBytes(at.end);
    const { f32, i32, kernels } = this;
    if (weight) copy(f32, at.weight >> 2, weight, 0, K);
    let sum = 0;
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const r1 = Math.min(rows, r0 + chunk);
      copy(f32, at.logits >> 2, logits, r0 * K, r1 * K);
      copy(i32, at.labels >> 2, labels, r0, r1);
      sum = kernels.xentRows(
        at.logits, grad ? at.logits : 0, at.labels, r1 - r0, K,
        request.smoothing, request.scale, request.ignoreIndex,
        at.weight, request.weightSum, request.zLoss, request.softcap, at.scratch,
        at.losses, at.lse, sum, rows < ROWS_PER_VECTOR,
      );
      copyOutputs(f32, at, K, r0, r1, grad, losses, lse);
    }
    return sum;
  }

  soft(request: SoftRequest): number {
    const { logits, targets, rows, numClasses: K, grad, losses, lse, weight } = request;
    if (rows === 0) return 0;
    const parts = { weight: weight !== null, targets: true, labels: false, losses: losses !== null, lse: lse !== null };
    const fixed = layout(0, 0, K, parts).end + 64;
    const perRow = 8 * K + 4 * (Number(parts.losses) + Number(parts.lse));
    const chunk = this.rowsPerChunk(rows, fixed, perRow);
    const at = layout(this.base, chunk, K, parts);
    this.ensureBytes(at.end);
    const { f32, kernels } = this;
    if (weight) copy(f32, at.weight >> 2, weight, 0, K);
    let sum = 0;
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const r1 = Math.min(rows, r0 + chunk);
      copy(f32, at.logits >> 2, logits, r0 * K, r1 * K);
      copy(f32, at.targets >> 2, targets, r0 * K, r1 * K);
      sum = kernels.softRows(
        at.logits, at.targets, grad ? at.logits : 0, r1 - r0, K,
        request.smoothing, request.scale, at.weight, request.temperature,
        at.losses, at.lse, sum, at.scratch, rows < ROWS_PER_VECTOR,
      );
      copyOutputs(f32, at, K, r0, r1, grad, losses, lse);
    }
    return sum;
  }

  /**
   * A zero-copy batch: an instance of its own whose memory is sized once, with its maximum
   * equal to its initial size, so it can never grow and the views handed out (logits,
   * labels, grad) can never be detached while the batch is alive.
   */
  createBatch(rows: number, K: number): BatchStorage {
    const parts = { weight: true, targets: false, labels: true, losses: true, lse: true };
    const at = layout(this.base, rows, K, parts);
    const gradAt = align16(at.end);
    const end = gradAt + 4 * rows * K;
    const pages = pagesFor(end, `a batch of ${rows}×${K}`);
    const { exports: kernels, memory } = instantiateWithSync(this.module, pages, pages);
    const buffer = memory.buffer;
    const f32 = new Float32Array(buffer);
    const logits = new Float32Array(buffer, at.logits, rows * K);
    const labels = new Int32Array(buffer, at.labels, rows);
    const grad = new Float32Array(buffer, gradAt, rows * K);
    let alive = true;
    return {
      logits, labels, grad,
      countLabels(numClasses, ignoreIndex, weight) {
        if (!alive) throw new Error('this batch was disposed');
        const counted = kernels.labelScan(at.labels, rows, numClasses, ignoreIndex);
        if (counted < 0 || !weight) return counted;
        copy(f32, at.weight >> 2, weight, 0, K);
        return kernels.labelWeightSum(at.labels, rows, at.weight, ignoreIndex, 0);
      },
      hard(request, gradMode, wantLosses, wantLse) {
        if (!alive) throw new Error('this batch was disposed');
        if (request.weight) copy(f32, at.weight >> 2, request.weight, 0, K);
        const gradPtr = gradMode === 'own' ? gradAt : gradMode === 'inplace' ? at.logits : 0;
        const sum = rows === 0 ? 0 : kernels.xentRows(
          at.logits, gradPtr, at.labels, rows, K,
          request.smoothing, request.scale, request.ignoreIndex,
          request.weight ? at.weight : 0, request.weightSum, request.zLoss, request.softcap, at.scratch,
          wantLosses ? at.losses : 0, wantLse ? at.lse : 0, 0, rows < ROWS_PER_VECTOR,
        );
        return {
          sum,
          losses: wantLosses ? f32.slice(at.losses >> 2, (at.losses >> 2) + rows) : null,
          lse: wantLse ? f32.slice(at.lse >> 2, (at.lse >> 2) + rows) : null,
        };
      },
      dispose() {
        alive = false;
      },
    };
  }
}
