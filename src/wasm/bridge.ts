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
import {
  HALF_FORMATS, type Accumulation, type Backend, type BatchStorage, type HalfLogits, type HardRequest, type LabelCounter, type RowStatsOutputs,
  type SoftmaxRequest, type SoftRequest, type StatsRequest, type TargetChecker, type TemperatureRequest,
} from '../backend.js';
import { countLabels, firstBadTarget } from '../js/labels.js';
import { instantiate, PAGE, MAX_PAGES, type KernelExports, type WasmBackendName } from './instance.js';
import { chunkShape, copyGradPositionsOut, copyPositions, copyLogitPositionsIn, stridedChunk, stridedDtype, tileBytes, wantsGrad } from '../layout.js';

export const align16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

/** Target bytes of one chunk: small enough to stay in a core's L2 cache between passes. */
export const CHUNK_BYTES = 256 * 1024;

export interface Parts { weight: boolean; targets: boolean; labels: boolean; losses: boolean; lse: boolean }

/** Byte offsets of one call's regions. */
export interface Layout {
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
export function layout(base: number, rows: number, K: number, parts: Parts): Layout {
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
export const SMALL_K = 64;
const blockGroups = (K: number) => (K <= 32 ? 32 : 16);
export const scratchBytes = (K: number, soft: boolean) =>
  K > SMALL_K ? 4 * K : soft ? 16 * blockGroups(K) * (2 * K + 5) : 16 * blockGroups(K) * (K + 5);

/** Scratch of the stats kernels: K column vectors for K ≤ 64 (must match smallStatsScratch in assembly/statssmall.ts). */
export const statsScratchBytes = (K: number) => (K <= SMALL_K ? 16 * K : 0);

/**
 * Whether a kernel call sums its row losses four rows at a time, (l0 + l2) + (l1 + l3) per
 * full group (the SIMD builds' small-K kernels, addRowLosses in assembly/small.ts), rather
 * than one by one. Must match the dispatch in assembly/xent.ts and soft.ts: a pool that sums
 * the rows' written losses itself (src/threads/sum.ts) adds them the same way.
 */
export function sumsInGroups(backend: WasmBackendName, K: number, softcap: number, rowWise: boolean): boolean {
  return backend !== 'wasm' && K <= SMALL_K && softcap === 0 && !rowWise;
}

/** Batches of fewer rows skip the small-K kernel, which would fill its lanes with copies. */
export const ROWS_PER_VECTOR = 4;

/** Below this many elements a plain loop beats creating a subarray view to copy with. */
const SMALL_COPY = 64;

/** dst[at..] ← src[from..to), without allocating for short runs (also the outputs out of memory). */
export function copy(dst: Float32Array | Int32Array | Uint32Array | Uint16Array, at: number, src: Float32Array | Int32Array | Uint8Array | Uint16Array | Uint32Array, from: number, to: number): void {
  if (to - from <= SMALL_COPY) {
    for (let i = from; i < to; i++) dst[at + i - from] = src[i];
  } else if (from === 0 && to === src.length) {
    dst.set(src, at);
  } else {
    dst.set(src.subarray(from, to), at);
  }
}

/** Rows r0…r1 of a chunk's outputs (gradient, row losses, lse), each when wanted, to the caller's arrays. */
export function copyOutputs(
  f32: Float32Array, at: Layout, K: number, r0: number, r1: number,
  grad: Float32Array | null, losses: Float32Array | null, lse: Float32Array | null,
): void {
  if (grad) copy(grad, r0 * K, f32, at.logits >> 2, (at.logits >> 2) + (r1 - r0) * K);
  if (losses) copy(losses, r0, f32, at.losses >> 2, (at.losses >> 2) + (r1 - r0));
  if (lse) copy(lse, r0, f32, at.lse >> 2, (at.lse >> 2) + (r1 - r0));
}

/**
 * 16-bit logits (src/dtype.ts): rows r0…r1 of their bits into the upper half of a chunk's f32
 * logits region, where xentRowsHalf / softRowsHalf decode them (assembly/half.ts).
 */
export function copyHalfIn(u16: Uint16Array, at: Layout, K: number, r0: number, r1: number, half: HalfLogits): void {
  copy(u16, (at.logits >> 1) + (r1 - r0) * K, half.bits, r0 * K, r1 * K);
}

/** The 16-bit gradient the kernel encoded over the start of the logits region, rows r0…r1, out. */
export function copyHalfOut(u16: Uint16Array, at: Layout, K: number, r0: number, r1: number, half: HalfLogits): void {
  if (half.grad) copy(half.grad, r0 * K, u16, at.logits >> 1, (at.logits >> 1) + (r1 - r0) * K);
}

/** The kernel arguments that xentRowsHalf / softRowsHalf put before xentRows' / softRows' own. */
export const halfArgs = (half: HalfLogits): [number, number] => [HALF_FORMATS[half.format], Number(half.grad !== null)];

/**
 * Byte offsets of consecutive 16-aligned regions of the given sizes from `base` (a size of 0
 * gives offset 0, the kernels' "not wanted"), and the end. Each region is followed by 16
 * bytes of slack: the stats kernels read a row's last, partial vector whole (and mask it).
 */
export function regions(base: number, sizes: readonly number[]): { at: number[]; end: number } {
  const at: number[] = [];
  let end = align16(base);
  for (const size of sizes) {
    at.push(size > 0 ? end : 0);
    end = align16(end + size) + (size > 0 ? 16 : 0);
  }
  return { at, end };
}

export function pagesFor(bytes: number, what: string): number {
  const pages = Math.ceil(bytes / PAGE);
  if (pages > MAX_PAGES) throw new RangeError(`${what} needs ${bytes} bytes of wasm memory, more than the 4 GiB wasm32 can address`);
  return pages;
}

export class WasmBackend implements Backend {
  private f32: Float32Array;
  private i32: Int32Array;
  private f64: Float64Array;
  private u16: Uint16Array;
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
    this.f64 = new Float64Array(memory.buffer);
    this.u16 = new Uint16Array(memory.buffer);
  }

  /**
   * A backend on a new instance of the compiled (unshared) module: load.ts's compile(name)
   * on this thread, or a module posted to a worker (the bridge does not import the binaries,
   * so that the worker's bundle does not carry them).
   */
  static fromModule(name: WasmBackendName, module: WebAssembly.Module, arenaBytes: number): WasmBackend {
    const memory = new WebAssembly.Memory({ initial: 1 });
    return new WasmBackend(name, module, instantiate(module, memory), memory, arenaBytes);
  }

  /** Grows the memory to at least `bytes` and rebuilds the views (the old ones are detached). */
  private ensureBytes(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes <= have) return;
    this.memory.grow(pagesFor(bytes, 'this call') - have / PAGE);
    this.f32 = new Float32Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
    this.f64 = new Float64Array(this.memory.buffer);
    this.u16 = new Uint16Array(this.memory.buffer);
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
    const half = request.half ?? null;
    if (rows === 0) return 0;
    if ((request.inner ?? 1) > 1) return this.strided(request, null);
    const parts = { weight: weight !== null, targets: false, labels: true, losses: losses !== null, lse: lse !== null };
    const fixed = layout(0, 0, K, parts).end + 64;
    const perRow = 4 * K + 4 * (1 + Number(parts.losses) + Number(parts.lse));
    const chunk = this.rowsPerChunk(rows, fixed, perRow);
    const at = layout(this.base, chunk, K, parts);
    this.ensureBytes(at.end);
    const { f32, i32, u16, kernels } = this;
    if (weight) copy(f32, at.weight >> 2, weight, 0, K);
    const wantGrad = grad !== null || half?.grad;
    let sum = 0;
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const r1 = Math.min(rows, r0 + chunk);
      if (half) copyHalfIn(u16, at, K, r0, r1, half);
      else copy(f32, at.logits >> 2, logits, r0 * K, r1 * K);
      copy(i32, at.labels >> 2, labels, r0, r1);
      const args = [
        at.logits, wantGrad ? at.logits : 0, at.labels, r1 - r0, K,
        request.smoothing, request.scale, request.ignoreIndex,
        at.weight, request.weightSum, request.zLoss, request.softcap, at.scratch,
        at.losses, at.lse, sum, request.rowWise ?? rows < ROWS_PER_VECTOR,
      ] as const;
      sum = half ? kernels.xentRowsHalf(...halfArgs(half), ...args) : kernels.xentRows(...args);
      copyOutputs(f32, at, K, r0, r1, grad, losses, lse);
      if (half) copyHalfOut(u16, at, K, r0, r1, half);
    }
    return sum;
  }

  soft(request: SoftRequest): number {
    const { logits, targets, rows, numClasses: K, grad, losses, lse, weight } = request;
    const half = request.half ?? null;
    if (rows === 0) return 0;
    if ((request.inner ?? 1) > 1) return this.strided(null, request);
    const parts = { weight: weight !== null, targets: true, labels: false, losses: losses !== null, lse: lse !== null };
    const fixed = layout(0, 0, K, parts).end + 64;
    const perRow = 8 * K + 4 * (Number(parts.losses) + Number(parts.lse));
    const chunk = this.rowsPerChunk(rows, fixed, perRow);
    const at = layout(this.base, chunk, K, parts);
    this.ensureBytes(at.end);
    const { f32, u16, kernels } = this;
    if (weight) copy(f32, at.weight >> 2, weight, 0, K);
    const wantGrad = grad !== null || half?.grad;
    let sum = 0;
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const r1 = Math.min(rows, r0 + chunk);
      if (half) copyHalfIn(u16, at, K, r0, r1, half);
      else copy(f32, at.logits >> 2, logits, r0 * K, r1 * K);
      copy(f32, at.targets >> 2, targets, r0 * K, r1 * K);
      const args = [
        at.logits, at.targets, wantGrad ? at.logits : 0, r1 - r0, K,
        request.smoothing, request.scale, at.weight, request.temperature,
        at.losses, at.lse, sum, at.scratch, request.rowWise ?? rows < ROWS_PER_VECTOR,
      ] as const;
      sum = half ? kernels.softRowsHalf(...halfArgs(half), ...args) : kernels.softRows(...args);
      copyOutputs(f32, at, K, r0, r1, grad, losses, lse);
      if (half) copyHalfOut(u16, at, K, r0, r1, half);
    }
    return sum;
  }

  /**
   * A class axis that is not last (src/layout.ts): chunks of positions copied in as blocks
   * [outers][K][width] (no transpose), xentStrided or softStrided on them; chunks start on
   * multiples of four rows (stridedChunk), so the kernels' sums of their rows' losses, chained
   * from chunk to chunk, have the bits of the transposed call's.
   */
  private strided(hard: HardRequest | null, soft: SoftRequest | null): number {
    const request = (hard ?? soft) as HardRequest | SoftRequest;
    const { rows, numClasses: K, lse, weight } = request;
    const inner = request.inner as number;
    const rowWise = request.rowWise ?? rows < ROWS_PER_VECTOR;
    const parts = { weight: weight !== null, targets: soft !== null, labels: hard !== null, losses: true, lse: lse !== null };
    const tiles = tileBytes(K, soft !== null);
    const fixed = layout(0, 0, K, parts).end + 64 + tiles;
    const perRow = (soft ? 8 : 4) * K + 4 * (2 + Number(parts.lse));
    const chunk = Math.min(rows, stridedChunk(this.rowsPerChunk(rows, fixed, perRow), inner, Math.max(1, Math.floor((this.arenaBytes - fixed) / perRow))));
    const at = layout(this.base, chunk, K, parts);
    const tilesAt = align16(at.end);
    this.ensureBytes(tilesAt + tiles);
    const { f32, i32, u16, kernels } = this;
    const gradAt = wantsGrad(request) ? at.logits : 0;
    const dtype = stridedDtype(request);
    if (weight) copy(f32, at.weight >> 2, weight, 0, K);
    let sum = 0;
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const r1 = Math.min(rows, r0 + chunk);
      const { outers, width } = chunkShape(r0, r1, inner);
      copyLogitPositionsIn(f32, u16, at.logits, request, K, inner, r0, r1);
      if (hard) {
        copy(i32, at.labels >> 2, hard.labels, r0, r1);
        sum = kernels.xentStrided(
          at.logits, gradAt, at.labels, outers, K, width,
          hard.smoothing, hard.scale, hard.ignoreIndex, at.weight, hard.weightSum, hard.zLoss, hard.softcap,
          at.scratch, tilesAt, at.losses, at.lse, sum, rowWise, dtype,
        );
      } else if (soft) {
        copyPositions(f32, at.targets >> 2, soft.targets, K, inner, r0, r1, true);
        sum = kernels.softStrided(
          at.logits, at.targets, gradAt, outers, K, width,
          soft.smoothing, soft.scale, at.weight, soft.temperature, at.losses, at.lse, at.scratch, tilesAt, sum, rowWise, dtype,
        );
      }
      copyGradPositionsOut(f32, u16, at.logits, request, K, inner, r0, r1);
      copyOutputs(f32, at, K, r0, r1, null, request.losses, lse);
    }
    return sum;
  }

  /** Softmax per chunk, in place in the arena, then copied to `out` (which may be the logits). */
  softmax(request: SoftmaxRequest): void {
    const { logits, out, rows, numClasses: K } = request;
    if (rows === 0) return;
    const chunk = this.rowsPerChunk(rows, 64, 4 * K);
    const { at: [z], end } = regions(this.base, [4 * chunk * K]);
    this.ensureBytes(end);
    const { f32, kernels } = this;
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const r1 = Math.min(rows, r0 + chunk);
      copy(f32, z >> 2, logits, r0 * K, r1 * K);
      kernels.softmaxRows(z, z, r1 - r0, K, 1 / request.temperature, request.log);
      copy(out, r0 * K, f32, z >> 2, (z >> 2) + (r1 - r0) * K);
    }
  }

  /**
   * rowStats per chunk: [logits][labels]? then the columns lse, entropy, logP? (f64),
   * confidence (f32), prediction, rank? (i32), rounded to the caller's float32 arrays.
   */
  rowStats(request: StatsRequest, out: RowStatsOutputs): void {
    const { logits, labels, rows, numClasses: K } = request;
    if (rows === 0) return;
    const labeled = labels !== null;
    const perRow = 4 * K + (labeled ? 4 + 8 + 4 : 0) + 8 + 8 + 4 + 4;
    const chunk = this.rowsPerChunk(rows, 9 * 32 + 64 + statsScratchBytes(K), perRow);
    const n = chunk;
    const { at: [scratch, z, y, lse, entropy, logP, confidence, prediction, rank], end } = regions(this.base, [
      statsScratchBytes(K), 4 * n * K, labeled ? 4 * n : 0, 8 * n, 8 * n, labeled ? 8 * n : 0, 4 * n, 4 * n, labeled ? 4 * n : 0,
    ]);
    this.ensureBytes(end);
    const { f32, i32, f64, kernels } = this;
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const r1 = Math.min(rows, r0 + chunk);
      const count = r1 - r0;
      copy(f32, z >> 2, logits, r0 * K, r1 * K);
      if (labels) copy(i32, y >> 2, labels, r0, r1);
      kernels.statsRows(
        z, y, count, K, 1 / request.temperature, 0, request.ignoreIndex,
        lse, confidence, prediction, entropy, logP, rank, 0, 0, 0, scratch,
      );
      out.lse.set(f64.subarray(lse >> 3, (lse >> 3) + count), r0);
      out.entropy.set(f64.subarray(entropy >> 3, (entropy >> 3) + count), r0);
      copy(out.confidence, r0, f32, confidence >> 2, (confidence >> 2) + count);
      copy(out.prediction, r0, i32, prediction >> 2, (prediction >> 2) + count);
      if (out.targetLogProb) out.targetLogProb.set(f64.subarray(logP >> 3, (logP >> 3) + count), r0);
      if (out.rank) copy(out.rank, r0, i32, rank >> 2, (rank >> 2) + count);
    }
  }

  /**
   * An evaluation's rows per chunk: statsRows into the arena's columns, then statsAccumulate
   * adds them to the sums (kept in the arena for the whole call) in row order and writes the
   * equal-mass keys, copied out after each chunk.
   */
  accumulateStats(request: StatsRequest, into: Accumulation): number {
    const { logits, rows, numClasses: K } = request;
    const labels = request.labels as NonNullable<StatsRequest['labels']>;
    if (rows === 0) return 0;
    const { sums, topK, bins, keys } = into;
    // Only rank < k is asked of the rank: the kernel stops counting at the largest k.
    const rankCap = topK.length > 0 ? topK[topK.length - 1] : 1;
    const fixed = 8 * sums.length + 4 * topK.length + statsScratchBytes(K) + 13 * 32 + 64;
    const perRow = 4 * K + 5 * 4 + 4 * 8;
    const chunk = this.rowsPerChunk(rows, fixed, perRow);
    const n = chunk;
    const { at: [sumsAt, topKAt, scratch, z, y, confidence, prediction, rank, keysAt, entropy, logP, brier, smoothed], end } = regions(this.base, [
      8 * sums.length, 4 * topK.length, statsScratchBytes(K), 4 * n * K, 4 * n, 4 * n, 4 * n, 4 * n, 4 * n, 8 * n, 8 * n, 8 * n, 8 * n,
    ]);
    this.ensureBytes(end);
    const { f32, i32, f64, kernels } = this;
    f64.set(sums, sumsAt >> 3);
    if (topK.length > 0) i32.set(topK, topKAt >> 2);
    let counted = 0;
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const r1 = Math.min(rows, r0 + chunk);
      const count = r1 - r0;
      copy(f32, z >> 2, logits, r0 * K, r1 * K);
      copy(i32, y >> 2, labels, r0, r1);
      kernels.statsRows(
        z, y, count, K, 1 / request.temperature, request.smoothing, request.ignoreIndex,
        0, confidence, prediction, entropy, logP, rank, brier, smoothed, rankCap, scratch,
      );
      const written = kernels.statsAccumulate(
        y, count, request.ignoreIndex, confidence, prediction, entropy, logP, rank, brier, smoothed,
        sumsAt, topKAt, topK.length, bins, keysAt,
      );
      copy(keys, into.keysAt + counted, i32, keysAt >> 2, (keysAt >> 2) + written);
      counted += written;
    }
    sums.set(f64.subarray(sumsAt >> 3, (sumsAt >> 3) + sums.length));
    return counted;
  }

  /** One temperature pass: per chunk the rows' (nll, nll', nll'') then their sums, in row order. */
  temperatureSums(request: TemperatureRequest): Float64Array {
    const { logits, labels, rows, numClasses: K } = request;
    const result = new Float64Array(4);
    if (request.sumsIn) result.set(request.sumsIn);
    if (rows === 0) return result;
    const chunk = this.rowsPerChunk(rows, 4 * 32 + 32, 4 * K + 4 + 24);
    const { at: [sumsAt, z, y, out], end } = regions(this.base, [32, 4 * chunk * K, 4 * chunk, 24 * chunk]);
    this.ensureBytes(end);
    const { f32, i32, f64, kernels } = this;
    if (request.sumsIn) f64.set(request.sumsIn, sumsAt >> 3);
    else f64.fill(0, sumsAt >> 3, (sumsAt >> 3) + 4);
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const r1 = Math.min(rows, r0 + chunk);
      copy(f32, z >> 2, logits, r0 * K, r1 * K);
      copy(i32, y >> 2, labels, r0, r1);
      kernels.temperatureRows(z, y, r1 - r0, K, request.beta, request.ignoreIndex, out);
      kernels.temperatureSum(y, r1 - r0, request.ignoreIndex, out, sumsAt);
    }
    result.set(f64.subarray(sumsAt >> 3, (sumsAt >> 3) + 4));
    return result;
  }

  /** 16-bit logits decoded into `out`, in passes that fit the arena (the bits in each pass's upper half, as in a chunk). */
  decodeHalf(half: HalfLogits, out: Float32Array): void {
    const n = half.bits.length;
    const pass = Math.max(8, Math.min(n, Math.floor(Math.min(CHUNK_BYTES, this.arenaBytes) / 4)));
    this.ensureBytes(this.base + 4 * pass);
    const { f32, u16, kernels, base } = this;
    for (let i0 = 0; i0 < n; i0 += pass) {
      const i1 = Math.min(n, i0 + pass);
      copy(u16, (base >> 1) + (i1 - i0), half.bits, i0, i1);
      kernels.decodeHalf(base + 2 * (i1 - i0), base, i1 - i0, HALF_FORMATS[half.format]);
      copy(out, i0, f32, base >> 2, (base >> 2) + (i1 - i0));
    }
  }

  /** ACE: the keys copied into the arena, sorted and binned there (assembly/calibration.ts). */
  ace(keys: Uint32Array, bins: number): number {
    const n = keys.length;
    if (n === 0) return 0;
    const { at: [keysAt, scratch], end } = regions(this.base, [4 * n, 4 * n + 8192]);
    this.ensureBytes(end);
    new Uint32Array(this.memory.buffer, keysAt, n).set(keys);
    return this.kernels.aceOfKeys(keysAt, n, bins, scratch);
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
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const kernels = instantiate(this.module, memory);
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
