/**
 * The class axis anywhere (`shape`, `classAxis`; src/layout.ts, assembly/strided.ts,
 * src/js/strided.ts): on every backend, logits laid out [outer][K][inner] give results
 * BIT-IDENTICAL (Object.is on every number) to the same values transposed into (outer·inner)×K
 * rows, with the gradient transposed back, and within the float64 reference's bars; for
 * K = 1, 3, 21, 1000 and inner = 1, 3, 4, 5, 16384, −∞ entries, confident rows, every option
 * (ignoreIndex, weights, smoothing, zLoss, softcap, lse, every reduction and grad mode), soft
 * targets with temperature; through the pools (threads 2, sync and async, chunks that start
 * inside an outer) and the copy worker; against onnxruntime-node's SoftmaxCrossEntropyLoss
 * (an external implementation of ONNX's N×C×d1…dk cases); and bad input.
 *
 * How bits stay equal: the JS fallback and the scalar wasm build run their row code itself on
 * each position in place, with `inner` elements between classes (src/js/rows.ts; rows.ts's
 * …Strided forms); small K on the SIMD builds runs small.ts's (softsmall.ts's for soft
 * targets) lane math on four positions per vector loaded with stride; what is left (the SIMD
 * builds' K > 64 and softcap, the scalar build's soft targets at K > 64) runs the row kernels
 * on tiles of positions gathered into rows in cache. The loss is summed from the written row losses in row order, as
 * the row kernels sum (src/threads/sum.ts). No path is left that differs. Which calls still
 * gather tiles is checked against the kernels' counter (stridedTiledPositions), so that a
 * case that should run in place cannot silently fall back to tiles.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createXent, type Xent } from '../src/index.js';
import { createAllBackends, createCopyBackends, threadingOf } from './backends.js';
import { assertIdentical, assertMatchesReference, assertUnchanged, fromRows, makeRandom, gaussian, toRows, perturbationForSoftcap, perturbationForTemperature, snapshot } from './generators.js';
import { referenceCrossEntropy, referenceSoftCrossEntropy } from './reference.js';

const TIMEOUT = 300_000;
type Loose = Record<string, unknown>;
type Out = { loss?: number; count?: number; losses?: Float32Array; grad?: Float32Array; lse?: Float32Array };

const made: Xent[] = [];
afterAll(() => {
  for (const xent of made) xent.dispose();
});
const xents = await createAllBackends();
made.push(...xents);

/**
 * Positions the wasm strided kernels have gathered into tiles so far (assembly/strided.ts's
 * testing hook, on this thread's instance); the JS fallback has no tile path at all.
 */
function tiledPositions(xent: Xent): number {
  const kernels = (xent as unknown as { impl: { kernels?: { stridedTiledPositions(): number } } }).impl.kernels;
  return kernels ? kernels.stridedTiledPositions() : 0;
}

/**
 * Whether a class-axis call (inner > 1, four positions or more) still gathers tiles: on the
 * SIMD builds K > 64 and softcap (soft targets too at K > 64); on the scalar build soft
 * targets at K > 64 (where in place was slower than the tiles); never on the JS fallback.
 */
function expectsTiles(backend: string, K: number, soft: boolean, softcap: boolean): boolean {
  if (backend === 'js') return false;
  if (backend === 'wasm') return soft && K > 64;
  return K > 64 || softcap;
}

/** Runs a class-axis call and checks, against the counter, whether it gathered tiles as expected. */
function checkingTiles<T>(xent: Xent, K: number, inner: number, soft: boolean, softcap: boolean, what: string, call: () => T): T {
  const before = tiledPositions(xent);
  const result = call();
  const tiled = tiledPositions(xent) - before;
  if (inner > 1) expect(tiled > 0, `${what}: gathered ${tiled} positions into tiles`).toBe(expectsTiles(xent.backend, K, soft, softcap));
  return result;
}

/** The strided result with its gradient as rows, to compare with the transposed call's. */
function asRows(result: Out, outer: number, K: number, inner: number): Out {
  return result.grad ? { ...result, grad: toRows(result.grad, outer, K, inner) } : result;
}

interface Case {
  outer: number;
  K: number;
  inner: number;
  sigma?: number;
  negInfRate?: number;
  ignoredRate?: number;
}

function makeCase(seed: number, c: Case) {
  const random = makeRandom(seed);
  const rows = c.outer * c.inner;
  const labels = new Int32Array(rows);
  for (let p = 0; p < rows; p++) labels[p] = random() < (c.ignoredRate ?? 0) ? -100 : Math.floor(random() * c.K);
  // Logits as rows first (so that −∞ entries avoid each row's label), then laid out strided.
  const rowLogits = new Float32Array(rows * c.K);
  for (let p = 0; p < rows; p++) {
    for (let k = 0; k < c.K; k++) {
      const masked = c.K > 1 && k !== labels[p] && random() < (c.negInfRate ?? 0);
      rowLogits[p * c.K + k] = masked ? -Infinity : gaussian(random, c.sigma ?? 3);
    }
  }
  return { labels, rowLogits, logits: fromRows(rowLogits, c.outer, c.K, c.inner), rows };
}

const CLASS_COUNTS = [1, 3, 21, 1000];
const INNERS = [1, 3, 4, 5, 16384];
/** Outer sizes that keep a case under ~0.4 M logits. */
const outerFor = (K: number, inner: number) => (inner === 16384 ? 1 : K === 1000 ? 2 : 3);
const sizes = CLASS_COUNTS.flatMap((K) => INNERS.filter((inner) => !(inner === 16384 && K === 1000)).map((inner) => ({ K, inner, outer: outerFor(K, inner) })));

/** Option sets, each a different kernel path or output combination. */
const HARD_VARIANTS: { name: string; options: (K: number) => Loose; negInfRate?: number; ignoredRate?: number; sigma?: number }[] = [
  { name: 'ε 0.1, none, grad, lse', options: () => ({ smoothing: 0.1, reduction: 'none', grad: true, lse: true }) },
  { name: 'weights, ignoreIndex, zLoss, mean, grad given', ignoredRate: 0.2, options: (K) => ({ weight: Float32Array.from({ length: K }, (_, k) => 0.5 + (k % 3)), zLoss: 1e-3, smoothing: 0.05, grad: 'given', lse: true }) },
  { name: 'softcap, sum, inplace', options: () => ({ softcap: 4, reduction: 'sum', grad: 'inplace', smoothing: 0.2, gradScale: 0.5 }) },
  { name: '−∞ entries, ε 0, mean, grad', negInfRate: 0.3, options: () => ({ grad: true, lse: true }) },
  { name: 'confident rows (σ 100), ε 0.1', sigma: 100, options: () => ({ smoothing: 0.1, reduction: 'none', grad: true }) },
];

/** grad: 'given' becomes a fresh array of the logits' length. */
function withGrad(options: Loose, length: number): Loose {
  return options.grad === 'given' ? { ...options, grad: new Float32Array(length) } : options;
}

describe('crossEntropy with a class axis: bit for bit the transposed call, within the reference bars', () => {
  for (const xent of xents) {
    for (const variant of HARD_VARIANTS) {
      it(`${xent.backend}: ${variant.name}`, () => {
        let seed = 7;
        for (const { K, inner, outer } of sizes) {
          const { labels, rowLogits, logits, rows } = makeCase(seed++, { outer, K, inner, sigma: variant.sigma, negInfRate: variant.negInfRate, ignoredRate: variant.ignoredRate });
          const options = variant.options(K);
          const inplace = options.grad === 'inplace';
          const before = snapshot(logits);
          const labelsBefore = snapshot(labels);
          const stridedIn = inplace ? logits.slice() : logits;
          const what = `${xent.backend} K=${K} inner=${inner} outer=${outer}`;
          const strided = checkingTiles(xent, K, inner, false, options.softcap !== undefined, what, () =>
            xent.crossEntropy(stridedIn, labels, { ...withGrad(options, logits.length), shape: [outer, K, inner], classAxis: 1 } as never) as Out);
          if (!inplace) assertUnchanged('logits', logits, before);
          assertUnchanged('labels', labels, labelsBefore);
          const rowsIn = inplace ? rowLogits.slice() : rowLogits;
          const transposed = xent.crossEntropy(rowsIn, labels, { ...withGrad(options, logits.length), numClasses: K } as never) as Out;
          assertIdentical(asRows(strided, outer, K, inner) as never, transposed as never, what);
          if (inplace) expect(strided.grad).toBe(stridedIn);
          const reference = referenceCrossEntropy(rowLogits, labels, {
            numClasses: K, smoothing: options.smoothing as number | undefined, reduction: options.reduction as never,
            gradScale: options.gradScale as number | undefined, weight: options.weight as Float32Array | undefined,
            zLoss: options.zLoss as number | undefined, softcap: options.softcap as number | undefined,
          });
          assertMatchesReference(asRows(strided, outer, K, inner) as never, reference, {
            reduction: (options.reduction as never) ?? 'mean', numClasses: K, expectGrad: true, expectLse: options.lse === true,
            perturbation: perturbationForSoftcap(rows, options.softcap as number | undefined), what,
          });
        }
      }, TIMEOUT);
    }
  }
});

/**
 * Random probability targets for rows × K logits in rows: a share `zeros` of the classes (and
 * every class whose logit is −∞, else the loss is ∞) gets 0; a row left with nothing puts all
 * its mass on its first finite logit.
 */
function targetsFor(rowLogits: Float32Array, rows: number, K: number, random: () => number, zeros: number): Float32Array {
  const rowTargets = new Float32Array(rows * K);
  for (let p = 0; p < rows; p++) {
    let total = 0;
    for (let k = 0; k < K; k++) total += rowTargets[p * K + k] = (zeros > 0 && random() < zeros) || rowLogits[p * K + k] === -Infinity ? 0 : random();
    if (total === 0) {
      const k = rowLogits.subarray(p * K, p * K + K).findIndex((z) => z !== -Infinity);
      rowTargets[p * K + k] = total = 1;
    }
    for (let k = 0; k < K; k++) rowTargets[p * K + k] /= total;
  }
  return rowTargets;
}

/**
 * Soft-target cases, each a different kernel path: the exps written over the logits (grad) or
 * not (loss only: the scalar build's late confident test), confident rows (σ 100: the exact
 * pass), −∞ logits where the target is 0 (u·x masked), smoothing, weights, temperature.
 */
const SOFT_VARIANTS: { name: string; options: (K: number) => Loose; negInfRate?: number; sigma?: number }[] = [
  { name: 'ε 0.1, none, grad, lse', options: () => ({ smoothing: 0.1, reduction: 'none', grad: true, lse: true }) },
  { name: 'temperature 2, weights, sum, grad', options: (K) => ({ temperature: 2, weight: Float32Array.from({ length: K }, (_, k) => 1 + (k % 2)), reduction: 'sum', grad: true }) },
  { name: 'confident rows (σ 100), loss only, lse', sigma: 100, options: () => ({ reduction: 'none', lse: true }) },
  { name: 'confident rows (σ 100), temperature 0.5, inplace', sigma: 100, options: () => ({ temperature: 0.5, reduction: 'none', grad: 'inplace' }) },
  { name: '−∞ logits (target 0), mean, grad, lse', negInfRate: 0.3, options: () => ({ grad: true, lse: true }) },
  { name: '−∞ logits (target 0), ε 0, loss only', negInfRate: 0.3, options: () => ({ reduction: 'none' }) },
];

describe('softCrossEntropy with a class axis: targets laid out as the logits', () => {
  for (const xent of xents) {
    for (const variant of SOFT_VARIANTS) {
      it(`${xent.backend}: ${variant.name}`, () => {
        let seed = 100;
        for (const { K, inner, outer } of sizes) {
          const { rowLogits, logits, rows } = makeCase(seed++, { outer, K, inner, sigma: variant.sigma, negInfRate: variant.negInfRate });
          const rowTargets = targetsFor(rowLogits, rows, K, makeRandom(seed), 0.3);
          const targets = fromRows(rowTargets, outer, K, inner);
          const options = variant.options(K);
          const inplace = options.grad === 'inplace';
          const stridedIn = inplace ? logits.slice() : logits;
          const before = snapshot(logits);
          const what = `${xent.backend} soft K=${K} inner=${inner}`;
          const strided = checkingTiles(xent, K, inner, true, false, what, () =>
            xent.softCrossEntropy(stridedIn, targets, { ...options, shape: [outer, K, inner], classAxis: -2 } as never) as Out);
          if (!inplace) assertUnchanged('logits', logits, before);
          const rowsIn = inplace ? rowLogits.slice() : rowLogits;
          const transposed = xent.softCrossEntropy(rowsIn, rowTargets, { ...options, numClasses: K } as never) as Out;
          assertIdentical(asRows(strided, outer, K, inner) as never, transposed as never, what);
          if (inplace) expect(strided.grad).toBe(stridedIn);
          const reference = referenceSoftCrossEntropy(rowLogits, rowTargets, {
            numClasses: K, smoothing: options.smoothing as number | undefined, reduction: options.reduction as never,
            weight: options.weight as Float32Array | undefined, temperature: options.temperature as number | undefined,
          });
          assertMatchesReference(asRows(strided, outer, K, inner) as never, reference, {
            reduction: (options.reduction as never) ?? 'mean', numClasses: K, expectGrad: options.grad !== undefined, expectLse: options.lse === true,
            perturbation: perturbationForTemperature(rowLogits, rows, K, options.temperature as number | undefined), what,
          });
        }
      }, TIMEOUT);
    }
  }
});

describe('soft targets, small K on every column grouping (four, a pair, one) and the K = 64 | 65 switch', () => {
  it('K = 2, 5, 6, 7, 64, 65 × inner 5, 7, 12: the transposed call\'s bits, also with a 64 KiB arena (chunks inside an outer)', async () => {
    const chunked = await createAllBackends({ arenaBytes: 65536 });
    made.push(...chunked);
    let seed = 500;
    for (const xent of [...xents, ...chunked]) {
      for (const K of [2, 5, 6, 7, 64, 65]) {
        for (const inner of [5, 7, 12]) {
          const outer = 40; // at K = 64, inner 12: 240 KB of logits and targets, several chunks of the 64 KiB arena
          const { rowLogits, logits, rows } = makeCase(seed++, { outer, K, inner, negInfRate: 0.1 });
          const rowTargets = targetsFor(rowLogits, rows, K, makeRandom(seed), 0);
          const targets = fromRows(rowTargets, outer, K, inner);
          const options = { smoothing: 0.05, temperature: 1.5, weight: Float32Array.from({ length: K }, (_, k) => 1 + (k % 3)), reduction: 'none', grad: true, lse: true } as const;
          const what = `${xent.backend} soft K=${K} inner=${inner}`;
          const strided = checkingTiles(xent, K, inner, true, false, what, () =>
            xent.softCrossEntropy(logits, targets, { ...options, shape: [outer, K, inner], classAxis: 1 }) as Out);
          const transposed = xent.softCrossEntropy(rowLogits, rowTargets, { ...options, numClasses: K }) as Out;
          assertIdentical(asRows(strided, outer, K, inner) as never, transposed as never, what);
          const sum = xent.softCrossEntropy(logits, targets, { ...options, reduction: 'sum', shape: [outer, K, inner], classAxis: 1 });
          expect(Object.is(sum.loss, xent.softCrossEntropy(rowLogits, rowTargets, { ...options, reduction: 'sum', numClasses: K }).loss), `${what} sum`).toBe(true);
        }
      }
    }
  }, TIMEOUT);
});

describe('shapes', () => {
  for (const xent of xents) {
    it(`${xent.backend}: N×C×H×W with classAxis 1 or −3, classAxis 0, the last axis by default (= rows), empty shapes`, () => {
      const [N, C, H, W] = [2, 5, 3, 7];
      const { labels, rowLogits, logits } = makeCase(3, { outer: N, K: C, inner: H * W });
      const rows = xent.crossEntropy(rowLogits, labels, { numClasses: C, grad: true, reduction: 'none' });
      for (const classAxis of [1, -3]) {
        const r = xent.crossEntropy(logits, labels, { shape: [N, C, H, W], classAxis, grad: true, reduction: 'none' }) as Out;
        assertIdentical(asRows(r, N, C, H * W) as never, rows as never, `classAxis ${classAxis}`);
        // numClasses may be given too, equal to shape[classAxis].
        const again = xent.crossEntropy(logits, labels, { shape: [N, C, H, W], classAxis, numClasses: C, grad: true, reduction: 'none' });
        assertIdentical(again as never, r as never, 'numClasses given');
      }
      // Class axis first: outer = 1.
      const first = makeCase(4, { outer: 1, K: C, inner: N * H });
      const r0 = xent.crossEntropy(first.logits, first.labels, { shape: [C, N, H], classAxis: 0, grad: true, smoothing: 0.1 }) as Out;
      assertIdentical(asRows(r0, 1, C, N * H) as never, xent.crossEntropy(first.rowLogits, first.labels, { numClasses: C, grad: true, smoothing: 0.1 }) as never, 'classAxis 0');
      // The default axis is the last: shape [N, H, C] is rows.
      const last = xent.crossEntropy(rowLogits, labels, { shape: [N, H * W, C], grad: true, reduction: 'none' });
      assertIdentical(last as never, rows as never, 'last axis');
      // Zero positions.
      const empty = xent.crossEntropy(new Float32Array(0), new Int32Array(0), { shape: [0, C, 4], classAxis: 1, grad: true });
      expect(empty.loss).toBe(0);
      expect(empty.grad.length).toBe(0);
    });
  }
});

describe('large K: chunks of whole outers or ≥ 512 positions (src/layout.ts stridedChunk)', () => {
  it('K = 1000: inner 512 (one outer per chunk), 600 (four outers per chunk, a short last one), and a 1 MiB arena (260-position chunks inside outers): the transposed call\'s bits', async () => {
    const smallArena = await createAllBackends({ arenaBytes: 1 << 20 });
    made.push(...smallArena);
    for (const xent of [...xents, ...smallArena]) {
      for (const { inner, outer } of [{ inner: 512, outer: 2 }, { inner: 600, outer: 5 }]) {
        const K = 1000;
        const { labels, rowLogits, logits, rows } = makeCase(inner + outer, { outer, K, inner, ignoredRate: 0.05 });
        const options = { smoothing: 0.1, grad: true, lse: true, reduction: 'none' as const };
        const what = `${xent.backend} K=${K} inner=${inner} outer=${outer}`;
        const strided = xent.crossEntropy(logits, labels, { ...options, shape: [outer, K, inner], classAxis: 1 });
        assertIdentical(asRows(strided as Out, outer, K, inner) as never, xent.crossEntropy(rowLogits, labels, { ...options, numClasses: K }) as never, what);
        const random = makeRandom(rows);
        const rowTargets = Float32Array.from({ length: rows * K }, () => random() / 500);
        const soft = xent.softCrossEntropy(logits, fromRows(rowTargets, outer, K, inner), { grad: true, reduction: 'sum', shape: [outer, K, inner], classAxis: 1 });
        assertIdentical(asRows(soft as Out, outer, K, inner) as never, xent.softCrossEntropy(rowLogits, rowTargets, { grad: true, reduction: 'sum', numClasses: K }) as never, `${what} soft`);
      }
    }
  }, TIMEOUT);
});

describe('pools and async forms: the same bits', () => {
  it('threads 2 (sync through the workers, chunks starting inside an outer), a 64 KiB arena, async on the pool and the copy worker', async () => {
    const pooled = await createAllBackends({ threads: 2 });
    const small = await createAllBackends({ threads: 2, arenaBytes: 65536 });
    // One thread, a 64 KiB arena: many chunks per call, most of them inside an outer.
    const chunked = await createAllBackends({ arenaBytes: 65536 });
    made.push(...pooled, ...small, ...chunked);
    for (const xent of [...pooled, ...small]) threadingOf(xent).syncMinElements = 0;
    for (const xent of xents) {
      const twins = [...pooled, ...small, ...chunked].filter((x) => x.backend === xent.backend);
      for (const { K, inner, outer } of [{ K: 21, inner: 16384, outer: 1 }, { K: 3, inner: 5, outer: 40 }, { K: 1000, inner: 5, outer: 3 }, { K: 7, inner: 3, outer: 1 }]) {
        const { labels, logits } = makeCase(K * inner, { outer, K, inner, ignoredRate: 0.1 });
        const options = { shape: [outer, K, inner], classAxis: 1, smoothing: 0.1, grad: true, lse: true, reduction: 'none' as const };
        const one = xent.crossEntropy(logits, labels, options);
        const what = `${xent.backend} K=${K} inner=${inner}`;
        assertIdentical((await xent.crossEntropyAsync(logits, labels, options)) as never, one as never, `${what} async`);
        for (const twin of twins) {
          assertIdentical(twin.crossEntropy(logits, labels, options) as never, one as never, `${what} threads 2 sync`);
          assertIdentical((await twin.crossEntropyAsync(logits, labels, options)) as never, one as never, `${what} threads 2 async`);
        }
        const targets = new Float32Array(logits.length).fill(1 / K);
        const soft = xent.softCrossEntropy(logits, targets, { ...options, lse: false, reduction: 'sum' });
        assertIdentical((await xent.softCrossEntropyAsync(logits, targets, { ...options, lse: false, reduction: 'sum' })) as never, soft as never, `${what} soft async`);
        for (const twin of twins) {
          assertIdentical(twin.softCrossEntropy(logits, targets, { ...options, lse: false, reduction: 'sum' }) as never, soft as never, `${what} soft threads 2`);
        }
      }
    }
  }, TIMEOUT);
});

describe('the copy worker (no shared memory): whole outers per message', () => {
  it('every backend: crossEntropyAsync and softCrossEntropyAsync equal the sync call', async () => {
    const copies = await createCopyBackends();
    made.push(...copies);
    for (const xent of copies) {
      expect(xent.sharedMemory).toBe(false);
      const single = xents.find((x) => x.backend === xent.backend) as Xent;
      for (const { K, inner, outer } of [{ K: 21, inner: 16384, outer: 2 }, { K: 5, inner: 3, outer: 50 }, { K: 1000, inner: 4, outer: 2 }]) {
        const { labels, logits } = makeCase(K * inner + 1, { outer, K, inner, ignoredRate: 0.1 });
        const options = { shape: [outer, K, inner], classAxis: 1, smoothing: 0.1, grad: true, lse: true };
        const what = `${xent.backend} copies K=${K} inner=${inner}`;
        assertIdentical((await xent.crossEntropyAsync(logits, labels, options)) as never, single.crossEntropy(logits, labels, options) as never, what);
        const targets = new Float32Array(logits.length).fill(1 / K);
        assertIdentical((await xent.softCrossEntropyAsync(logits, targets, options)) as never, single.softCrossEntropy(logits, targets, options) as never, `${what} soft`);
      }
    }
  }, TIMEOUT);
});

describe('bad input: named errors before any work, inputs unchanged', () => {
  const logits = new Float32Array(2 * 3 * 4).fill(0.5);
  const labels = new Int32Array(8);
  const cases: [Loose, ErrorConstructor, RegExp][] = [
    [{ shape: [2, 3, 5], classAxis: 1 }, RangeError, /crossEntropy: shape \[2, 3, 5\] has 30 elements, but logits.length is 24/],
    [{ shape: [2, 3.5, 4], classAxis: 1 }, RangeError, /crossEntropy: shape\[1\] must be an integer ≥ 0, got 3.5/],
    [{ shape: [2, -3, -4], classAxis: 1 }, RangeError, /crossEntropy: shape\[1\] must be an integer ≥ 0, got -3/],
    [{ shape: [2, '3', 4], classAxis: 1 }, TypeError, /crossEntropy: shape\[1\] must be a number \(an integer ≥ 0\), got "3"/],
    [{ shape: new Int32Array([2, 3, 4]) }, TypeError, /crossEntropy: shape must be an array of integers ≥ 0 \(the logits' dimensions\), got Int32Array\(3\)/],
    [{ shape: [] }, RangeError, /crossEntropy: shape must have at least one dimension, got \[\]/],
    [{ shape: [2, 3, 4], classAxis: 3 }, RangeError, /crossEntropy: classAxis must be an integer in \[-3, 2\] \(negative counts from the end\), got 3/],
    [{ shape: [2, 3, 4], classAxis: -4 }, RangeError, /crossEntropy: classAxis must be an integer in \[-3, 2\].*got -4/],
    [{ shape: [2, 3, 4], classAxis: 1.5 }, RangeError, /crossEntropy: classAxis must be an integer.*got 1.5/],
    [{ shape: [2, 3, 4], classAxis: '1' }, TypeError, /crossEntropy: classAxis must be a number.*got "1"/],
    [{ shape: [2, 3, 4], classAxis: 1, numClasses: 4 }, RangeError, /crossEntropy: numClasses must equal shape\[1\] \(3\) when shape is given, got 4/],
    [{ numClasses: 3, classAxis: 1 }, TypeError, /crossEntropy: classAxis needs shape \(the logits' dimensions\), got classAxis 1 without it/],
    [{ shape: [2, 0, 4], classAxis: 1 }, RangeError, /crossEntropy: shape \[2, 0, 4\] has 0 elements, but logits.length is 24/],
  ];
  for (const xent of xents) {
    it(`${xent.backend}: ${cases.length} cases, and labels laid out as the shape without the class axis`, () => {
      const before = snapshot(logits);
      const grad = new Float32Array(24).fill(7);
      for (const [options, type, message] of cases) {
        let thrown: unknown;
        try {
          xent.crossEntropy(logits, labels, { ...options, grad } as never);
        } catch (error) {
          thrown = error;
        }
        expect(thrown, JSON.stringify(options)).toBeInstanceOf(type);
        expect((thrown as Error).message).toMatch(message);
        expect(() => xent.softCrossEntropy(logits, logits, { ...options, grad } as never)).toThrow(type);
      }
      expect(() => xent.crossEntropy(new Float32Array(0), new Int32Array(0), { shape: [2, 0, 4], classAxis: 1 } as never)).toThrow(/the class axis \(shape\[1\]\) must be ≥ 1, got 0/);
      expect(() => xent.crossEntropy(logits, new Int32Array(6), { shape: [2, 3, 4], classAxis: 1 })).toThrow(/labels.length must equal the number of rows .* = 8\), got 6/);
      expect(() => xent.crossEntropy(logits, Int32Array.of(0, 1, 2, 3, 0, 0, 0, 0), { shape: [2, 3, 4], classAxis: 1 })).toThrow(/labels\[3\] must be an integer in \[0, 3\)/);
      assertUnchanged('logits', logits, before);
      expect(grad.every((g) => g === 7)).toBe(true);
    });
  }
  it('the async forms and the batch reject them the same way', async () => {
    const xent = xents[0];
    await expect(xent.crossEntropyAsync(logits, labels, { shape: [2, 3, 5], classAxis: 1 })).rejects.toThrow(/crossEntropyAsync: shape \[2, 3, 5\] has 30 elements/);
    await expect(xent.softCrossEntropyAsync(logits, logits, { shape: [2, 3, 4], classAxis: 9 })).rejects.toThrow(/softCrossEntropyAsync: classAxis must be/);
    const batch = xent.createBatch(2, 3);
    expect(() => batch.crossEntropy({ shape: [2, 3] } as never)).toThrow(/unknown option "shape"/);
    batch.dispose();
  });
});

// onnxruntime-node's SoftmaxCrossEntropyLoss (ONNX opset 13) takes scores N×C×d1…dk, labels
// N×d1…dk, optional weights and ignore_index, reductions mean / sum / none: the shapes and
// option combinations of ONNX's own sce_NCd1…/sce_NCd1d2d3… backend test cases, computed by an
// independent implementation. (The conformance files themselves are not in this repository.)
describe('against onnxruntime-node SoftmaxCrossEntropyLoss (class axis 1)', async () => {
  const onnx = await import('onnxruntime-node').catch(() => null);
  const encode: unknown = await import(new URL('../bench/onnx-encode.mjs', import.meta.url).href);
  const SHAPES = [[3, 5, 2], [3, 5, 6, 6], [3, 5, 6, 6, 5], [2, 4, 3, 2, 2, 3, 2], [1, 21, 16, 16]];
  async function onnxLoss(shape: number[], logits: Float32Array, labels: Int32Array, reduction: string, ignoreIndex: number | null, weight: Float32Array | null) {
    const labelShape = [shape[0], ...shape.slice(2)];
    const { FLOAT, INT64, model, node, valueInfo } = encode as { FLOAT: number; INT64: number; model: (m: unknown) => Uint8Array; node: (...a: unknown[]) => unknown; valueInfo: (...a: unknown[]) => unknown };
    const attributes: Record<string, unknown> = { reduction };
    if (ignoreIndex !== null) attributes.ignore_index = ignoreIndex;
    const inputs = [valueInfo('scores', FLOAT, shape), valueInfo('labels', INT64, labelShape)];
    if (weight) inputs.push(valueInfo('weights', FLOAT, [shape[1]]));
    const outShape = reduction === 'none' ? labelShape : [];
    const bytes = model({
      nodes: [node('SoftmaxCrossEntropyLoss', weight ? ['scores', 'labels', 'weights'] : ['scores', 'labels'], ['loss'], attributes)],
      inputs, outputs: [valueInfo('loss', FLOAT, outShape)], opset: 13,
    });
    const session = await onnx!.InferenceSession.create(bytes);
    const feeds: Record<string, unknown> = {
      scores: new onnx!.Tensor('float32', logits, shape),
      labels: new onnx!.Tensor('int64', BigInt64Array.from(labels, (y) => BigInt(y)), labelShape),
    };
    if (weight) feeds.weights = new onnx!.Tensor('float32', weight, [shape[1]]);
    const out = await session.run(feeds as never);
    return out.loss.data as Float32Array;
  }
  for (const xent of xents) {
    it.skipIf(onnx === null)(`${xent.backend}: ${SHAPES.length} shapes × mean / sum / none × weights × ignore_index`, async () => {
      let seed = 40;
      for (const shape of SHAPES) {
        const C = shape[1];
        const inner = shape.slice(2).reduce((a, b) => a * b, 1);
        for (const [reduction, ignoreIndex, weighted] of [['mean', null, false], ['sum', null, true], ['none', 2, false], ['mean', -1, true], ['mean', 1, false]] as const) {
          const random = makeRandom(seed++);
          const logits = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => gaussian(random, 2));
          const labels = Int32Array.from({ length: shape[0] * inner }, () => (ignoreIndex !== null && random() < 0.2 ? ignoreIndex : Math.floor(random() * C)));
          const weight = weighted ? Float32Array.from({ length: C }, () => 0.25 + random()) : null;
          const expected = await onnxLoss(shape, logits, labels, reduction, ignoreIndex, weight);
          const options: Loose = { shape, classAxis: 1, reduction, ...(ignoreIndex !== null ? { ignoreIndex } : {}), ...(weight ? { weight } : {}) };
          const result = xent.crossEntropy(logits, labels, options as never) as Out;
          const got = reduction === 'none' ? (result.losses as Float32Array) : Float32Array.of(result.loss as number);
          expect(got.length).toBe(expected.length);
          for (let i = 0; i < got.length; i++) {
            expect(Math.abs(got[i] - expected[i]), `${xent.backend} ${shape} ${reduction} ignore ${ignoreIndex} [${i}]: ${got[i]} vs ${expected[i]}`).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(expected[i])));
          }
        }
      }
    }, TIMEOUT);
  }
});

it('createXent with the default backend takes shape too (tiny calls on the JS backend)', async () => {
  const xent = await createXent();
  made.push(xent);
  const { labels, rowLogits, logits } = makeCase(9, { outer: 1, K: 2, inner: 3 });
  assertIdentical(
    asRows(xent.crossEntropy(logits, labels, { shape: [1, 2, 3], classAxis: 1, grad: true }) as Out, 1, 2, 3) as never,
    xent.crossEntropy(rowLogits, labels, { numClasses: 2, grad: true }) as never,
  );
});

// The evaluation calls take shape and classAxis by transposing the logits into rows once (a
// copy; src/layout.ts rowsCall, prepareSoftmax): their results are the transposed call's, bit
// for bit, so eval.test.ts's float64-reference bars for rows hold for them unchanged.
describe('evaluation calls with a class axis: the transposed call, bit for bit', () => {
  for (const xent of xents) {
    it(`${xent.backend}: softmax (new, given, inplace, log), rowStats, evaluate, fitTemperature, and their async forms`, async () => {
      for (const { outer, K, inner } of [{ outer: 2, K: 21, inner: 5 }, { outer: 1, K: 3, inner: 16384 }, { outer: 2, K: 1000, inner: 3 }]) {
        const { labels, rowLogits, logits } = makeCase(K + inner, { outer, K, inner, ignoredRate: 0.1 });
        const layout = { shape: [outer, K, inner], classAxis: 1 };
        const what = `${xent.backend} K=${K} inner=${inner}`;
        const before = snapshot(logits);
        const rowsSoftmax = xent.softmax(rowLogits, { numClasses: K, temperature: 1.5 });
        const expected = fromRows(rowsSoftmax, outer, K, inner);
        expect(xent.softmax(logits, { ...layout, temperature: 1.5 }), what).toStrictEqual(expected);
        expect(await xent.softmaxAsync(logits, { ...layout, temperature: 1.5 }), what).toStrictEqual(expected);
        const out = new Float32Array(logits.length);
        expect(xent.softmax(logits, { ...layout, temperature: 1.5, out })).toBe(out);
        expect(out).toStrictEqual(expected);
        expect(xent.softmax(logits, { ...layout, log: true })).toStrictEqual(fromRows(xent.softmax(rowLogits, { numClasses: K, log: true }), outer, K, inner));
        assertUnchanged('logits', logits, before);
        const copy = logits.slice();
        expect(xent.softmax(copy, { ...layout, temperature: 1.5, out: 'inplace' })).toBe(copy);
        expect(copy).toStrictEqual(expected);
        const stats = xent.rowStats(rowLogits, labels, { numClasses: K, ignoreIndex: -100 });
        expect(xent.rowStats(logits, labels, { ...layout, ignoreIndex: -100 }), what).toStrictEqual(stats);
        expect(await xent.rowStatsAsync(logits, labels, layout), what).toStrictEqual(stats);
        expect(xent.rowStats(logits, null, layout)).toStrictEqual(xent.rowStats(rowLogits, null, { numClasses: K }));
        const evaluation = xent.evaluate(rowLogits, labels, { numClasses: K, smoothing: 0.1 });
        expect(xent.evaluate(logits, labels, { ...layout, smoothing: 0.1 }), what).toStrictEqual(evaluation);
        expect(await xent.evaluateAsync(logits, labels, { ...layout, smoothing: 0.1 }), what).toStrictEqual(evaluation);
        const fit = xent.fitTemperature(rowLogits, labels, { numClasses: K });
        expect(xent.fitTemperature(logits, labels, layout), what).toStrictEqual(fit);
        expect(await xent.fitTemperatureAsync(logits, labels, layout), what).toStrictEqual(fit);
        assertUnchanged('logits', logits, before);
      }
      expect(() => xent.softmax(new Float32Array(6), { shape: [2, 3], classAxis: 0, numClasses: 3 })).toThrow(/softmax: numClasses must equal shape\[0\] \(2\)/);
      expect(() => xent.rowStats(new Float32Array(6), null, { shape: [2, 4], classAxis: 0 })).toThrow(/rowStats: shape \[2, 4\] has 8 elements, but logits.length is 6/);
      expect(() => xent.evaluate(new Float32Array(6), [0, 0, 0], { shape: [2, 3], classAxis: 2 })).toThrow(/evaluate: classAxis must be an integer in \[-2, 1\]/);
      expect(() => xent.fitTemperature(new Float32Array(6), [0, 0], { numClasses: 3, classAxis: 1 } as never)).toThrow(/fitTemperature: classAxis needs shape/);
      await expect(xent.evaluateAsync(new Float32Array(6), [0, 0, 0], { shape: [2, 3.5], classAxis: 0 })).rejects.toThrow(/evaluateAsync: shape\[1\] must be an integer ≥ 0, got 3.5/);
    }, TIMEOUT);
  }
});
