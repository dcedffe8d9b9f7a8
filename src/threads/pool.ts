/**
 * A pool of workers over one shared WebAssembly.Memory (Node; browsers when cross-origin
 * isolated). Each worker runs an instance of the same compiled module (the shared variant of
 * the backend's binary, src/wasm/load.ts) and takes commands — one kernel call on one chunk
 * of rows — through its control block (protocol.ts).
 *
 * A call is a Job: rows handed out in chunks, in row order, to whichever worker has a free
 * command slot (SLOTS per worker: while a worker computes one chunk, this thread copies the
 * caller's rows of the next ones into its other slots and copies finished outputs out). Every
 * chunk starts on a multiple of four rows and every kernel call gets the whole call's rowWise
 * choice, so each row's results are those of a one-thread call; the loss is summed here from
 * the rows' written losses, in row order, as the kernel sums (sum.ts). Hence the same bits
 * for any thread count.
 *
 * Shared memory (blocks from heap.ts): [static data][the pool's DONE word][per worker: control
 * block + commands][per worker: arena = weight + SLOTS chunk regions][zero-copy batches].
 *
 * Faults: a worker that exits or throws fails the call that had chunks on it (a clear Error)
 * and is replaced; a worker that stops answering is given up after `stallMs` without progress
 * (sync calls never wait unboundedly: Atomics.wait is always given a timeout). A dead worker's
 * blocks are never reused (its thread may still be writing while it stops).
 */
import { instantiate, type KernelExports, type WasmBackendName } from '../wasm/instance.js';
import { align16, layout, ROWS_PER_VECTOR, type Parts } from '../wasm/bridge.js';
import type { Accumulation, HardRequest, RowStatsOutputs, SoftmaxRequest, SoftRequest, StatsRequest, TemperatureRequest } from '../backend.js';
import { accumulateJob, rowStatsJob, softmaxJob, temperatureJob } from './eval-jobs.js';
import { abortReason, CallQueue } from './abort.js';
import { claimChunks } from './claim.js';
import { SharedBatch } from './batch.js';
import { Heap } from './heap.js';
import { trace } from './trace.js';
import { canBlockHere, startWorker, yieldToEventLoop, type WorkerHandle } from './platform.js';
import {
  ARGC, ARGS, CHUNKS_DONE, CLAIM, COMMAND_FIELDS, CONTROL_BYTES, CONTROL_WORDS, DONE, EXIT, FAULT, HANG, HEAD, HOLD, KERNEL, KERNELS, POOL_BLOCK_BYTES, RANGE,
  RANGE_CHUNK, RANGE_FAILED, claimWord, RANGE_GENERATION, RANGE_MAX_CHUNKS, RANGE_ROWS_ARG, RANGE_TOTAL, POSTED, SLOT_STATE, SLOTS, SPIN, STATUS, STOLEN, STRIDES, TAIL, TRACE_AT, TRACE_CAPACITY, TRACE_COUNT, WAKE_BY_MESSAGE,
  type KernelName,
} from './protocol.js';
import { hardJob, POOL_CHUNK_BYTES, softJob, type SummedJob } from './jobs.js';
import { hardStridedJob, softStridedJob } from './strided-jobs.js';

/** How long a wait may last before the pool looks at its workers again. */
const SLICE_MS = 100;
/** A worker with work that makes no progress for this long is given up as dead. */
const STALL_MS = 10_000;
/** One worker: its thread and its blocks in shared memory. */
export class Member {
  handle: WorkerHandle | null = null;
  /** Set while its worker starts; settles (never rejects) when it is ready or has failed. */
  launching: Promise<void> | null = null;
  ready = false;
  /** Why the worker stopped, once it has. */
  death: string | null = null;
  lastError: string | null = null;
  /** Commands posted (HEAD as written here), seen done (TAIL), and whose slots are free again. */
  posted = 0;
  completed = 0;
  finished = 0;
  /** The current call's chunks on this worker, oldest first (`stolen`: computed by the calling thread). */
  readonly pending: { slot: number; r0: number; r1: number; stolen?: boolean }[] = [];
  /**
   * Its commands not yet counted in TAIL do no work: chunks the calling thread took back (it
   * skips them) or range commands of calls that have ended (they find no chunk left and return).
   */
  skipsLeft = false;
  lastProgress = 0;
  arenaAt = 0;
  arenaBytes = 0;
  readonly control: Int32Array;
  readonly commands: Float64Array;

  constructor(readonly index: number, readonly controlAt: number, buffer: ArrayBufferLike) {
    this.control = new Int32Array(buffer, controlAt, CONTROL_WORDS);
    this.commands = new Float64Array(buffer, controlAt + CONTROL_WORDS * 4, SLOTS * COMMAND_FIELDS);
  }

  get usable(): boolean {
    return this.ready && this.death === null;
  }
}

/** A call as the pool runs it: rows in chunks, each copied in, computed, copied out. */
export interface Job {
  rows: number;
  chunkRows: number;
  /** Bytes each worker's arena must have for this job. */
  arenaBytes: number;
  /**
   * Chunks may finish in any order (no reduction in row order waits on them): sync calls then
   * take this thread's chunks from the end and size chunks by what is left (SharedPool.nextRows),
   * never under `minRows`.
   */
  anyOrder?: boolean;
  minRows?: number;
  /** Before the first chunk on a worker (e.g. the class weights into its arena). */
  begin(member: Member): void;
  /** Copies rows [r0, r1) into command slot `slot` of the worker and returns the kernel call. */
  post(member: Member, slot: number, r0: number, r1: number): { kernel: KernelName; args: number[] };
  /**
   * The chunk is done: copy its outputs out (true), or keep it for now (false: a reduction in
   * row order waits for an earlier chunk, still on another worker; the slot stays taken).
   */
  finish(member: Member, slot: number, r0: number, r1: number): boolean;
}

/**
 * A call whose rows are all in shared memory already (a zero-copy batch): one kernel over
 * rows [0, rows), run by every thread of the call claiming chunks of `chunkRows` (a multiple
 * of four) from one counter (protocol.ts RANGE). A chunk's arguments are `args` (those of
 * rows from 0) plus `strides` × its first row, its row count in args[rowsArg], and the
 * thread's own scratch (its arena, `arenaBytes`) in args[scratchArg].
 */
export interface RangeJob {
  rows: number;
  chunkRows: number;
  arenaBytes: number;
  kernel: KernelName;
  args: number[];
  strides: number[];
  rowsArg: number;
  scratchArg: number;
}

/** The state of one call on the pool: rows [next, end) are still to hand out. */
interface Call {
  job: Job;
  members: Member[];
  next: number;
  end: number;
  self: Member | null;
}

/** Guided chunk sizes: a chunk is at most the rows left ÷ (GUIDED × threads). */
const GUIDED = 2;

/**
 * How long the calling thread polls for the workers' last chunks before it sleeps in
 * Atomics.wait (a wake-up through the kernel costs tens of µs on a VM; the last chunk of the
 * other thread usually ends sooner).
 */
const SPIN_MS = 0.5;
/** An async call lets the event loop run a full turn at least this often (ms), see changed(). */
const TURN_MS = 4;

export class SharedPool {
  readonly memory: WebAssembly.Memory;
  /** An instance on this thread over the same memory (zero-copy batches' own calls). */
  readonly local: KernelExports;
  readonly heap: Heap;
  f32: Float32Array;
  i32: Int32Array;
  f64: Float64Array;
  u16: Uint16Array;
  private readonly done: Int32Array;
  /** The pool's block (DONE, CLAIM, CHUNKS_DONE). */
  private readonly block: Int32Array;
  /** Generation of the last range call (protocol.ts RANGE). */
  private generation = 0;
  private readonly members: Member[];
  private readonly queue = new CallQueue();
  /** A sync call is running (the queue covers the async ones). */
  private syncActive = false;
  private disposed = false;
  private wakers: (() => void)[] = [];
  private rowLosses = new Float32Array(0);
  /** Tests shorten it. */
  stallMs = STALL_MS;
  /** Target bytes of a chunk (jobs.ts); the bench varies it. */
  chunkBytes = POOL_CHUNK_BYTES;
  /** Tests set it to exercise the message fallback of browsers without Atomics.waitAsync. */
  wakeByMessage = typeof (Atomics as { waitAsync?: unknown }).waitAsync !== 'function';

  constructor(
    readonly backend: WasmBackendName,
    private readonly module: WebAssembly.Module,
    readonly threads: number,
    readonly arenaBytes: number,
  ) {
    this.memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    this.local = instantiate(module, this.memory);
    this.heap = new Heap(this.memory, this.local.heapBase());
    const doneAt = this.heap.alloc(POOL_BLOCK_BYTES, 'the pool');
    this.done = new Int32Array(this.memory.buffer, doneAt, 1);
    this.block = new Int32Array(this.memory.buffer, doneAt, POOL_BLOCK_BYTES >> 2);
    this.members = [];
    for (let i = 0; i < threads; i++) this.members.push(this.newMember(i));
    this.f32 = new Float32Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
    this.f64 = new Float64Array(this.memory.buffer);
    this.u16 = new Uint16Array(this.memory.buffer);
  }

  private newMember(index: number): Member {
    const at = this.heap.alloc(CONTROL_BYTES, 'a worker');
    const member = new Member(index, at, this.memory.buffer);
    member.control.fill(0);
    member.commands.fill(0);
    this.refreshViews();
    return member;
  }

  /** Rebuilds the whole-memory views after growth (the old ones stay valid, only shorter). */
  refreshViews(): void {
    const buffer = this.memory.buffer;
    if (this.f32 && this.f32.buffer.byteLength === buffer.byteLength) return;
    this.f32 = new Float32Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.u16 = new Uint16Array(buffer);
  }

  /**
   * Starts the workers that are not running (all of them at first) and waits until every
   * worker is ready or has failed; rejects when none is usable, with the reasons.
   */
  async start(): Promise<void> {
    if (this.disposed) throw new Error('the pool was disposed');
    for (const m of this.members) if (!m.handle && !m.launching && m.death === null) this.launch(m);
    await Promise.all(this.members.map((m) => m.launching));
    if (this.usable().length === 0) throw new Error(`no worker could be started: ${this.members.map((m) => m.death).join('; ')}`);
  }

  private launch(member: Member): void {
    member.launching = startWorker(
      { mode: 'shared', module: this.module, memory: this.memory, control: member.controlAt, done: this.done.byteOffset },
      {
        message: (message) => {
          if (message.type === 'error') member.lastError = message.message;
          else if (message.type === 'done') this.wake();
        },
        exit: (why) => this.lost(member, why),
      },
    ).then(
      (handle) => {
        member.handle = handle;
        member.launching = null;
        if (this.disposed) handle.terminate();
        else if (member.death === null) member.ready = true;
      },
      (error) => {
        member.launching = null;
        member.death ??= String((error as Error)?.message ?? error);
      },
    );
  }

  /** A worker stopped: wake the caller (its call fails), replace it (its blocks are left alone). */
  private lost(member: Member, why: string): void {
    if (member.death !== null) return;
    const wasReady = member.ready;
    member.death = why;
    member.ready = false;
    Atomics.add(this.done, DONE, 1);
    Atomics.notify(this.done, DONE);
    this.wake();
    // A worker that never got ready is not replaced (start() reports why it failed).
    if (this.disposed || !wasReady) return;
    const replacement = this.newMember(member.index);
    this.members[member.index] = replacement;
    this.launch(replacement);
  }

  /** Gives a worker up: marks it dead (and replaces it) before stopping its thread. */
  private giveUp(member: Member, why: string): void {
    this.lost(member, why);
    member.handle?.terminate();
  }

  private wake(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const wake of wakers) wake();
  }

  /**
   * Whether a sync call can use the workers now (this thread may block, and they are free).
   * For a copy call (runSync), a worker still to skip chunks taken back from it is no help now
   * (this thread alone on the pool is slower than the one-thread path: its copies go into
   * shared memory); a range call (runRange, `range`) costs this thread nothing extra, and such a
   * worker joins it when it gets there.
   */
  canRunSync(range = false): boolean {
    if (this.disposed || this.syncActive || !this.queue.idle || !canBlockHere()) return false;
    return this.usable().slice(0, Math.max(1, this.threads - 1)).some((m) => (range ? this.rangeReady(m) : !this.onlySkipsLeft(m)));
  }

  /** Whether a range call can give worker `m` its command: nothing queued on it does work, and a slot is free. */
  private rangeReady(m: Member): boolean {
    const tail = Atomics.load(m.control, TAIL);
    return tail >= m.posted || (m.skipsLeft && m.posted - tail < SLOTS);
  }

  usable(): Member[] {
    return this.members.filter((m) => m.usable);
  }

  // -------------------------------------------------------------------------------------
  // Running jobs

  /**
   * Runs a job blocking this thread (Node, or a browser worker), which computes too: a sync
   * call's threads are this one and threads − 1 workers. This thread must copy the caller's
   * rows for the workers anyway; with a worker per core besides, it would have no core for
   * the copies (on 2 cores: the public API ran no faster on 2 workers than on 1 thread). Between
   * feeding the workers it runs chunks itself, on its own instance over the same memory.
   */
  runSync(job: Job, where: string): void {
    this.syncActive = true;
    try {
      // A worker that has only to skip chunks taken back from it is left out (not waited for).
      const members = this.usable().slice(0, Math.max(1, this.threads - 1)).filter((m) => !this.onlySkipsLeft(m));
      for (const m of members) Atomics.store(m.control, SPIN, 1);
      this.drainSync(members);
      const call = this.prepare(job, [...members.filter((m) => m.death === null)], this.self());
      for (;;) {
        const seen = Atomics.load(this.done, DONE);
        if (this.pump(call, where)) {
          for (const m of members) m.skipsLeft = Atomics.load(m.control, TAIL) < m.posted;
          return;
        }
        if (call.next < call.end && call.self && call.self.pending.length < SLOTS) {
          this.runHere(call);
          continue;
        }
        if (call.next >= call.end && job.anyOrder && this.steal(call)) continue;
        // Nothing to do here but wait for a worker: poll briefly (its chunk is often about to
        // end, and a wake-up from Atomics.wait costs tens of µs), then sleep.
        const spinUntil = performance.now() + SPIN_MS;
        while (Atomics.load(this.done, DONE) === seen && performance.now() < spinUntil);
        if (Atomics.load(this.done, DONE) === seen) Atomics.wait(this.done, DONE, seen, SLICE_MS);
        this.checkStalls(members, where);
      }
    } finally {
      this.syncActive = false;
    }
  }

  /**
   * Runs a range job blocking this thread, which claims chunks too, with threads − 1 workers.
   * Chunks are claimed, not handed out: no thread waits for another before the last chunks.
   * A worker that has not yet reached an earlier call's commands (it woke too late for that
   * call: on this VM a sleeping worker takes up to ~5 ms to start) is given this call's command
   * too if those earlier ones do no work (skipsLeft) and its ring has a free slot: it passes
   * them in no time once it runs, then claims this call's chunks. Left out, it would miss this
   * call as well (its commands still queued), and a late wake-up would cost every later call.
   */
  runRange(job: RangeJob, where: string): void {
    this.syncActive = true;
    const self = this.self();
    try {
      const members = this.usable().slice(0, Math.max(1, this.threads - 1)).filter((m) => {
        if (!this.rangeReady(m)) return false;
        if (Atomics.load(m.control, TAIL) >= m.posted) this.dropPending(m);
        return true;
      });
      for (const m of members) Atomics.store(m.control, SPIN, 1);
      const chunks = Math.ceil(job.rows / job.chunkRows);
      if (chunks > RANGE_MAX_CHUNKS) throw new Error(`${where}: ${chunks} chunks is too many for one call`);
      this.prepareArenas(job.arenaBytes, [...members, self]);
      this.generation = (this.generation + 1) & 0xff;
      const generation = this.generation;
      Atomics.store(this.block, CHUNKS_DONE, 0);
      Atomics.store(this.block, CLAIM, claimWord(generation, chunks));
      for (const m of members) this.writeRange(m, job, generation);
      const args = job.args.slice();
      args[job.scratchArg] = self.arenaAt;
      const kernel = this.local[job.kernel] as unknown as (...a: number[]) => number;
      // This thread's part, on its own instance (claim.ts, the loop the workers run too).
      const ran = claimChunks({
        memory: this.memory, block: this.block, kernel, base: args, strides: job.strides, chunkRows: job.chunkRows,
        rows: job.rows, rowsArg: job.rowsArg, generation, chunks, thread: -1, worker: false,
      });
      Atomics.add(this.block, CHUNKS_DONE, ran);
      this.awaitChunks(members, chunks, where);
      // Every chunk is done: what is still queued on a worker is this call's command (or earlier
      // ones that do no work), which returns at once.
      for (const m of members) {
        m.skipsLeft = Atomics.load(m.control, TAIL) < m.posted;
        if (!m.skipsLeft) this.dropPending(m);
      }
    } finally {
      this.syncActive = false;
    }
  }

  private writeRange(m: Member, job: RangeJob, generation: number): void {
    const at = (m.posted % SLOTS) * COMMAND_FIELDS;
    const c = m.commands;
    c[at + RANGE_GENERATION] = generation;
    c[at + RANGE_CHUNK] = job.chunkRows;
    c[at + RANGE_TOTAL] = job.rows;
    c[at + RANGE_ROWS_ARG] = job.rowsArg;
    for (let i = 0; i < job.args.length; i++) c[at + STRIDES + i] = job.strides[i];
    const args = job.args.slice();
    args[job.scratchArg] = m.arenaAt;
    m.lastProgress = performance.now();
    this.writeCommand(m, at / COMMAND_FIELDS, KERNELS.indexOf(job.kernel), args, true);
  }

  /** Until every chunk of the range call is done: polls briefly, then sleeps; a worker's fault or stall fails the call. */
  private awaitChunks(members: Member[], chunks: number, where: string): void {
    const block = this.block;
    let seen = Atomics.load(block, CHUNKS_DONE);
    const spinUntil = performance.now() + SPIN_MS;
    while (seen < chunks && performance.now() < spinUntil) seen = Atomics.load(block, CHUNKS_DONE);
    let progress = performance.now();
    while (seen !== chunks) {
      if (seen >= RANGE_FAILED) {
        const m = members.find((w) => w.commands[((w.posted - 1) % SLOTS) * COMMAND_FIELDS + STATUS] !== 0) ?? members[0];
        throw new Error(`${where}: a kernel call failed in worker ${m?.index}: ${m?.lastError ?? 'it threw'}`);
      }
      Atomics.wait(block, CHUNKS_DONE, seen, SLICE_MS);
      const now = performance.now();
      const next = Atomics.load(block, CHUNKS_DONE);
      if (next !== seen) progress = now;
      seen = next;
      if (seen === chunks) break;
      const busy = members.filter((m) => Atomics.load(m.control, TAIL) < m.posted);
      const dead = busy.find((m) => m.death !== null);
      if (dead) throw this.faultError(dead, where);
      if (now - progress > this.stallMs) {
        for (const m of busy) this.giveUp(m, `made no progress for ${this.stallMs / 1000} s`);
        throw this.faultError(busy[0] ?? members[0], where);
      }
    }
  }

  /** Every member's arena of at least `bytes`. */
  private prepareArenas(bytes: number, members: Member[]): void {
    for (const m of members) {
      m.lastProgress = performance.now();
      if (m.arenaBytes < bytes) {
        if (m.arenaBytes > 0) this.heap.release(m.arenaAt);
        m.arenaBytes = 0;
        m.arenaAt = this.heap.alloc(bytes, 'a worker\'s arena');
        m.arenaBytes = bytes;
      }
    }
    this.refreshViews();
  }

  /** This thread as a member of sync calls: an arena of its own, no worker. */
  private selfMember: Member | null = null;
  private self(): Member {
    this.selfMember ??= new Member(-1, this.heap.alloc(CONTROL_BYTES, 'the pool'), this.memory.buffer);
    return this.selfMember;
  }

  /**
   * The next chunk, computed here (as a worker would: the same kernel on the same memory). A
   * job whose chunks may finish in any order is taken from its end, so that this thread's
   * chunks (copied in, computed and copied out on one core, in its cache) and the workers'
   * (from the start) meet where both are busy to the end; chunks shrink as the rows left do.
   */
  private runHere(call: Call): void {
    const self = call.self as Member;
    const job = call.job;
    const size = this.nextRows(call);
    let r0: number;
    let r1: number;
    if (job.anyOrder) {
      // A chunk starts on a multiple of four rows (whole small-K groups) when chunks are that
      // long (else K is so large that a slot holds fewer rows); never longer than `size`.
      r1 = call.end;
      r0 = r1 - size;
      if (job.chunkRows >= ROWS_PER_VECTOR) r0 += (ROWS_PER_VECTOR - (r0 % ROWS_PER_VECTOR)) % ROWS_PER_VECTOR;
      if (r0 < call.next) r0 = call.next;
      call.end = r0;
    } else {
      r0 = call.next;
      r1 = Math.min(call.end, r0 + size);
      call.next = r1;
    }
    const slot = self.posted % SLOTS;
    const traced = Atomics.load(this.block, TRACE_AT) !== 0 ? performance.timeOrigin + performance.now() : 0;
    const { kernel, args } = job.post(self, slot, r0, r1);
    (this.local[kernel] as unknown as (...a: number[]) => number)(...args);
    if (traced) trace(this.memory, this.block, -1, r0, traced);
    self.pending.push({ slot, r0, r1 });
    self.posted++;
  }

  /**
   * Nothing is left to hand out: takes back the newest chunk queued on a worker that has not
   * started it (its command is in shared memory, its rows copied in) and computes it here.
   * Never a worker's oldest chunk: a worker that does not start its commands is still found
   * out (checkStalls), and the call does not end before its worker's running chunk anyway.
   */
  private steal(call: Call): boolean {
    for (const m of call.members) {
      if (m.death !== null) continue;
      let i = m.pending.length - 1;
      while (i >= 1 && m.pending[i].stolen) i--;
      if (i < 1) continue;
      const chunk = m.pending[i];
      if (Atomics.compareExchange(m.control, SLOT_STATE + chunk.slot, POSTED, STOLEN) !== POSTED) continue;
      const at = chunk.slot * COMMAND_FIELDS;
      const args = Array.from(m.commands.subarray(at + ARGS, at + ARGS + m.commands[at + ARGC]));
      const traced = Atomics.load(this.block, TRACE_AT) !== 0 ? performance.timeOrigin + performance.now() : 0;
      (this.local[KERNELS[m.commands[at + KERNEL]]] as unknown as (...a: number[]) => number)(...args);
      if (traced) trace(this.memory, this.block, -4, chunk.r0, traced);
      chunk.stolen = true;
      return true;
    }
    return false;
  }

  /** Whether a worker's outstanding commands are all chunks taken back from it (it will skip them). */
  private onlySkipsLeft(m: Member): boolean {
    if (!m.skipsLeft) return false;
    if (Atomics.load(m.control, TAIL) < m.posted) return true;
    m.skipsLeft = false;
    this.dropPending(m);
    return false;
  }

  /**
   * Rows of the next chunk: the job's chunk, or for jobs in any order (guided: a share of what
   * is left, so the last chunks are short and no thread waits long for another) less.
   */
  private nextRows(call: Call): number {
    const job = call.job;
    if (!job.anyOrder) return job.chunkRows;
    const threads = call.members.length + (call.self ? 1 : 0);
    const share = Math.ceil((call.end - call.next) / (GUIDED * threads));
    const rows = Math.max(job.minRows ?? ROWS_PER_VECTOR, Math.ceil(share / ROWS_PER_VECTOR) * ROWS_PER_VECTOR);
    return Math.min(job.chunkRows, rows);
  }

  /** Runs a job on the workers without blocking: one call at a time, in order. */
  runAsync(job: () => Job, where: string, signal: AbortSignal | null): Promise<void> {
    return this.queue.run(signal, async () => {
      if (this.disposed) throw new Error(`${where}: this xent was disposed`);
      await this.start();
      const members = this.usable();
      if (members.length === 0) throw new Error(`${where}: no worker is available (${this.members.map((m) => m.death).join('; ')})`);
      for (const m of members) {
        m.handle?.ref();
        Atomics.store(m.control, WAKE_BY_MESSAGE, this.wakeByMessage ? 1 : 0);
        Atomics.store(m.control, SPIN, 0);
      }
      const onAbort = () => {
        Atomics.add(this.done, DONE, 1);
        Atomics.notify(this.done, DONE);
        this.wake();
      };
      signal?.addEventListener('abort', onAbort);
      try {
        await this.drainAsync(members);
        const call = this.prepare(job(), members.filter((m) => m.death === null));
        for (;;) {
          if (this.disposed) throw new Error(`${where}: this xent was disposed during the call`);
          const seen = Atomics.load(this.done, DONE);
          const complete = this.pump(call, where);
          // Aborted before it settled, even if the last chunks ended meanwhile: it rejects.
          if (signal?.aborted) throw abortReason(signal);
          if (complete) return;
          await this.changed(seen);
          this.checkStalls(members, where);
        }
      } finally {
        signal?.removeEventListener('abort', onAbort);
        for (const m of members) m.handle?.unref();
      }
    });
  }

  /** When an async call last let this thread's event loop run its other tasks (see changed). */
  private lastTurn = 0;

  /**
   * Resolves when the DONE word differs from `seen`, or after a slice; and at least every
   * TURN_MS through a full turn of the event loop. Neither an already changed word nor the
   * settling of Atomics.waitAsync lets the loop's other tasks (timers, setImmediate) run: a
   * 1024×32000 crossEntropyAsync whose workers kept ahead went from its first chunk to its end
   * with no setImmediate callback in between (the threads tests that wait for chunks on the
   * workers timed out, and the call then held the calling thread for its whole length).
   */
  private async changed(seen: number): Promise<void> {
    if (!this.wakeByMessage) {
      const wait = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: Promise<string> | string } })
        .waitAsync(this.done, DONE, seen, SLICE_MS);
      if (wait.async) await wait.value;
    } else if (Atomics.load(this.done, DONE) === seen) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, SLICE_MS);
        this.wakers.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (performance.now() - this.lastTurn >= TURN_MS) {
      await yieldToEventLoop();
      this.lastTurn = performance.now();
    }
  }

  /** The state of one call; `self`: this thread takes chunks too (sync calls). */
  private prepare(job: Job, members: Member[], self: Member | null = null): Call {
    this.prepareArenas(job.arenaBytes, self ? [...members, self] : members);
    for (const m of members) job.begin(m);
    if (self) {
      this.dropPending(self); // left by a call that failed
      job.begin(self);
    }
    return { job, members, next: 0, end: job.rows, self };
  }

  /** Collects finished chunks and hands out new ones; true when the job is complete. */
  private pump(call: Call, where: string): boolean {
    const { job, members, self } = call;
    const all = self ? [...members, self] : members;
    const now = performance.now();
    // Finished chunks, oldest first on each member (slots are a ring). A job may keep a chunk
    // (an in-order reduction waiting for an earlier one), which keeps the ones after it on that
    // member too: collect until a pass frees nothing.
    for (let freed = true; freed; ) {
      freed = false;
      for (const m of all) {
        const done = m === self ? m.posted : Atomics.load(m.control, TAIL);
        if (done > m.completed) {
          m.completed = done;
          m.lastProgress = now;
        }
        // Chunks taken back (the newest ones) are done too, once the ones before them are.
        while (m.pending.length > 0 && (m.finished < done || m.pending[0].stolen)) {
          const chunk = m.pending[0];
          if (m !== self && !chunk.stolen && m.commands[chunk.slot * COMMAND_FIELDS + STATUS] !== 0) {
            throw new Error(`${where}: a kernel call failed in worker ${m.index}: ${m.lastError ?? 'it threw'}`);
          }
          const traced = m !== self && Atomics.load(this.block, TRACE_AT) !== 0 ? performance.timeOrigin + performance.now() : 0;
          if (!job.finish(m, chunk.slot, chunk.r0, chunk.r1)) break;
          if (traced) trace(this.memory, this.block, -3, chunk.r0, traced);
          m.pending.shift();
          m.finished++;
          freed = true;
          // Refill the slot at once: the worker has work again before the next copy-out here.
          if (m !== self && m.death === null) this.postTo(call, m);
        }
      }
    }
    let busy = false;
    for (const m of all) {
      if (m.pending.length === 0) continue;
      if (m !== self && m.death !== null && m.completed < m.posted) throw this.faultError(m, where);
      busy = true;
    }
    for (let posted = true; posted && call.next < call.end; ) {
      posted = false;
      for (const m of members) {
        if (call.next >= call.end) break;
        if (m.death !== null) continue;
        if (this.postTo(call, m)) posted = busy = true;
      }
    }
    if (call.next < call.end && !busy && !self) throw new Error(`${where}: every worker of the pool stopped (${members.map((m) => m.death).join('; ')})`);
    // (Rows left with no worker to take them: this thread runs them, see runSync.)
    return !busy && call.next >= call.end;
  }

  /** Hands the next chunk to worker `m` if it has a free slot (its rows are copied in here). */
  private postTo(call: Call, m: Member): boolean {
    if (call.next >= call.end || m.pending.length >= SLOTS) return false;
    const r0 = call.next;
    const r1 = Math.min(call.end, r0 + this.nextRows(call));
    const slot = m.posted % SLOTS;
    const traced = Atomics.load(this.block, TRACE_AT) !== 0 ? performance.timeOrigin + performance.now() : 0;
    const { kernel, args } = call.job.post(m, slot, r0, r1);
    if (traced) trace(this.memory, this.block, -2, r0, traced);
    this.writeCommand(m, slot, KERNELS.indexOf(kernel), args);
    m.pending.push({ slot, r0, r1 });
    call.next = r1;
    return true;
  }

  private writeCommand(m: Member, slot: number, kernel: number, args: number[], range = false): void {
    const at = slot * COMMAND_FIELDS;
    // Until the call that posts this ends normally, the command may be doing work.
    m.skipsLeft = false;
    m.commands[at + RANGE] = range ? 1 : 0;
    Atomics.store(m.control, SLOT_STATE + slot, POSTED);
    m.commands[at + KERNEL] = kernel;
    m.commands[at + ARGC] = args.length;
    for (let i = 0; i < args.length; i++) m.commands[at + ARGS + i] = args[i];
    m.commands[at + STATUS] = 0;
    m.posted++;
    Atomics.store(m.control, HEAD, m.posted);
    Atomics.notify(m.control, HEAD);
  }

  private faultError(m: Member, where: string): Error {
    return new Error(`${where}: worker ${m.index} of the pool stopped during the call (it ${m.death}); the call was abandoned and the pool is replacing the worker`);
  }

  /** Gives up the workers that had work and made no progress for stallMs. */
  private checkStalls(members: Member[], where: string): void {
    const now = performance.now();
    for (const m of members) {
      if (m.death === null && Atomics.load(m.control, TAIL) < m.posted && now - m.lastProgress > this.stallMs) {
        this.giveUp(m, `made no progress for ${this.stallMs / 1000} s`);
        throw this.faultError(m, where);
      }
    }
  }

  /**
   * Chunks left running by an aborted or failed call: wait until they are done and drop them
   * (a worker that makes no progress meanwhile is given up, and left out of the call).
   */
  private drainSync(members: Member[]): void {
    for (const m of members) {
      while (this.stillRunning(m)) {
        const seen = Atomics.load(this.done, DONE);
        if (!this.stillRunning(m)) break;
        Atomics.wait(this.done, DONE, seen, SLICE_MS);
      }
      this.dropPending(m);
    }
  }

  private async drainAsync(members: Member[]): Promise<void> {
    for (const m of members) {
      while (this.stillRunning(m)) {
        const seen = Atomics.load(this.done, DONE);
        if (!this.stillRunning(m)) break;
        await this.changed(seen);
      }
      this.dropPending(m);
    }
  }

  private stillRunning(m: Member): boolean {
    if (m.death !== null) return false;
    const tail = Atomics.load(m.control, TAIL);
    if (tail >= m.posted) return false;
    const now = performance.now();
    if (tail > m.completed) {
      m.completed = tail;
      m.lastProgress = now;
    } else if (now - m.lastProgress > this.stallMs) {
      this.giveUp(m, `made no progress for ${this.stallMs / 1000} s`);
      return false;
    }
    return true;
  }

  private dropPending(m: Member): void {
    m.finished = m.completed = m.posted;
    m.pending.length = 0;
  }

  /** A Float32Array of at least `rows` for a call's row losses (reused: one call at a time). */
  lossesFor(rows: number): Float32Array {
    if (this.rowLosses.length < rows) this.rowLosses = new Float32Array(rows);
    return this.rowLosses;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const m of this.members) m.handle?.terminate();
    this.wake();
  }

  /** Test hooks: the workers as they stand, and faults to inject into worker `index` at its next command. */
  testing() {
    return {
      members: () => this.members.map((m) => ({
        index: m.index, ready: m.ready, death: m.death, pending: m.pending.length, raw: m.handle?.raw,
        posted: m.posted, tail: Atomics.load(m.control, TAIL),
      })),
      hangAtNextCommand: (index: number) => Atomics.store(this.members[index].control, FAULT, HANG),
      /** The worker waits before its next command until release(index): a late wake-up. */
      holdAtNextCommand: (index: number) => Atomics.store(this.members[index].control, FAULT, HOLD),
      release: (index: number) => {
        Atomics.store(this.members[index].control, FAULT, 0);
        Atomics.notify(this.members[index].control, FAULT);
      },
      exitAtNextCommand: (index: number) => Atomics.store(this.members[index].control, FAULT, EXIT),
      settled: () => Promise.all(this.members.map((m) => m.launching)),
      /**
       * Records the next calls' chunks (protocol.ts TRACE_AT) until read: `read()` gives
       * [thread, chunk, start ms, end ms][] and stops. thread: a worker's control offset (chunk:
       * its command's index, or in range calls the chunk's), −1 this thread computing (chunk:
       * the chunk's index, or its first row), −2 / −3 this thread copying a worker's chunk in /
       * out (its first row).
       */
      trace: (capacity = 4096) => {
        const at = this.heap.alloc(32 * capacity, 'a trace');
        this.refreshViews();
        const block = this.block;
        Atomics.store(block, TRACE_CAPACITY, capacity);
        Atomics.store(block, TRACE_COUNT, 0);
        Atomics.store(block, TRACE_AT, at);
        return {
          read: () => {
            Atomics.store(block, TRACE_AT, 0);
            const n = Math.min(Atomics.load(block, TRACE_COUNT), capacity);
            const f64 = new Float64Array(this.memory.buffer, at, 4 * n);
            const records = Array.from({ length: n }, (_, i) => Array.from(f64.subarray(4 * i, 4 * i + 4)));
            this.heap.release(at);
            return records;
          },
        };
      },
    };
  }

  // -------------------------------------------------------------------------------------
  // The calls: the caller's arrays (jobs.ts) and zero-copy batches (batch.ts)

  /** crossEntropy on the caller's arrays, blocking; returns the sum of the row losses. */
  hard(request: HardRequest, where: string): number {
    return this.sumSync(this.hardJob(request), where);
  }

  hardAsync(request: HardRequest, signal: AbortSignal | null, where: string): Promise<number> {
    return this.sumAsync(() => this.hardJob(request), signal, where);
  }

  soft(request: SoftRequest, where: string): number {
    return this.sumSync(this.softJob(request), where);
  }

  softAsync(request: SoftRequest, signal: AbortSignal | null, where: string): Promise<number> {
    return this.sumAsync(() => this.softJob(request), signal, where);
  }

  /** The job of a crossEntropy call: rows, or positions when the class axis is not last (strided-jobs.ts). */
  private hardJob(request: HardRequest): SummedJob {
    const rowWise = request.rows < ROWS_PER_VECTOR;
    return (request.inner ?? 1) > 1 ? hardStridedJob(this, request, rowWise) : hardJob(this, request, rowWise);
  }

  private softJob(request: SoftRequest): SummedJob {
    const rowWise = request.rows < ROWS_PER_VECTOR;
    return (request.inner ?? 1) > 1 ? softStridedJob(this, request, rowWise) : softJob(this, request, rowWise);
  }

  /** Runs a job, blocking; returns what it leaves (the sum of the row losses, …). */
  sumSync<T>({ job, sum, release }: SummedJob<T>, where: string): T {
    try {
      this.runSync(job, where);
      return sum();
    } finally {
      release?.();
    }
  }

  /** Runs a job when its turn comes (`make` builds it then); resolves to what it leaves. */
  async sumAsync<T>(make: () => SummedJob<T>, signal: AbortSignal | null, where: string): Promise<T> {
    let made: SummedJob<T> | null = null;
    try {
      await this.runAsync(() => {
        made = make();
        return made.job;
      }, where, signal);
      return (made as unknown as SummedJob<T>).sum();
    } finally {
      (made as SummedJob<T> | null)?.release?.();
    }
  }

  // The evaluation kernels (eval-jobs.ts): per-row work on the workers, sums in row order here.
  softmax(request: SoftmaxRequest, where: string): void {
    this.sumSync(softmaxJob(this, request), where);
  }

  softmaxAsync(request: SoftmaxRequest, signal: AbortSignal | null, where: string): Promise<void> {
    return this.sumAsync(() => softmaxJob(this, request), signal, where);
  }

  rowStats(request: StatsRequest, out: RowStatsOutputs, where: string): void {
    this.sumSync(rowStatsJob(this, request, out), where);
  }

  rowStatsAsync(request: StatsRequest, out: RowStatsOutputs, signal: AbortSignal | null, where: string): Promise<void> {
    return this.sumAsync(() => rowStatsJob(this, request, out), signal, where);
  }

  accumulateStats(request: StatsRequest, into: Accumulation, where: string): number {
    return this.sumSync(accumulateJob(this, request, into), where);
  }

  accumulateStatsAsync(request: StatsRequest, into: Accumulation, signal: AbortSignal | null, where: string): Promise<number> {
    return this.sumAsync(() => accumulateJob(this, request, into), signal, where);
  }

  temperatureSums(request: TemperatureRequest, where: string): Float64Array {
    return this.sumSync(temperatureJob(this, request), where);
  }

  temperatureSumsAsync(request: TemperatureRequest, signal: AbortSignal | null, where: string): Promise<Float64Array> {
    return this.sumAsync(() => temperatureJob(this, request), signal, where);
  }

  /**
   * A zero-copy batch in the shared memory: its arrays are views the workers read and write
   * directly. Its own calls run on this thread's instance (sync) or on the workers.
   */
  createBatch(rows: number, K: number, syncThreshold: () => number): SharedBatch {
    const parts: Parts = { weight: true, targets: false, labels: true, losses: true, lse: true };
    const bytes = align16(layout(0, rows, K, parts).end) + 4 * rows * K;
    const base = this.heap.alloc(bytes, `a batch of ${rows}×${K}`);
    this.refreshViews();
    return new SharedBatch(this, base, rows, K, syncThreshold);
  }
}
