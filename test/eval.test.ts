/**
 * Evaluation (softmax, rowStats, createEvaluator / evaluate, state and merge, fitTemperature,
 * language-model shift, `count` in loss results) on every backend, against the float64
 * reference of eval-reference.ts. Bars (from issue 9):
 * - nll, smoothedLoss, brier, entropy, meanConfidence: |x − ref| ≤ 1e-6·max(|ref|, 1); perplexity
 *   = exp(nll) relative to itself within nll's bar, 1e-6·max(nll, 1);
 * - accuracy, topK, bin counts: exact (rows whose confidence lies within 1e-6 of a bin edge
 *   are counted and allowed to move one bin each); prediction and rank compare the same
 *   float32 logits as the reference, so they are exact everywhere;
 * - ece, mce, ace: within 1e-6 when no row is that close to an edge (or, for ace, to the
 *   row across an equal-mass boundary);
 * - probabilities: relative error ≤ 5e-7·max(1, |log p|); log-probabilities: absolute error
 *   ≤ 3e-7·max(1, |log p|);
 * - fitTemperature: within 1e-4 relative of the float64 minimiser, in ≤ 20 passes;
 * - merged states: within 1e-12 relative of the single pass, counts exactly;
 * - streaming: bit for bit equal to one-shot, for any split into add calls.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EvaluationResult, EvaluatorOptions, Labels, Xent } from '../src/index.js';
import { createAllBackends } from './backends.js';
import { assertUnchanged, makeLabels, makeLogits, makeRandom, randomLabels, seedArbitrary, snapshot, gaussian } from './generators.js';
import { referenceEvaluate, referenceRow, referenceSoftmax, referenceTemperature, type ReferenceEvaluation, type ReferenceEvaluationOptions } from './eval-reference.js';

const xents = await createAllBackends();
const TIMEOUT = 120_000;
const each = xents.map((xent) => ({ backend: xent.backend, xent }));

/** |got − ref| ≤ bar·max(|ref|, 1); non-finite references must match exactly. */
function near(what: string, got: number, ref: number, bar = 1e-6): string | null {
  if (!Number.isFinite(ref)) return Object.is(got, ref) || (Number.isNaN(got) && Number.isNaN(ref)) ? null : `${what}: got ${got}, expected exactly ${ref}`;
  return Math.abs(got - ref) <= bar * Math.max(Math.abs(ref), 1) ? null : `${what}: got ${got}, expected ${ref} (|diff| ${Math.abs(got - ref)})`;
}

/** Compares an evaluation with the reference under the bars of the header; returns the problems. */
function compareEvaluation(got: EvaluationResult, ref: ReferenceEvaluation): string[] {
  const problems: (string | null)[] = [];
  problems.push(got.count === ref.count ? null : `count: got ${got.count}, expected ${ref.count}`);
  for (const key of ['nll', 'smoothedLoss', 'brier', 'entropy', 'meanConfidence'] as const) problems.push(near(key, got[key], ref[key]));
  // perplexity = exp(nll): its relative error is nll's absolute error, whose bar is
  // 1e-6·max(nll, 1) (exp(20) with nll off by 1.2e-6 is 1.2e-6 off, relative: seen in CI).
  const perplexityBar = 1e-6 * Math.max(Math.abs(ref.nll), 1) * 1.001;
  problems.push(Number.isFinite(ref.perplexity) && Math.abs(got.perplexity - ref.perplexity) > perplexityBar * ref.perplexity
    ? `perplexity: got ${got.perplexity}, expected ${ref.perplexity} (relative ${Math.abs(got.perplexity / ref.perplexity - 1)}, bar ${perplexityBar})`
    : Number.isFinite(ref.perplexity) ? null : near('perplexity', got.perplexity, ref.perplexity));
  problems.push(got.accuracy === ref.accuracy ? null : `accuracy: got ${got.accuracy}, expected ${ref.accuracy}`);
  expect(Object.keys(got.topK)).toEqual(Object.keys(ref.topK));
  for (const k of Object.keys(ref.topK)) problems.push(got.topK[Number(k)] === ref.topK[Number(k)] ? null : `topK[${k}]: got ${got.topK[Number(k)]}, expected ${ref.topK[Number(k)]}`);
  expect(got.bins.length).toBe(ref.bins.length);
  let moved = 0;
  got.bins.forEach((bin, b) => {
    moved += Math.abs(bin.count - ref.bins[b].count);
    problems.push(bin.lo === ref.bins[b].lo && bin.hi === ref.bins[b].hi ? null : `bins[${b}] edges`);
  });
  problems.push(moved <= 2 * ref.nearEdge ? null : `bin counts differ by ${moved} (rows near an edge: ${ref.nearEdge})`);
  if (ref.nearEdge === 0) {
    for (const key of ['ece', 'mce'] as const) problems.push(near(key, got[key], ref[key]));
    got.bins.forEach((bin, b) => {
      problems.push(near(`bins[${b}].meanConfidence`, bin.meanConfidence, ref.bins[b].meanConfidence));
      problems.push(bin.accuracy === ref.bins[b].accuracy ? null : `bins[${b}].accuracy: got ${bin.accuracy}, expected ${ref.bins[b].accuracy}`);
    });
  }
  if (!ref.aceAmbiguous) problems.push(near('ace', got.ace, ref.ace));
  return problems.filter((p): p is string => p !== null);
}

function expectMatches(got: EvaluationResult, ref: ReferenceEvaluation, what = 'evaluation'): void {
  const problems = compareEvaluation(got, ref);
  if (problems.length > 0) throw new Error(`${what} vs float64 reference:\n${problems.slice(0, 10).join('\n')}`);
}

/** Every number of a result, in a fixed order (bit-for-bit comparisons). */
function numbersOf(result: EvaluationResult): number[] {
  const out: number[] = [];
  for (const [key, value] of Object.entries(result)) {
    if (typeof value === 'number') out.push(value);
    else if (key === 'topK') out.push(...Object.values(value as Record<number, number>));
    else for (const bin of value as EvaluationResult['bins']) out.push(bin.lo, bin.hi, bin.count, bin.meanConfidence, bin.accuracy);
  }
  return out;
}

function expectIdentical(a: EvaluationResult, b: EvaluationResult, what: string): void {
  const x = numbersOf(a);
  const y = numbersOf(b);
  expect(x.length).toBe(y.length);
  x.forEach((v, i) => {
    if (!Object.is(v, y[i])) throw new Error(`${what}: number ${i} differs: ${v} vs ${y[i]}`);
  });
}

/** Logits with a class signal, so that accuracy and calibration are not trivial. */
function classifierData(seed: number, rows: number, K: number, sigma = 2, signal = 2.5, ignoredRate = 0.1) {
  const random = makeRandom(seed);
  const labels = randomLabels(random, rows, K, K, ignoredRate);
  const { logits } = makeLogits(random, { rows, numClasses: K, sigma, negInfRate: 0, viewOffset: 0 });
  for (let r = 0; r < rows; r++) if (labels[r] >= 0) logits[r * K + labels[r]] += signal * random();
  return { logits, labels };
}

// ---------------------------------------------------------------------------------------

describe.each(each)('evaluation on $backend', ({ xent }) => {
  describe("the seed's anchor: p = [0.1, 0.2, 0.6, 0.1], true class 2", () => {
    const p = [0.1, 0.2, 0.6, 0.1];
    const logits = Float32Array.from(p, Math.log);

    it('nll 0.5108 and smoothed loss 0.6279 at ε = 0.1, with every other quantity', () => {
      // 4 bins: 0.6 lies inside (0.5, 0.75]; with 15 it would be a bin edge (0.6 = 9/15).
      const result = xent.evaluate(logits, [2], { numClasses: 4, smoothing: 0.1, bins: 4 });
      expect(result.count).toBe(1);
      expect(near('nll', result.nll, -Math.log(0.6))).toBeNull();
      expect(result.nll.toFixed(4)).toBe('0.5108');
      expect(result.smoothedLoss.toFixed(4)).toBe('0.6279');
      const smoothed = -[0.025, 0.025, 0.925, 0.025].reduce((a, y, k) => a + y * Math.log(p[k]), 0);
      expect(near('smoothedLoss', result.smoothedLoss, smoothed)).toBeNull();
      expect(near('perplexity', result.perplexity, 1 / 0.6)).toBeNull();
      expect(result.accuracy).toBe(1);
      expect(result.topK).toEqual({ 1: 1 });
      expect(near('meanConfidence', result.meanConfidence, 0.6)).toBeNull();
      expect(near('brier', result.brier, 0.01 + 0.04 + 0.16 + 0.01)).toBeNull();
      expect(near('entropy', result.entropy, -p.reduce((a, q) => a + q * Math.log(q), 0))).toBeNull();
      // One row of confidence 0.6 in bin 2 of 4: ECE = |1 − 0.6|.
      expect(result.bins.map((b) => b.count)).toEqual([0, 0, 1, 0]);
      expect(near('ece', result.ece, 0.4)).toBeNull();
      expect(near('mce', result.mce, 0.4)).toBeNull();
      expect(near('ace', result.ace, 0.4)).toBeNull();
    });

    it('softmax gives p back, log: true gives log p, and rowStats the row', () => {
      const probs = xent.softmax(logits, { numClasses: 4 });
      p.forEach((q, k) => expect(near(`p[${k}]`, probs[k], q, 5e-7)).toBeNull());
      const logProbs = xent.softmax(logits, { numClasses: 4, log: true });
      p.forEach((q, k) => expect(near(`log p[${k}]`, logProbs[k], Math.log(q), 3e-7)).toBeNull());
      const stats = xent.rowStats(logits, [2], { numClasses: 4 });
      expect(near('lse', stats.lse[0], 0)).toBeNull();
      expect(near('confidence', stats.confidence[0], 0.6)).toBeNull();
      expect(stats.prediction[0]).toBe(2);
      expect(stats.rank[0]).toBe(0);
      expect(near('targetLogProb', stats.targetLogProb[0], Math.log(0.6))).toBeNull();
      const noLabels = xent.rowStats(logits, null, { numClasses: 4 });
      expect(Object.keys(noLabels).sort()).toEqual(['confidence', 'entropy', 'lse', 'prediction']);
    });
  });

  it(
    'evaluate matches the float64 reference (random shapes, T, ε, bins, topK, −∞, ignored rows)',
    () => {
      fc.assert(
        fc.property(
          fc.constantFrom(1, 2, 3, 5, 10, 17, 64, 65, 100, 1000, 1001),
          fc.integer({ min: 0, max: 60 }),
          seedArbitrary,
          fc.constantFrom(0.5, 2, 6),
          fc.constantFrom(1, 0.5, 2.7),
          fc.constantFrom(0, 0.1, 0.7),
          fc.constantFrom(1, 10, 15),
          fc.boolean(),
          (K, rows, seed, sigma, temperature, smoothing, bins, negInf) => {
            const random = makeRandom(seed);
            const labels = randomLabels(random, rows, K, K, 0.15);
            const { logits } = makeLogits(random, { rows, numClasses: K, sigma, negInfRate: negInf ? 0.3 : 0, viewOffset: 1, labels, protectLabels: true });
            const options: EvaluatorOptions = { numClasses: K, temperature, smoothing, bins };
            const before = snapshot(logits);
            const got = xent.evaluate(logits, Int32Array.from(labels), options);
            assertUnchanged('logits', logits, before);
            expectMatches(got, referenceEvaluate(logits, labels, options), `K ${K}, rows ${rows}, T ${temperature}, ε ${smoothing}`);
          },
        ),
        { numRuns: 60 },
      );
    },
    TIMEOUT,
  );

  it.each([1, 2, 10, 1000, 32003])('K = %i: evaluate, rowStats and softmax against the reference', (K) => {
    const rows = K === 32003 ? 6 : K === 1000 ? 40 : 300;
    const { logits, labels } = classifierData(K + 7, rows, K);
    const options = { numClasses: K, smoothing: 0.1, topK: K >= 5 ? [1, 5] : [1] };
    expectMatches(xent.evaluate(logits, labels, options), referenceEvaluate(logits, labels, options));
    const stats = xent.rowStats(logits, labels, { numClasses: K });
    const probs = xent.softmax(logits, { numClasses: K });
    const logProbs = xent.softmax(logits, { numClasses: K, log: true });
    for (let r = 0; r < rows; r++) {
      const y = labels[r];
      const ref = referenceRow(logits, r * K, K, 1, y === -100 ? null : y);
      expect(near(`lse[${r}]`, stats.lse[r], ref.lse)).toBeNull();
      expect(near(`confidence[${r}]`, stats.confidence[r], ref.confidence)).toBeNull();
      expect(near(`entropy[${r}]`, stats.entropy[r], ref.entropy)).toBeNull();
      expect(stats.prediction[r]).toBe(ref.prediction);
      expect(stats.rank[r]).toBe(ref.rank);
      if (y === -100) expect(stats.targetLogProb[r]).toBeNaN();
      else expect(near(`targetLogProb[${r}]`, stats.targetLogProb[r], ref.targetLogProb)).toBeNull();
      for (let k = 0; k < K; k++) {
        const q = ref.probs[k];
        const logQ = Math.log(q);
        // (plain checks: an expect per element would dominate the test at K = 32003)
        if (!(Math.abs(probs[r * K + k] - q) <= 5e-7 * Math.max(1, Math.abs(logQ)) * q + 2 ** -126)) throw new Error(`p[${r}][${k}] ${probs[r * K + k]} vs ${q}`);
        if (!(Math.abs(logProbs[r * K + k] - logQ) <= 3e-7 * Math.max(1, Math.abs(logQ)))) throw new Error(`log p[${r}][${k}] ${logProbs[r * K + k]} vs ${logQ}`);
      }
    }
  });

  describe('softmax', () => {
    it(
      'probabilities and log-probabilities within the bars at any T, with −∞ logits; out: new, given or inplace',
      () => {
        fc.assert(
          fc.property(
            fc.constantFrom(1, 2, 4, 7, 10, 33, 64, 257, 1000, 4099),
            fc.integer({ min: 0, max: 20 }),
            seedArbitrary,
            fc.constantFrom(0.1, 1, 10, 100),
            fc.constantFrom(1, 0.25, 3),
            fc.constantFrom('new', 'given', 'inplace'),
            fc.boolean(),
            (K, rows, seed, sigma, temperature, mode, log) => {
              const random = makeRandom(seed);
              const { backing, logits } = makeLogits(random, { rows, numClasses: K, sigma, negInfRate: 0.2, viewOffset: 3 });
              const copy = logits.slice();
              const backingBefore = snapshot(backing);
              const given = new Float32Array(rows * K).fill(NaN);
              const out = mode === 'new' ? undefined : mode === 'given' ? given : ('inplace' as const);
              const got = xent.softmax(logits, { numClasses: K, temperature, log, ...(out ? { out } : {}) });
              if (mode === 'given') expect(got).toBe(given);
              if (mode === 'inplace') expect(got).toBe(logits);
              else assertUnchanged('backing', backing, backingBefore);
              const ref = referenceSoftmax(copy, K, temperature, log);
              for (let i = 0; i < ref.length; i++) {
                const logQ = log ? ref[i] : Math.log(ref[i]);
                // Probabilities below float32's normal range (2^-126) may come out as 0.
                const bar = log ? 3e-7 * Math.max(1, Math.abs(logQ)) : ref[i] === 0 ? 2 ** -126 : 5e-7 * Math.max(1, Math.abs(logQ)) * ref[i] + 2 ** -126;
                if (!Number.isFinite(ref[i])) {
                  expect(Object.is(got[i], ref[i]) || (Number.isNaN(got[i]) && Number.isNaN(ref[i])), `[${i}] ${got[i]} vs ${ref[i]}`).toBe(true);
                } else if (!(Math.abs(got[i] - ref[i]) <= bar)) {
                  throw new Error(`softmax ${log ? 'log ' : ''}[${i}] K ${K} T ${temperature}: ${got[i]} vs ${ref[i]} (bar ${bar})`);
                }
              }
            },
          ),
          { numRuns: 60 },
        );
      },
      TIMEOUT,
    );

    it('softmax of an all-equal row is uniform; a row of −∞ but one entry is one-hot', () => {
      const probs = xent.softmax(new Float32Array([3, 3, 3, 3, 0, -Infinity, -Infinity, -Infinity]), { numClasses: 4 });
      expect(Array.from(probs)).toEqual([0.25, 0.25, 0.25, 0.25, 1, 0, 0, 0]);
    });
  });

  describe('rowStats', () => {
    it('ignored rows get NaN targetLogProb and rank −1 but the rest of their statistics', () => {
      const logits = new Float32Array([1, 2, 3, 3, 2, 1, 0, 0, 5]);
      const stats = xent.rowStats(logits, [2, -100, 0], { numClasses: 3 });
      expect(stats.targetLogProb[1]).toBeNaN();
      expect(stats.rank[1]).toBe(-1);
      expect(stats.prediction[1]).toBe(0);
      expect(stats.rank[2]).toBe(1);
      expect(near('confidence[1]', stats.confidence[1], referenceRow(logits, 3, 3, 1, null).confidence)).toBeNull();
    });

    it('the prediction is the lowest index of the max; rank counts strictly larger logits', () => {
      const stats = xent.rowStats(new Float32Array([1, 4, 4, 2, 4]), [4], { numClasses: 5 });
      expect(stats.prediction[0]).toBe(1);
      expect(stats.rank[0]).toBe(0);
      expect(near('confidence', stats.confidence[0], 1 / (3 + Math.exp(-3) + Math.exp(-2)))).toBeNull();
    });

    it('temperature: the statistics of softmax(z/T)', () => {
      const { logits, labels } = classifierData(5, 50, 20);
      const stats = xent.rowStats(logits, labels, { numClasses: 20, temperature: 1.7 });
      for (let r = 0; r < 50; r++) {
        const ref = referenceRow(logits, r * 20, 20, 1.7, labels[r] === -100 ? null : labels[r]);
        expect(near(`lse[${r}]`, stats.lse[r], ref.lse)).toBeNull();
        expect(near(`entropy[${r}]`, stats.entropy[r], ref.entropy)).toBeNull();
        if (labels[r] !== -100) expect(near(`targetLogProb[${r}]`, stats.targetLogProb[r], ref.targetLogProb)).toBeNull();
      }
    });

    it.each([10, 64, 1000])('K = %i: a very confident row keeps log p_y to 1e-6 relative (log1p of S − 1, summed apart from the max)', (K) => {
      for (const gap of [8, 12, 16, 20, 30]) {
        const logits = new Float32Array(K).fill(-gap);
        logits[7] = 0;
        const stats = xent.rowStats(logits, [7], { numClasses: K });
        const truth = -Math.log1p((K - 1) * Math.exp(-gap));
        expect(Math.abs(stats.targetLogProb[0] - truth) <= 1e-6 * Math.abs(truth), `gap ${gap}: ${stats.targetLogProb[0]} vs ${truth}`).toBe(true);
        const result = xent.evaluate(logits, [7], { numClasses: K });
        expect(Math.abs(result.nll + truth) <= 1e-6 * Math.abs(truth), `nll at gap ${gap}: ${result.nll} vs ${-truth}`).toBe(true);
        // Brier = Σ_{k≠y} p² + (1 − p_y)², no cancellation: ≈ (S − 1)², so twice the relative
        // error of S − 1 (the bar, relative to max(brier, 1), is far looser).
        const q = Math.exp(-gap) / (1 + (K - 1) * Math.exp(-gap));
        const brier = (K - 1) * q * q + ((K - 1) * q) ** 2;
        expect(Math.abs(result.brier - brier) <= 2e-6 * brier, `brier at gap ${gap}: ${result.brier} vs ${brier}`).toBe(true);
      }
    });
  });

  describe('non-finite logits', () => {
    it('−∞ logits add nothing to the entropy and give +∞ smoothed loss only with ε > 0', () => {
      const logits = new Float32Array([0, -Infinity, 1, -Infinity, 2, 0.5]);
      const labels = [2, 1];
      const plain = xent.evaluate(logits, labels, { numClasses: 3 });
      expectMatches(plain, referenceEvaluate(logits, labels, { numClasses: 3 }));
      expect(Number.isFinite(plain.entropy)).toBe(true);
      expect(plain.smoothedLoss).toBe(plain.nll);
      const smoothed = xent.evaluate(logits, labels, { numClasses: 3, smoothing: 0.1 });
      expect(smoothed.smoothedLoss).toBe(Infinity);
      expect(Number.isFinite(smoothed.nll)).toBe(true);
    });

    it('a −∞ label logit gives nll +∞; NaN logits give NaN sums and confidence, as in float64', () => {
      const inf = xent.evaluate(new Float32Array([0, -Infinity, 1, 2]), [1, 0], { numClasses: 2 });
      expect(inf.nll).toBe(Infinity);
      expect(inf.perplexity).toBe(Infinity);
      const nan = xent.evaluate(new Float32Array([0, NaN, 1, 2]), [1, 0], { numClasses: 2 });
      for (const key of ['nll', 'entropy', 'brier', 'meanConfidence', 'ece', 'mce', 'ace'] as const) expect(nan[key], key).toBeNaN();
      expect(nan.count).toBe(2);
      // The NaN confidence sorts last: the last bin holds it.
      expect(nan.bins[14].count).toBe(1);
      const stats = xent.rowStats(new Float32Array([NaN, NaN, 1, Infinity]), null, { numClasses: 2 });
      expect(stats.prediction[0]).toBe(-1);
      expect(stats.prediction[1]).toBe(1);
      expect(stats.confidence[1]).toBeNaN();
    });
  });

  describe('bins', () => {
    it('a confidence of exactly 1 lands in the last bin, a bin edge in the bin below it', () => {
      // conf 1 (one finite logit), 0.5 (two equal), 0.25 (four equal).
      const result = xent.evaluate(new Float32Array([0, -Infinity, -Infinity, -Infinity, 0, 0, -Infinity, -Infinity, 1, 1, 1, 1]), [0, 1, 3], { numClasses: 4, bins: 4 });
      expect(result.bins.map((b) => b.count)).toEqual([1, 1, 0, 1]);
      expect(result.bins.map((b) => [b.lo, b.hi])).toEqual([[0, 0.25], [0.25, 0.5], [0.5, 0.75], [0.75, 1]]);
      expect(result.bins[3].meanConfidence).toBe(1);
      expect(result.bins[3].accuracy).toBe(1);
      // The rows with conf 0.5 and 0.25 predict class 0 (lowest index): labels 1 and 3 are wrong.
      expect(result.bins[1].accuracy).toBe(0);
      expect(result.accuracy).toBe(1 / 3);
      expect(result.topK[1]).toBe(1); // every label is among the largest logits
    });

    it('ace uses equal-mass bins of the sorted confidences, stable in row order', () => {
      const { logits, labels } = classifierData(11, 503, 10, 2, 2.5, 0);
      for (const bins of [1, 2, 7, 15, 600]) {
        const options = { numClasses: 10, bins };
        const ref = referenceEvaluate(logits, labels, options);
        expect(ref.aceAmbiguous).toBe(false);
        expect(near(`ace, ${bins} bins`, xent.evaluate(logits, labels, options).ace, ref.ace)).toBeNull();
      }
    });
  });

  describe('streaming, state and merge', () => {
    it(
      'streaming equals one-shot bit for bit for any split into add calls',
      () => {
        fc.assert(
          fc.property(
            fc.constantFrom(1, 3, 10, 64, 100, 1000),
            seedArbitrary,
            fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 6 }),
            fc.constantFrom(1, 0.8),
            (K, seed, sizes, temperature) => {
              const rows = sizes.reduce((a, b) => a + b, 0);
              const { logits, labels } = classifierData(seed, rows, K);
              const options = { numClasses: K, smoothing: 0.1, temperature, topK: [1, Math.min(3, K)].filter((k, i, a) => a.indexOf(k) === i) };
              const oneShot = xent.evaluate(logits, labels, options);
              const ev = xent.createEvaluator(options);
              let at = 0;
              for (const n of sizes) {
                ev.add(logits.subarray(at * K, (at + n) * K), Int32Array.from(labels.slice(at, at + n)));
                at += n;
              }
              expectIdentical(ev.result(), oneShot, `split ${sizes.join('+')}`);
            },
          ),
          { numRuns: 40 },
        );
      },
      TIMEOUT,
    );

    it('a chunked backend (64 KiB arena) gives the same evaluation bit for bit', async () => {
      const { createXent } = await import('../src/index.js');
      const small = await createXent({ backend: xent.backend, arenaBytes: 65536 });
      const { logits, labels } = classifierData(3, 700, 1000);
      expectIdentical(small.evaluate(logits, labels, { numClasses: 1000 }), xent.evaluate(logits, labels, { numClasses: 1000 }), 'arena 64 KiB vs 16 MiB');
    });

    it('merged states (through JSON) equal the single pass within 1e-12, counts exactly', () => {
      const K = 50;
      const { logits, labels } = classifierData(21, 900, K);
      const options = { numClasses: K, smoothing: 0.1, bins: 10 };
      const whole = xent.evaluate(logits, labels, options);
      const shards = [0, 100, 450, 451, 900];
      const merged = xent.createEvaluator(options);
      for (let s = 0; s + 1 < shards.length; s++) {
        const ev = xent.createEvaluator(options);
        ev.add(logits.subarray(shards[s] * K, shards[s + 1] * K), labels.slice(shards[s], shards[s + 1]));
        merged.merge(JSON.parse(JSON.stringify(ev.state())));
      }
      const a = numbersOf(merged.result());
      const b = numbersOf(whole);
      a.forEach((v, i) => expect(Math.abs(v - b[i]) <= 1e-12 * Math.max(1, Math.abs(b[i])), `number ${i}: ${v} vs ${b[i]}`).toBe(true));
      expect(merged.result().count).toBe(whole.count);
      expect(merged.result().bins.map((bin) => bin.count)).toEqual(whole.bins.map((bin) => bin.count));
      expect(merged.result().ace).toBe(whole.ace);
    });

    it('states keep NaN and ±∞ sums and NaN confidences through JSON', () => {
      const ev = xent.createEvaluator({ numClasses: 2, smoothing: 0.5 });
      ev.add(new Float32Array([0, NaN, 1, -Infinity, 3, 1]), [1, 1, 0]);
      const state = ev.state();
      const text = JSON.stringify(state);
      expect(JSON.parse(text)).toEqual(state);
      const copy = xent.createEvaluator({ numClasses: 2, smoothing: 0.5 });
      copy.merge(JSON.parse(text));
      expectIdentical(copy.result(), ev.result(), 'JSON round trip');
      expect(ev.result().nll).toBeNaN();
      expect(state.smoothedLoss).toBe('NaN');
    });

    it('merge with other options is a RangeError naming the option; a bad state a TypeError; neither changes anything', () => {
      const ev = xent.createEvaluator({ numClasses: 3 });
      ev.add(new Float32Array([1, 2, 3]), [2]);
      const before = JSON.stringify(ev.state());
      const other = xent.createEvaluator({ numClasses: 3, bins: 10 });
      expect(() => ev.merge(other.state())).toThrow(RangeError);
      expect(() => ev.merge(other.state())).toThrow(/bins/);
      expect(() => ev.merge(xent.createEvaluator({ numClasses: 3, temperature: 2 }).state())).toThrow(/temperature/);
      const broken = { ...ev.state(), nll: null } as never;
      expect(() => ev.merge(broken)).toThrow(TypeError);
      expect(() => ev.merge({ ...ev.state(), rows: 'AAAA' } as never)).toThrow(RangeError);
      expect(() => ev.merge({ ...ev.state(), count: 5 } as never)).toThrow(/count/);
      expect(() => ev.merge(42 as never)).toThrow(TypeError);
      expect(JSON.stringify(ev.state())).toBe(before);
    });

    it('reset empties the evaluator; result() can be read at any time', () => {
      const ev = xent.createEvaluator({ numClasses: 3 });
      ev.add(new Float32Array([1, 2, 3]), [2]);
      expect(ev.result().count).toBe(1);
      ev.add(new Float32Array([1, 2, 3]), [0]);
      expect(ev.result().count).toBe(2);
      ev.reset();
      expect(ev.result().count).toBe(0);
      expect(ev.state().rows).toBe('');
    });
  });

  describe('nothing counted (count 0)', () => {
    it('all-ignored input and no rows: every mean 0, perplexity 1, bins empty, no NaN', () => {
      for (const [logits, labels] of [[new Float32Array([1, 2, NaN, 4]), [-100, -100]], [new Float32Array(0), []]] as [Float32Array, number[]][]) {
        const result = xent.evaluate(logits, labels, { numClasses: 2 });
        expect(result.count).toBe(0);
        expect(numbersOf(result).every((v) => Number.isFinite(v))).toBe(true);
        for (const key of ['nll', 'smoothedLoss', 'accuracy', 'meanConfidence', 'ece', 'mce', 'ace', 'brier', 'entropy'] as const) expect(result[key], key).toBe(0);
        expect(result.perplexity).toBe(1);
        expect(result.topK).toEqual({ 1: 0 });
        expect(result.bins.every((b) => b.count === 0 && b.meanConfidence === 0 && b.accuracy === 0)).toBe(true);
      }
      expect(xent.fitTemperature(new Float32Array([1, 2]), [-100], { numClasses: 2 })).toEqual({
        temperature: 1, nllBefore: 0, nllAfter: 0, eceBefore: 0, eceAfter: 0, iterations: 0, atBound: false,
      });
    });
  });

  describe('language models: sequenceLength with shift', () => {
    it('position t is scored against the token at t + 1; the last position of each sequence is left out', () => {
      const B = 3;
      const T = 7;
      const V = 40;
      const random = makeRandom(99);
      const tokens = Int32Array.from({ length: B * T }, () => Math.floor(random() * V));
      tokens[9] = -100; // a padded token: the position before it is not scored
      const logits = Float32Array.from({ length: B * T * V }, () => gaussian(random, 2));
      const options = { numClasses: V, sequenceLength: T, shift: true };
      const result = xent.evaluate(logits, tokens, options);
      expect(result.count).toBe(B * (T - 1) - 1);
      expectMatches(result, referenceEvaluate(logits, tokens, options));
      // The same as scoring the shifted labels by hand.
      const shifted = Array.from({ length: B * T }, (_, i) => (i % T === T - 1 ? -100 : tokens[i + 1]));
      expectIdentical(result, xent.evaluate(logits, shifted, { numClasses: V }), 'shift vs hand-shifted labels');
      // Whole sequences stream.
      const ev = xent.createEvaluator(options);
      ev.add(logits.subarray(0, T * V), tokens.subarray(0, T));
      ev.add(logits.subarray(T * V), tokens.subarray(T));
      expectIdentical(ev.result(), result, 'sequences added one by one');
    });
  });

  describe('fitTemperature', () => {
    it.each([
      ['overconfident', 6, 1.2],
      ['underconfident', 0.5, 2.5],
      ['calibrated-ish', 1.5, 2],
    ] as const)('%s logits: within 1e-4 of the float64 minimiser in ≤ 20 passes, NLL not increased', (_, sigma, signal) => {
      const K = 100;
      const { logits, labels } = classifierData(77, 800, K, sigma, signal, 0.05);
      const fit = xent.fitTemperature(logits, labels, { numClasses: K });
      const ref = referenceTemperature(logits, labels, K);
      expect(Math.abs(fit.temperature - ref.temperature) <= 1e-4 * ref.temperature, `T ${fit.temperature} vs ${ref.temperature}`).toBe(true);
      expect(fit.iterations).toBeLessThanOrEqual(20);
      expect(fit.atBound).toBe(ref.atBound);
      expect(fit.nllAfter).toBeLessThanOrEqual(fit.nllBefore + 1e-12);
      const at = xent.evaluate(logits, labels, { numClasses: K, temperature: fit.temperature });
      expect(fit.nllAfter).toBe(at.nll);
      expect(fit.eceAfter).toBe(at.ece);
      expect(fit.eceBefore).toBe(xent.evaluate(logits, labels, { numClasses: K }).ece);
    });

    it('an optimum beyond a bound returns that bound with atBound', () => {
      // Every row right with a wide margin: the NLL keeps falling as T → 0.
      const K = 5;
      const rows = 50;
      const logits = new Float32Array(rows * K);
      const labels = Array.from({ length: rows }, (_, r) => r % K);
      labels.forEach((y, r) => (logits[r * K + y] = 3));
      const sharp = xent.fitTemperature(logits, labels, { numClasses: K, bounds: [0.1, 10] });
      expect(sharp).toMatchObject({ temperature: 0.1, atBound: true });
      expect(sharp.iterations).toBeLessThanOrEqual(8);
      // Labels unrelated to confident logits: the best T is as large as allowed.
      const wrong = labels.map((y) => (y + 1) % K);
      const flat = xent.fitTemperature(logits, wrong, { numClasses: K, bounds: [0.1, 10] });
      expect(flat).toMatchObject({ temperature: 10, atBound: true });
      expect(referenceTemperature(logits, wrong, K, [0.1, 10])).toEqual({ temperature: 10, atBound: true });
    });
  });

  describe('count in loss results (mean and sum)', () => {
    it('rows counted, Σ w_y with class weights, N for soft targets; a perplexity summed over chunks', () => {
      const { logits, labels } = classifierData(8, 60, 10, 2, 2.5, 0.2);
      const counted = labels.filter((y) => y !== -100).length;
      expect(xent.crossEntropy(logits, labels, { numClasses: 10 }).count).toBe(counted);
      expect(xent.crossEntropy(logits, labels, { numClasses: 10, reduction: 'sum' }).count).toBe(counted);
      const weight = Float32Array.from({ length: 10 }, (_, k) => 0.5 + k / 4);
      const weighted = labels.reduce((a, y) => (y === -100 ? a : a + weight[y]), 0);
      expect(Math.abs(xent.crossEntropy(logits, labels, { numClasses: 10, weight }).count - weighted)).toBeLessThan(1e-9);
      const targets = xent.softmax(logits, { numClasses: 10, temperature: 3 });
      expect(xent.softCrossEntropy(logits, targets, { numClasses: 10, reduction: 'sum' }).count).toBe(60);
      // Padded chunks: Σ loss / Σ count is the perplexity's exponent, as evaluate gives it.
      let loss = 0;
      let count = 0;
      for (const [a, b] of [[0, 25], [25, 60]]) {
        const part = xent.crossEntropy(logits.subarray(a * 10, b * 10), labels.slice(a, b), { numClasses: 10, reduction: 'sum' });
        loss += part.loss;
        count += part.count;
      }
      expect(near('perplexity', Math.exp(loss / count), xent.evaluate(logits, labels, { numClasses: 10 }).perplexity)).toBeNull();
    });
  });
});

// ---------------------------------------------------------------------------------------
// Bad input

type ErrorClass = typeof TypeError | typeof RangeError;
interface Bad {
  name: string;
  error: ErrorClass;
  message: RegExp[];
  run: (xent: Xent, logits: Float32Array, labels: Int32Array) => unknown;
}

const K = 3;
const goodLogits = () => Float32Array.from({ length: 4 * K }, (_, i) => Math.sin(i + 1) * 3);
const goodLabels = () => new Int32Array([0, 1, 2, 1]);
const evaluate = (options: Record<string, unknown>): Bad['run'] => (xent, logits, labels) => xent.evaluate(logits, labels, { numClasses: K, ...options } as never);

const BAD: Bad[] = [
  { name: 'bins 0', error: RangeError, message: [/bins/, /0/], run: evaluate({ bins: 0 }) },
  { name: 'bins 2.5', error: RangeError, message: [/bins/, /2\.5/], run: evaluate({ bins: 2.5 }) },
  { name: "bins '10'", error: TypeError, message: [/bins/, /10/], run: evaluate({ bins: '10' }) },
  { name: 'topK [5] above K', error: RangeError, message: [/topK/, /5/], run: evaluate({ topK: [5] }) },
  { name: 'topK [2, 1] not ascending', error: RangeError, message: [/topK/, /ascending/], run: evaluate({ topK: [2, 1] }) },
  { name: 'topK [1, 1] repeated', error: RangeError, message: [/topK/, /ascending/], run: evaluate({ topK: [1, 1] }) },
  { name: 'topK [0]', error: RangeError, message: [/topK/, /0/], run: evaluate({ topK: [0] }) },
  { name: 'topK [1.5]', error: RangeError, message: [/topK/, /1\.5/], run: evaluate({ topK: [1.5] }) },
  { name: 'topK 1 (not an array)', error: TypeError, message: [/topK/, /1/], run: evaluate({ topK: 1 }) },
  { name: 'temperature 0', error: RangeError, message: [/temperature/, /0/], run: evaluate({ temperature: 0 }) },
  { name: 'temperature −1', error: RangeError, message: [/temperature/, /-1/], run: evaluate({ temperature: -1 }) },
  { name: 'temperature NaN', error: RangeError, message: [/temperature/, /NaN/], run: evaluate({ temperature: NaN }) },
  { name: 'temperature Infinity', error: RangeError, message: [/temperature/, /Infinity/], run: evaluate({ temperature: Infinity }) },
  { name: 'smoothing 2', error: RangeError, message: [/smoothing/, /2/], run: evaluate({ smoothing: 2 }) },
  { name: 'sequenceLength 3 not dividing 4 rows', error: RangeError, message: [/sequenceLength/, /3/], run: evaluate({ sequenceLength: 3, shift: true }) },
  { name: 'sequenceLength 0', error: RangeError, message: [/sequenceLength/, /0/], run: evaluate({ sequenceLength: 0, shift: true }) },
  { name: 'sequenceLength without shift', error: RangeError, message: [/sequenceLength/, /shift/], run: evaluate({ sequenceLength: 2 }) },
  { name: 'shift without sequenceLength', error: RangeError, message: [/shift/, /sequenceLength/], run: evaluate({ shift: true }) },
  { name: "shift 'yes'", error: TypeError, message: [/shift/, /yes/], run: evaluate({ shift: 'yes', sequenceLength: 2 }) },
  { name: 'unknown option bin', error: TypeError, message: [/bin/], run: evaluate({ bin: 10 }) },
  { name: 'numClasses missing', error: TypeError, message: [/numClasses/], run: (xent, logits, labels) => xent.evaluate(logits, labels, {} as never) },
  { name: 'label 3 ≥ K', error: RangeError, message: [/^evaluate: labels\[3\]/, /3/], run: (xent, logits) => xent.evaluate(logits, [0, 1, 2, 3], { numClasses: K }) },
  { name: 'evaluator.add: label 3 ≥ K', error: RangeError, message: [/^evaluator\.add: labels\[3\]/], run: (xent, logits) => xent.createEvaluator({ numClasses: K }).add(logits, [0, 1, 2, 3]) },
  { name: 'labels of length 3', error: RangeError, message: [/labels/, /3/], run: (xent, logits) => xent.evaluate(logits, [0, 1, 2], { numClasses: K }) },
  { name: 'Float64Array logits', error: TypeError, message: [/logits/, /Float64Array/], run: (xent, _, labels) => xent.evaluate(new Float64Array(12) as never, labels, { numClasses: K }) },
  { name: 'bounds [0, 1]', error: RangeError, message: [/bounds/, /0/], run: (xent, logits, labels) => xent.fitTemperature(logits, labels, { numClasses: K, bounds: [0, 1] }) },
  { name: 'bounds [2, 1]', error: RangeError, message: [/bounds/, /2/], run: (xent, logits, labels) => xent.fitTemperature(logits, labels, { numClasses: K, bounds: [2, 1] }) },
  { name: 'bounds [1, Infinity]', error: RangeError, message: [/bounds/, /Infinity/], run: (xent, logits, labels) => xent.fitTemperature(logits, labels, { numClasses: K, bounds: [1, Infinity] }) },
  { name: 'bounds 5', error: TypeError, message: [/bounds/, /5/], run: (xent, logits, labels) => xent.fitTemperature(logits, labels, { numClasses: K, bounds: 5 as never }) },
  { name: 'fitTemperature: unknown option temperature', error: TypeError, message: [/temperature/], run: (xent, logits, labels) => xent.fitTemperature(logits, labels, { numClasses: K, temperature: 2 } as never) },
  { name: 'softmax: temperature 0', error: RangeError, message: [/temperature/, /0/], run: (xent, logits) => xent.softmax(logits, { numClasses: K, temperature: 0 }) },
  { name: 'softmax: out of length 5', error: RangeError, message: [/out/, /5/], run: (xent, logits) => xent.softmax(logits, { numClasses: K, out: new Float32Array(5) }) },
  { name: 'softmax: out overlapping the logits', error: RangeError, message: [/out/, /overlaps/], run: (xent) => {
    const backing = new Float32Array(13);
    return xent.softmax(backing.subarray(0, 12), { numClasses: K, out: backing.subarray(1, 13) });
  } },
  { name: "softmax: out 'new'", error: TypeError, message: [/out/, /new/], run: (xent, logits) => xent.softmax(logits, { numClasses: K, out: 'new' as never }) },
  { name: 'softmax: log 1', error: TypeError, message: [/log/, /1/], run: (xent, logits) => xent.softmax(logits, { numClasses: K, log: 1 as never }) },
  { name: 'softmax: logits length 11', error: RangeError, message: [/logits/, /11/], run: (xent) => xent.softmax(new Float32Array(11), { numClasses: K }) },
  { name: 'rowStats: label 7', error: RangeError, message: [/labels/, /7/], run: (xent, logits) => xent.rowStats(logits, [0, 1, 7, 0], { numClasses: K }) },
  { name: 'rowStats: labels a string', error: TypeError, message: [/labels/], run: (xent, logits) => xent.rowStats(logits, 'abc' as never, { numClasses: K }) },
  { name: 'rowStats: ignoreIndex 0.5', error: RangeError, message: [/ignoreIndex/, /0\.5/], run: (xent, logits, labels) => xent.rowStats(logits, labels, { numClasses: K, ignoreIndex: 0.5 }) },
];

describe.each(each)('bad evaluation input on $backend', ({ xent }) => {
  it.each(BAD.map((bad) => ({ ...bad, label: `${bad.name} → ${bad.error.name}` })))('$label', (bad) => {
    const logits = goodLogits();
    const labels = goodLabels();
    const before = [snapshot(logits), snapshot(labels)];
    let error: unknown;
    try {
      bad.run(xent, logits, labels);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(bad.error);
    expect((error as Error).name).toBe(bad.error.name);
    for (const pattern of bad.message) expect((error as Error).message).toMatch(pattern);
    assertUnchanged('logits', logits, before[0]);
    assertUnchanged('labels', labels, before[1]);
  });

  it('a failed add leaves the evaluator exactly as it was (bad label last, wrong length, bad sequence)', () => {
    const ev = xent.createEvaluator({ numClasses: K, sequenceLength: 2, shift: true });
    ev.add(goodLogits(), goodLabels());
    const before = JSON.stringify(ev.state());
    const attempts: [Float32Array, Labels][] = [
      [goodLogits(), new Int32Array([0, 1, 2, 9])],
      [goodLogits(), [0, 1, 2]],
      [goodLogits().subarray(0, 9), [0, 1, 2]],
      [new Float32Array(11), [0, 1, 2, 0]],
    ];
    for (const [logits, labels] of attempts) {
      expect(() => ev.add(logits, labels)).toThrow(RangeError);
      expect(JSON.stringify(ev.state())).toBe(before);
    }
    expect(() => xent.createEvaluator({ numClasses: K, bins: -1 })).toThrow(/createEvaluator: bins/);
  });

  it('labels of every supported type give the same evaluation', () => {
    const logits = goodLogits();
    const values = [0, 1, 2, 1];
    const expected = xent.evaluate(logits, values, { numClasses: K });
    for (const type of ['int32', 'uint8', 'uint16', 'uint32', 'bigint64'] as const) {
      expectIdentical(xent.evaluate(logits, makeLabels(type, values), { numClasses: K }), expected, type);
    }
  });
});

describe('reference self-checks', () => {
  it('the reference reproduces the anchor and its bins', () => {
    const ref = referenceEvaluate(Float32Array.from([0.1, 0.2, 0.6, 0.1], Math.log), [2], { numClasses: 4, smoothing: 0.1 } as ReferenceEvaluationOptions);
    expect(ref.nll.toFixed(4)).toBe('0.5108');
    expect(ref.smoothedLoss.toFixed(4)).toBe('0.6279');
    // In float64 the confidence of the float32 logits is 0.6000000050: above the edge 9/15,
    // where the library's float32 0.59999996 is below it. Such rows are the tests' allowance.
    expect(ref.bins[9].count).toBe(1);
    expect(ref.nearEdge).toBe(1);
  });
});
