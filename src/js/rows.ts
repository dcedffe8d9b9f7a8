/**
 * Row primitives of the JS fallback, the same passes as assembly/rows.ts in float64
 * arithmetic over Float32Array storage. Each function walks one row once; `base` is
 * the row's first element and `step` the distance between its classes: 1 for rows, `inner`
 * for a class axis that is not last ([outer][K][inner], src/layout.ts), where the row of
 * position p = o·inner + i starts at o·K·inner + i. The classes are visited in the same order
 * either way, so a position's numbers are those of its transposed row, bit for bit.
 *
 * The exp lives here, in the module of the loops that call it, so that V8 inlines it
 * with its constants into each loop.
 */

/**
 * exp(x) for x ≤ 0 in float64 arithmetic, the JS fallback's version of assembly/exp.ts:
 * n = round(x·log2 e) (adding and subtracting 1.5·2^52: V8's Math.round is a slow call),
 * t = x − n·ln 2, exp(x) = 2^n·(1 + t·p(t)) with XNNPACK's degree-5 minimax coefficients
 * (relative error < 2e-7, the same bar as the wasm kernels), 2^n from a table.
 *
 * x is first clamped to −200 with Math.max, which V8 compiles to one instruction: −∞
 * becomes a number whose exp (~1e-87) rounds to 0 in float32, NaN stays NaN, and no branch
 * is left in the loop (a per-element branch costs as much as the polynomial). So below
 * −87.34, where the wasm kernels give exactly 0, this gives at most a float32 subnormal.
 * About three times as fast as Math.exp.
 */
// The constants come before every function that reads them, and none is exported: V8 reads
// an exported binding, or one declared below its reader, through a hole-checked cell on
// every use, which made this loop 1.7× slower.
const LOG2E = 1.4426950408889634;
const LN2 = 0.6931471805599453;
const C1 = 0.9999997019767761;
const C2 = 0.4999915063381195;
const C3 = 0.16667652130126953;
const C4 = 0.04189782217144966;
const C5 = 0.008289290592074394;
const ROUND = 6755399441055744;
const EXP_FLOOR_INPUT = -200;
/** 2^n for n in [−289, 0], at index n + 289 (−200·log2 e rounds to −289). */
const OFFSET = 289;
const POW2 = new Float64Array(OFFSET + 1);
for (let n = -OFFSET; n <= 0; n++) POW2[n + OFFSET] = 2 ** n;

export function expMinus(value: number): number {
  const x = Math.max(value, EXP_FLOOR_INPUT);
  const n = x * LOG2E + ROUND - ROUND;
  const t = x - n * LN2;
  return POW2[(n + OFFSET) | 0] * (1 + t * (C1 + t * (C2 + t * (C3 + t * (C4 + t * C5)))));
}

/** max_k z_k over z[base], z[base + step], … (K elements). */
export function rowMax(z: Float32Array, base: number, step: number, K: number): number {
  let m = -Infinity;
  for (let k = base, end = base + K * step; k < end; k += step) {
    const v = z[k];
    if (v > m) m = v;
  }
  return m;
}

const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);

/** Up to this many classes the kernels take the row max with rowMaxOfBits. */
export const BRANCHLESS_MAX_K = 64;

/**
 * max_k z_k from the row's float32 bits (`bits`: an Int32Array over the logits' memory),
 * without a branch per element. For small K, where a new maximum turns up every few
 * elements and `if (v > m)` mispredicts that often (at K = 10, 11 % of the whole loss +
 * gradient). Each float becomes an int key of the same order (negatives' magnitude bits
 * flipped: −0 sorts just below +0), the max key is kept with masks, and turned back into
 * the float. A NaN whose sign bit is clear wins, making the row NaN, which one NaN logit
 * does anyway.
 */
export function rowMaxOfBits(bits: Int32Array, base: number, step: number, K: number): number {
  let top = -2147483648;
  for (let k = base, end = base + K * step; k < end; k += step) {
    const b = bits[k];
    const key = b ^ ((b >> 31) & 0x7fffffff);
    top ^= (top ^ key) & -(+(top < key));
  }
  I32[0] = top ^ ((top >> 31) & 0x7fffffff);
  return F32[0];
}

/** The second result of rowExpGapSum. */
export const second = { gapSum: 0 };

/**
 * Σ_k exp(z_k − m) (exps stored at e[eBase + k·eStep] when e is given), and Σ_k w_k·(z_k − m)
 * (w ≡ 1 when null) into `second.gapSum`: the smoothing term's Σ_k (m − z_k), summed from
 * gaps ≤ 0 as in assembly/rows.ts, in the same loop as the exps. Class k of the row is
 * z[zBase + k·zStep] (see the header).
 */
export function rowExpGapSum(
  z: Float32Array, zBase: number, zStep: number, K: number, m: number,
  e: Float32Array | null, eBase: number, eStep: number, w: Float32Array | null,
): number {
  let total = 0;
  let gaps = 0;
  if (e && w) {
    for (let k = 0, i = zBase, j = eBase; k < K; k++, i += zStep, j += eStep) {
      const x = z[i] - m;
      const v = expMinus(x);
      e[j] = v;
      total += v;
      gaps += w[k] * x;
    }
  } else if (e) {
    for (let i = zBase, j = eBase, end = zBase + K * zStep; i < end; i += zStep, j += eStep) {
      const x = z[i] - m;
      const v = expMinus(x);
      e[j] = v;
      total += v;
      gaps += x;
    }
  } else if (w) {
    for (let k = 0, i = zBase; k < K; k++, i += zStep) {
      const x = z[i] - m;
      total += expMinus(x);
      gaps += w[k] * x;
    }
  } else {
    for (let i = zBase, end = zBase + K * zStep; i < end; i += zStep) {
      const x = z[i] - m;
      total += expMinus(x);
      gaps += x;
    }
  }
  second.gapSum = gaps;
  return total;
}

/**
 * Σ_k exp(scale·(z_k − m)); each exp stored at e[eBase + k·eStep] when e is given.
 * Reading z before writing e at the same index makes e = z (in place) safe.
 */
export function rowExpSum(
  z: Float32Array, zBase: number, zStep: number, K: number, m: number, scale: number,
  e: Float32Array | null, eBase: number, eStep: number,
): number {
  let total = 0;
  if (e) {
    for (let i = zBase, j = eBase, end = zBase + K * zStep; i < end; i += zStep, j += eStep) {
      const x = expMinus((z[i] - m) * scale);
      e[j] = x;
      total += x;
    }
  } else {
    for (let i = zBase, end = zBase + K * zStep; i < end; i += zStep) total += expMinus((z[i] - m) * scale);
  }
  return total;
}

/** Below this S − 1 a row's float64 sum, which holds the max's 1, is summed again by exactSumMinusOne. */
export const RECOUNT_BELOW = 1e-3;

/**
 * S − 1 for S = Σ_k exp(scale·(z_k − m)) with the exps equal to 1 (the max's, and any ties)
 * counted apart instead of summed: for rows whose S is within RECOUNT_BELOW of 1. The
 * float64 sums above hold the max's 1, so they keep S − 1 only to ~1e-16 absolute, and a
 * confident row's S − 1 is its whole loss. Reads the stored exps e[eBase + k·eStep] when
 * given (the gradient may have been written over the logits), else the logits.
 */
export function exactSumMinusOne(
  z: Float32Array, zBase: number, zStep: number, K: number, m: number, scale: number,
  e: Float32Array | null, eBase: number, eStep: number,
): number {
  let rest = 0;
  let ties = 0;
  if (e) {
    for (let j = eBase, end = eBase + K * eStep; j < end; j += eStep) {
      const v = e[j];
      if (v === 1) ties++;
      else rest += v;
    }
  } else {
    for (let i = zBase, end = zBase + K * zStep; i < end; i += zStep) {
      const x = (z[i] - m) * scale;
      if (x === 0) ties++;
      else rest += expMinus(x);
    }
  }
  return rest + (ties - 1);
}

/** log S from S − 1: log1p where 1 + (S − 1) would lose S − 1's digits, else log(S). */
export function logOfSum(sMinusOne: number): number {
  return sMinusOne < 9.5367431640625e-7 ? Math.log1p(sMinusOne) : Math.log(1 + sMinusOne);
}

/** zc_k = c·tanh(z_k/c) for one row, into zc[0..K). */
export function rowSoftcap(z: Float32Array, base: number, step: number, K: number, cap: number, zc: Float32Array): void {
  for (let k = 0, i = base; k < K; k++, i += step) zc[k] = cap * Math.tanh(z[i] / cap);
}

/** Zeros at g[base + k·step], k < K (an ignored row's gradient). */
export function zeroRow(g: Float32Array, base: number, step: number, K: number): void {
  if (step === 1) g.fill(0, base, base + K);
  else for (let i = base, end = base + K * step; i < end; i += step) g[i] = 0;
}
