// Row primitives shared by the kernels (xent.ts for class labels, soft.ts for
// probability targets). Each walks one row of K floats once; SIMD builds take
// four lanes at a time and finish the K mod 4 tail in scalar code.
//
// SIMD builds sum in four f32 lanes over blocks of BLOCK elements (64 per lane) folded into
// f64 after each block: f32 lanes keep the loop as fast as the exp, the f64 fold keeps the
// error of a 128 000-class row near one f32 rounding per block. The scalar build sums S in
// f64 term by term (and its gaps in an f32 partial folded every 64 elements).
//
// S − 1, not S: the exp of the max itself is exactly exp(0) = 1, and a confident row's S is
// 1 + (tiny), the tiny part its whole loss; summed into an f32 lane that holds the 1 it
// would keep a digit or two. So the exp pass leaves the ties (z_k = m) out of the sum and
// counts them: S − 1 = (the other exps) + (ties − 1), and log S = log1p(S − 1). Masking
// every element costs three vector operations per four (~10 % of the pass); instead pass 1
// notes a chunk of CHUNK elements that holds the max, and pass 2 masks that chunk and the
// K mod 4 tail only. Ties elsewhere are summed as the 1s they are: they make S − 1 ≥ 1,
// where rounding against a 1 costs nothing relative. The scalar build sums every exp into
// f64 and subtracts the 1: its S − 1 is used only for rows that are not confident, where it
// is ≥ e^−6 and f64 keeps it to 1e-13 (expLoopScalar).
//
// The scalar build's loops also read rows whose classes are `step` bytes apart (a class axis
// not last, [outer][K][inner]: step = 4·inner, strided.ts) through the …Strided forms: the
// same @inline bodies, with step the constant 4 for rows, so both have the same bits. Those
// forms are for the scalar build only (the SIMD parts read contiguous rows).

import { expMinus, expMinusK, expScalarConstant, expMinus4k, expConstant, madd } from './exp';

// @ts-ignore: decorator
@inline const BLOCK: i32 = 256;
// @ts-ignore: decorator
@inline const CHUNK: i32 = 64;

/** The second result of rowExpSumMinusOne (wasm has no cheap tuple return here). */
export let secondSum: f64 = 0;

// @ts-ignore: decorator
@inline function at(ptr: usize, k: i32): usize {
  return ptr + (<usize>k << 2);
}

/** Class k of a row whose classes are `step` bytes apart (4 for rows). */
// @ts-ignore: decorator
@inline function atStep(ptr: usize, k: i32, step: usize): usize {
  return ptr + <usize>k * step;
}

// @ts-ignore: decorator
@inline function horizontalMax(v: v128): f32 {
  const a = f32x4.pmax(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  const b = f32x4.pmax(a, i32x4.shuffle(a, a, 1, 0, 3, 2));
  return f32x4.extract_lane(b, 0);
}

// @ts-ignore: decorator
@inline function horizontalSum(v: v128): f64 {
  return <f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1) +
    <f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3);
}

/**
 * Set by rowMax: a lower bound of the row's second largest logit, the larger of the lane
 * maxima that cannot hold the max (−∞ when K = 1). A row whose S − 1 is below CONFIDENT_SUM
 * has every other logit more than CONFIDENT_GAP below m, so m − runnerUp > CONFIDENT_GAP
 * catches every confident row before its exp pass (and a few others).
 */
export let runnerUp: f32 = -Infinity;

/**
 * Set by rowMax on the SIMD builds: the first element of a CHUNK-element chunk of the row's
 * first K & ~3 that holds the max, or K & ~3 when only the tail does: pass 2 masks the ties
 * there. (The scalar build's pass 2 sums S in f64 and needs no index: see expLoopScalar.)
 */
export let maxChunk: i32 = 0;

/**
 * Confident rows, S − 1 < e^−6 (the max's probability above 0.9975), take their S − 1 from
 * rowExpSumMinusOneExact, which also corrects the rounding of the float32 gaps z_k − m.
 */
// @ts-ignore: decorator
@inline export const CONFIDENT_GAP: f32 = 6;
// @ts-ignore: decorator
@inline export const CONFIDENT_SUM: f32 = 0.0024787521766663585; // e^−6

/**
 * Pass 1: max_k z_k, and runnerUp and maxChunk (pmax: a NaN lane may be skipped; the exp
 * pass turns it into a NaN sum anyway).
 */
export function rowMax(z: usize, K: i32): f32 {
  return rowMaxAt(z, K, 4);
}

/** The scalar build's rowMax of a row whose classes are `step` bytes apart. */
export function rowMaxStrided(z: usize, K: i32, step: usize): f32 {
  return rowMaxAt(z, K, step);
}

// @ts-ignore: decorator
@inline function rowMaxAt(z: usize, K: i32, step: usize): f32 {
  const vectorEnd = K & ~3;
  let m: f32 = -Infinity;
  let second: f32 = -Infinity;
  let chunkAt = 0;
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    // Per chunk the lanes' maxima; per lane the best chunk so far (its first element).
    let best = f32x4.splat(-Infinity);
    let bestChunk = i32x4.splat(0);
    for (let c = 0; c < vectorEnd; c += CHUNK) {
      // Four running maxima per chunk (m_j over its vectors 4i + j; CHUNK = 64 is sixteen
      // vectors), the first vector taken twice into m0 (harmless: pmax(a, a) is a, NaN too).
      let m0: v128, m1: v128, m2: v128, m3: v128;
      if (c + CHUNK <= vectorEnd) {
        // A whole chunk, unrolled: the loop below's pmax operations in its order, without
        // its bookkeeping (four loop steps per chunk cost a third of the pass at K = 1000).
        const p = at(z, c);
        m0 = v128.load(p);
        m1 = f32x4.pmax(m0, v128.load(p, 16));
        m2 = f32x4.pmax(m0, v128.load(p, 32));
        m3 = f32x4.pmax(m0, v128.load(p, 48));
        m0 = f32x4.pmax(m0, v128.load(p, 64));
        m1 = f32x4.pmax(m1, v128.load(p, 80));
        m2 = f32x4.pmax(m2, v128.load(p, 96));
        m3 = f32x4.pmax(m3, v128.load(p, 112));
        m0 = f32x4.pmax(m0, v128.load(p, 128));
        m1 = f32x4.pmax(m1, v128.load(p, 144));
        m2 = f32x4.pmax(m2, v128.load(p, 160));
        m3 = f32x4.pmax(m3, v128.load(p, 176));
        m0 = f32x4.pmax(m0, v128.load(p, 192));
        m1 = f32x4.pmax(m1, v128.load(p, 208));
        m2 = f32x4.pmax(m2, v128.load(p, 224));
        m3 = f32x4.pmax(m3, v128.load(p, 240));
      } else {
        // The row's last, partial chunk: four vectors per step, then one.
        const end = vectorEnd;
        m0 = v128.load(at(z, c));
        m1 = m0;
        m2 = m0;
        m3 = m0;
        for (k = c; k + 16 <= end; k += 16) {
          m0 = f32x4.pmax(m0, v128.load(at(z, k)));
          m1 = f32x4.pmax(m1, v128.load(at(z, k), 16));
          m2 = f32x4.pmax(m2, v128.load(at(z, k), 32));
          m3 = f32x4.pmax(m3, v128.load(at(z, k), 48));
        }
        for (; k < end; k += 4) m0 = f32x4.pmax(m0, v128.load(at(z, k)));
      }
      const top = f32x4.pmax(f32x4.pmax(m0, m1), f32x4.pmax(m2, m3));
      // bestChunk ← c where top > best: chunks come in increasing order and bestChunk ≥ 0,
      // so a max with (c & mask) does it (two operations; a bitselect takes three in V8).
      bestChunk = i32x4.max_s(bestChunk, v128.and(i32x4.splat(c), f32x4.gt(top, best)));
      best = f32x4.pmax(best, top);
    }
    k = vectorEnd;
    if (vectorEnd > 0) {
      // Lane j holds the max of the z_k with k ≡ j (mod 4): m is the largest lane, the
      // runner-up bound the second largest, and maxChunk the chunk of the first lane holding m.
      // All in vectors and integer selects: V8 compiles float selects to compares and
      // branches, a chain at the end of every row (a tenth of this pass at K = 1000). The
      // second largest of four is the largest of the six pairwise minima (rotations by one
      // and by two lanes cover them all).
      const r1 = v128.shuffle<f32>(best, best, 1, 2, 3, 0);
      const r2 = v128.shuffle<f32>(best, best, 2, 3, 0, 1);
      const hm = f32x4.pmax(best, r2);
      const mv = f32x4.pmax(hm, v128.shuffle<f32>(hm, hm, 1, 0, 3, 2));
      const pairs = f32x4.pmax(f32x4.pmin(best, r1), f32x4.pmin(best, r2));
      const sv = f32x4.pmax(pairs, v128.shuffle<f32>(pairs, pairs, 2, 3, 0, 1));
      m = f32x4.extract_lane(mv, 0);
      second = f32x4.extract_lane(f32x4.pmax(sv, v128.shuffle<f32>(sv, sv, 1, 0, 3, 2)), 0);
      // The chunk of the first lane holding m (the last lane's when none does: a NaN).
      const lanes = i32x4.bitmask(f32x4.eq(best, mv)) | 8;
      const first = ctz(lanes);
      const c01 = first == 0 ? i32x4.extract_lane(bestChunk, 0) : i32x4.extract_lane(bestChunk, 1);
      const c23 = first == 2 ? i32x4.extract_lane(bestChunk, 2) : i32x4.extract_lane(bestChunk, 3);
      chunkAt = first < 2 ? c01 : c23;
    }
  } else {
    // The scalar build: the max and the runner-up exactly, on orderKey's integers (selects,
    // no branches: at small K a new max or runner-up is frequent and mispredicted).
    let mk = orderKey(-Infinity);
    let sk = mk;
    for (k = 0; k < K; k++) {
      const key = orderKey(load<f32>(atStep(z, k, step)));
      const lower = key < mk ? key : mk;
      sk = lower > sk ? lower : sk;
      mk = key > mk ? key : mk;
    }
    m = fromOrderKey(mk);
    second = fromOrderKey(sk);
  }
  // The SIMD builds' tail: exact top-two updates; a new max there leaves no chunk to mask.
  for (; k < K; k++) {
    const v = load<f32>(at(z, k));
    const lower = v > m ? m : v;
    chunkAt = v > m ? vectorEnd : chunkAt;
    m = v > m ? v : m;
    second = lower > second ? lower : second;
  }
  runnerUp = second;
  maxChunk = chunkAt;
  return m;
}

/**
 * The scalar build's pass 1 when the confident test can wait until after pass 2: the max
 * alone, as rowMax finds it, without the runner-up (one select per element instead of two).
 * Pass 2 then sets nearMax, which decides the same test exactly: see expLoopScalar.
 */
export function rowMaxOnly(z: usize, K: i32): f32 {
  return rowMaxOnlyAt(z, K, 4);
}

/** rowMaxOnly of a row whose classes are `step` bytes apart. */
export function rowMaxOnlyStrided(z: usize, K: i32, step: usize): f32 {
  return rowMaxOnlyAt(z, K, step);
}

/** rowMax (strided false) or rowMaxStrided for the row loops that take both layouts (`strided` a constant where inlined). */
// @ts-ignore: decorator
@inline export function maxOf(z: usize, K: i32, step: usize, strided: bool): f32 {
  return strided ? rowMaxStrided(z, K, step) : rowMax(z, K);
}

/** rowMaxOnly or rowMaxOnlyStrided, as maxOf. */
// @ts-ignore: decorator
@inline export function maxOnlyOf(z: usize, K: i32, step: usize, strided: bool): f32 {
  return strided ? rowMaxOnlyStrided(z, K, step) : rowMaxOnly(z, K);
}

// @ts-ignore: decorator
@inline function rowMaxOnlyAt(z: usize, K: i32, step: usize): f32 {
  let mk = orderKey(-Infinity);
  for (let k = 0; k < K; k++) {
    const key = orderKey(load<f32>(atStep(z, k, step)));
    mk = key > mk ? key : mk;
  }
  return fromOrderKey(mk);
}

/**
 * An i32 in the order of the floats (−0 just below +0): a negative float's magnitude bits
 * flipped. The scalar build's maxima compare these, so that V8 selects with cmov where a
 * float comparison would branch. A NaN (never a max of the float comparisons) orders above
 * +∞ (or below −∞ with its sign set); a NaN max still makes the row's S NaN, as the NaN
 * logit does anyway.
 */
// @ts-ignore: decorator
@inline function orderKey(v: f32): i32 {
  const b = reinterpret<i32>(v);
  return b ^ ((b >> 31) & 0x7FFFFFFF);
}

/** The float of an orderKey (the map is its own inverse). */
// @ts-ignore: decorator
@inline function fromOrderKey(key: i32): f32 {
  return reinterpret<f32>(key ^ ((key >> 31) & 0x7FFFFFFF));
}

/**
 * Set by the scalar build's rowExpSumMinusOneNear and rowSoftExpSums (near): whether a
 * gap x_k = (z_k − m)·scale other than the max's own is ≥ −CONFIDENT_GAP. For a finite m this
 * is exactly ¬((m − runnerUp)·scale > CONFIDENT_GAP): float32 rounding is monotone and odd, so
 * the runner-up's gap is the largest, and a NaN logit counts in neither.
 */
export let nearMax: bool = false;

/**
 * Pass 2: S − 1, where S = Σ_k exp(z_k − m), storing each exp at e (unless e = 0), and, when
 * `gaps` is set, Σ_k w_k·(z_k − m) (w_k = 1 when w = 0) into `secondSum`. Call it right after
 * rowMax on the same row (it reads maxChunk).
 *
 * The smoothing term needs Σ_k (lse − z_k) = K·log S + Σ_k (m − z_k). Summing the gaps
 * z_k − m (all ≤ 0, so nothing cancels) instead of the logits themselves keeps the loss
 * exact to float32 even for large, nearly equal logits, where Σz would lose the differences.
 */
export function rowExpSumMinusOne(z: usize, e: usize, K: i32, m: f32, gaps: bool, w: usize): f64 {
  return expVariant(z, e, K, m, gaps, w, false);
}

/**
 * What rowExpSumMinusOne(z, 0, K, m, gaps, w) leaves in secondSum, bit for bit, without its
 * exps (SIMD builds): the same gap sums over the same blocks, in the same order.
 * For a confident row without the gradient, whose S − 1 comes from rowExpSumMinusOneExact:
 * its exp pass was there for the gaps alone. Returns 0 (that S − 1 is not computed). Call
 * it right after rowMax on the same row (it reads maxChunk).
 */
export function rowGapSum(z: usize, K: i32, m: f32, gaps: bool, w: usize): f64 {
  if (!gaps) {
    secondSum = 0;
    return 0;
  }
  return w ? gapLoop(z, K, m, w, true) : gapLoop(z, K, m, 0, false);
}

// @ts-ignore: decorator
@inline function gapLoop(z: usize, K: i32, m: f32, w: usize, weighted: bool): f64 {
  const vectorEnd = K & ~3;
  // expLoop's gap sums: its blocks, in order.
  let gapTotal = gapRange(z, 0, vectorEnd, m, w, weighted);
  if (vectorEnd < K) {
    let gapPart: f32 = 0;
    for (let k = vectorEnd; k < K; k++) {
      const x = load<f32>(at(z, k)) - m;
      gapPart += weighted ? x * load<f32>(at(w, k)) : x;
    }
    gapTotal += <f64>gapPart;
  }
  secondSum = gapTotal;
  return 0;
}

/** expLoop's gap sum alone (SIMD): one vector per step adds them in expLoop's order. */
// @ts-ignore: decorator
@inline function gapRange(z: usize, from: i32, to: i32, m: f32, w: usize, weighted: bool): f64 {
  let gapTotal: f64 = 0;
  if (ASC_FEATURE_SIMD) {
    const mv = f32x4.splat(m);
    let k = from;
    while (k < to) {
      const end = min(to, k + BLOCK);
      let gv = f32x4.splat(0);
      for (; k < end; k += 4) {
        const x = f32x4.sub(v128.load(at(z, k)), mv);
        gv = weighted ? madd(x, v128.load(at(w, k)), gv) : f32x4.add(gv, x);
      }
      gapTotal += horizontalSum(gv);
    }
  }
  return gapTotal;
}

/** rowExpSumMinusOne for S = Σ_k exp(scale·(z_k − m)) (soft targets: scale = 1/T), no gaps. */
export function rowExpSumMinusOneScaled(z: usize, e: usize, K: i32, m: f32, scale: f32): f64 {
  return e ? expLoop(z, e, K, m, scale, 0, true, false, false, true, false) : expLoop(z, 0, K, m, scale, 0, false, false, false, true, false);
}

/**
 * The scalar build's rowExpSumMinusOne after rowMaxOnly: it also sets nearMax, mostly from
 * the sums it makes anyway (expLoopScalar). rowSoftExpSums' near form does the same.
 */
export function rowExpSumMinusOneNear(z: usize, e: usize, K: i32, m: f32, gaps: bool, w: usize): f64 {
  return expVariant(z, e, K, m, gaps, w, true);
}

/**
 * The scalar build's rowExpSumMinusOne (near false) or rowExpSumMinusOneNear (near true) of a
 * row whose classes are zStep bytes apart, the exps stored eStep bytes apart (w contiguous).
 */
export function rowExpSumMinusOneStrided(z: usize, zStep: usize, e: usize, eStep: usize, K: i32, m: f32, gaps: bool, w: usize, near: bool): f64 {
  if (near) return expVariantScalar(z, zStep, e, eStep, K, m, gaps, w, true);
  return expVariantScalar(z, zStep, e, eStep, K, m, gaps, w, false);
}

/** Set by rowSoftExpSums: B = Σ_k u_k (soft.ts; X = Σ_k u_k·x_k goes into secondSum). */
export let massSum: f64 = 0;

/**
 * The scalar build's pass 2 for probability targets (soft.ts): rowExpSumMinusOneScaled, and
 * with `near` nearMax as rowExpSumMinusOneNear sets it, summing soft.ts's B and X in the
 * same loop, from the same gaps x_k = (z_k − m)·scale, into massSum and secondSum. One pass over the row instead
 * of two (the scalar build has no vector registers to run out of). Targets, logits and exps
 * are `step` bytes apart (4 for rows); w (class weights, or 0) is contiguous. B and X in f32
 * partials over blocks of SOFT_BLOCK_SCALAR, folded into f64.
 */
export function rowSoftExpSums(z: usize, t: usize, w: usize, e: usize, K: i32, m: f32, scale: f32, keep: f32, spread: f32, near: bool): f64 {
  return softVariantScalar(z, t, w, e, K, m, scale, keep, spread, near, 4);
}

/** rowSoftExpSums of a row whose classes are `step` bytes apart (a class axis not last). */
export function rowSoftExpSumsStrided(z: usize, t: usize, w: usize, e: usize, K: i32, m: f32, scale: f32, keep: f32, spread: f32, near: bool, step: usize): f64 {
  return softVariantScalar(z, t, w, e, K, m, scale, keep, spread, near, step);
}

// @ts-ignore: decorator
@inline function softVariantScalar(z: usize, t: usize, w: usize, e: usize, K: i32, m: f32, scale: f32, keep: f32, spread: f32, near: bool, step: usize): f64 {
  if (e) {
    if (w) {
      return near
        ? expLoopScalar(z, e, K, m, scale, w, true, false, true, true, true, step, step, t, keep, spread, true)
        : expLoopScalar(z, e, K, m, scale, w, true, false, true, true, false, step, step, t, keep, spread, true);
    }
    return near
      ? expLoopScalar(z, e, K, m, scale, 0, true, false, false, true, true, step, step, t, keep, spread, true)
      : expLoopScalar(z, e, K, m, scale, 0, true, false, false, true, false, step, step, t, keep, spread, true);
  }
  if (w) {
    return near
      ? expLoopScalar(z, 0, K, m, scale, w, false, false, true, true, true, step, step, t, keep, spread, true)
      : expLoopScalar(z, 0, K, m, scale, w, false, false, true, true, false, step, step, t, keep, spread, true);
  }
  return near
    ? expLoopScalar(z, 0, K, m, scale, 0, false, false, false, true, true, step, step, t, keep, spread, true)
    : expLoopScalar(z, 0, K, m, scale, 0, false, false, false, true, false, step, step, t, keep, spread, true);
}

/** expVariant's flag combinations for expLoopScalar with steps. */
// @ts-ignore: decorator
@inline function expVariantScalar(z: usize, zStep: usize, e: usize, eStep: usize, K: i32, m: f32, gaps: bool, w: usize, near: bool): f64 {
  if (e) {
    if (!gaps) return expLoopScalar(z, e, K, m, 1, 0, true, false, false, false, near, zStep, eStep);
    return w ? expLoopScalar(z, e, K, m, 1, w, true, true, true, false, near, zStep, eStep) : expLoopScalar(z, e, K, m, 1, 0, true, true, false, false, near, zStep, eStep);
  }
  if (!gaps) return expLoopScalar(z, 0, K, m, 1, 0, false, false, false, false, near, zStep, eStep);
  return w ? expLoopScalar(z, 0, K, m, 1, w, false, true, true, false, near, zStep, eStep) : expLoopScalar(z, 0, K, m, 1, 0, false, true, false, false, near, zStep, eStep);
}

/** The flag combinations of expLoop, picked at run time (`near` is a constant where inlined). */
// @ts-ignore: decorator
@inline function expVariant(z: usize, e: usize, K: i32, m: f32, gaps: bool, w: usize, near: bool): f64 {
  if (e) {
    if (!gaps) return expLoop(z, e, K, m, 1, 0, true, false, false, false, near);
    return w ? expLoop(z, e, K, m, 1, w, true, true, true, false, near) : expLoop(z, e, K, m, 1, 0, true, true, false, false, near);
  }
  if (!gaps) return expLoop(z, 0, K, m, 1, 0, false, false, false, false, near);
  return w ? expLoop(z, 0, K, m, 1, w, false, true, true, false, near) : expLoop(z, 0, K, m, 1, 0, false, true, false, false, near);
}


// Compiled once per flag combination (the flags are constants after inlining), so the
// loops carry no per-element branch.
//
// SIMD builds: blocks of BLOCK elements from the row's start, each summed in four f32 lanes
// and folded into f64. The max's chunk (CHUNK divides BLOCK, so it lies in one block) is
// summed with its ties masked out and counted, inside its block: there the plain loops stop
// at the chunk, the masked loops run over it, and the same plain loops go on to the block's
// end. (Three ranges, [0, c0), the chunk and the rest, each in blocks of its own, cost more
// folds, three loads of the constants and loop exits that moved with the max: 4 % of the
// pass at K = 1000.) Every loop
// takes two vectors per iteration (its own bookkeeping is a sixth of its work otherwise),
// adding them to the sums one after the other. The masked loops are spelled out rather than one
// @inline span function: it would have to hand three running sums (exps, gaps, ties) from span
// to span, and it can return one; a v128 global does not compile in the scalar build, and a
// slot in static memory is shared by the pool's threads (a race: tried, and the pool tests
// caught it).
// @ts-ignore: decorator
@inline function expLoop(
  z: usize, e: usize, K: i32, m: f32, scale: f32, w: usize,
  keepExps: bool, gaps: bool, weighted: bool, scaled: bool, near: bool,
): f64 {
  if (!ASC_FEATURE_SIMD) return expLoopScalar(z, e, K, m, scale, w, keepExps, gaps, weighted, scaled, near, 4, 4);
  const vectorEnd = K & ~3;
  const c0 = maxChunk;
  const c1 = min(vectorEnd, c0 + CHUNK);
  let rest: f64 = 0;
  let gapTotal: f64 = 0;
  let ties = 0;
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    const mv = f32x4.splat(m);
    const sv = f32x4.splat(scale);
    const zero = f32x4.splat(0);
    const E0 = expConstant(0), E1 = expConstant(1), E2 = expConstant(2), E3 = expConstant(3), E4 = expConstant(4);
    const E5 = expConstant(5), E6 = expConstant(6), E7 = expConstant(7), E8 = expConstant(8), E9 = expConstant(9);
    let tv = i32x4.splat(0); // minus the ties per lane (a true mask is −1)
    while (k < vectorEnd) {
      const end = min(vectorEnd, k + BLOCK);
      let acc = zero;
      let gv = zero;
      // The plain loops run to `stop`: in the max's block first to its chunk, which is summed
      // with its ties masked out and counted (x = 0, exactly 1, adds +0; a NaN gap is no tie),
      // then on to the block's end; any other block (every block when only the tail holds the
      // max: c0 = vectorEnd) runs them to its end at once.
      let stop = c0 >= k && c0 < end ? c0 : end;
      for (;;) {
        for (; k + 8 <= stop; k += 8) {
          let x0 = f32x4.sub(v128.load(at(z, k)), mv);
          let x1 = f32x4.sub(v128.load(at(z, k), 16), mv);
          if (scaled) {
            x0 = f32x4.mul(x0, sv);
            x1 = f32x4.mul(x1, sv);
          }
          let v0 = expMinus4k(x0, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
          let v1 = expMinus4k(x1, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
          if (keepExps) {
            v128.store(at(e, k), v0);
            v128.store(at(e, k), v1, 16);
          }
          acc = f32x4.add(f32x4.add(acc, v0), v1);
          if (gaps) {
            gv = weighted ? madd(x0, v128.load(at(w, k)), gv) : f32x4.add(gv, x0);
            gv = weighted ? madd(x1, v128.load(at(w, k), 16), gv) : f32x4.add(gv, x1);
          }
        }
        for (; k < stop; k += 4) {
          let x = f32x4.sub(v128.load(at(z, k)), mv);
          if (scaled) x = f32x4.mul(x, sv);
          let v = expMinus4k(x, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
          if (keepExps) v128.store(at(e, k), v);
          acc = f32x4.add(acc, v);
          if (gaps) gv = weighted ? madd(x, v128.load(at(w, k)), gv) : f32x4.add(gv, x);
        }
        if (stop == end) break;
        for (; k + 8 <= c1; k += 8) {
          let x0 = f32x4.sub(v128.load(at(z, k)), mv);
          let x1 = f32x4.sub(v128.load(at(z, k), 16), mv);
          if (scaled) {
            x0 = f32x4.mul(x0, sv);
            x1 = f32x4.mul(x1, sv);
          }
          let v0 = expMinus4k(x0, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
          let v1 = expMinus4k(x1, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
          if (keepExps) {
            v128.store(at(e, k), v0);
            v128.store(at(e, k), v1, 16);
          }
          const t0 = f32x4.eq(x0, zero);
          const t1 = f32x4.eq(x1, zero);
          tv = i32x4.add(tv, i32x4.add(t0, t1));
          v0 = v128.andnot(v0, t0);
          v1 = v128.andnot(v1, t1);
          acc = f32x4.add(f32x4.add(acc, v0), v1);
          if (gaps) {
            gv = weighted ? madd(x0, v128.load(at(w, k)), gv) : f32x4.add(gv, x0);
            gv = weighted ? madd(x1, v128.load(at(w, k), 16), gv) : f32x4.add(gv, x1);
          }
        }
        for (; k < c1; k += 4) {
          let x = f32x4.sub(v128.load(at(z, k)), mv);
          if (scaled) x = f32x4.mul(x, sv);
          let v = expMinus4k(x, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
          if (keepExps) v128.store(at(e, k), v);
          const t = f32x4.eq(x, zero);
          tv = i32x4.add(tv, t);
          v = v128.andnot(v, t);
          acc = f32x4.add(acc, v);
          if (gaps) gv = weighted ? madd(x, v128.load(at(w, k)), gv) : f32x4.add(gv, x);
        }
        stop = end;
      }
      rest += horizontalSum(acc);
      if (gaps) gapTotal += horizontalSum(gv);
    }
    ties = -(i32x4.extract_lane(tv, 0) + i32x4.extract_lane(tv, 1) + i32x4.extract_lane(tv, 2) + i32x4.extract_lane(tv, 3));
  }
  // The K mod 4 tail, ties masked.
  if (vectorEnd < K) {
    let part: f32 = 0;
    let gapPart: f32 = 0;
    for (let k = vectorEnd; k < K; k++) {
      let x = load<f32>(at(z, k)) - m;
      if (scaled) x *= scale;
      const v = expMinus(x);
      if (keepExps) store<f32>(at(e, k), v);
      part += x == 0 ? 0 : v;
      ties += <i32>(x == 0);
      if (gaps) gapPart += weighted ? x * load<f32>(at(w, k)) : x;
    }
    rest += <f64>part;
    gapTotal += <f64>gapPart;
  }
  secondSum = gapTotal;
  return rest + <f64>(ties - 1);
}

/**
 * The scalar build's pass 2: S summed in f64 term by term, the max's exact 1 and any other
 * ties included, and S − 1 = S − 1 in f64 (exact while S ≤ 2). Every caller takes S − 1 from
 * here only for a row that is not confident, where a gap is ≥ −CONFIDENT_GAP and so S − 1 ≥
 * e^−6·(1 − 2e-7): the f64 sum's K roundings of 2⁻⁵³ are then ~1e-13 of it, more accurate than
 * the f32 partials it replaced, and the loop has fixed bounds. (Blocks that ended at the
 * max's index left it out of an f32 partial, but the loop then exited at a place that
 * changes from row to row: a mispredicted branch a row, 7 % of a row at K = 10.) The gap
 * sums (and soft.ts's B and X) keep one f32 partial per block of BLOCK_SCALAR (or
 * SOFT_BLOCK_SCALAR) elements, folded into f64.
 */
// @ts-ignore: decorator
@inline function expLoopScalar(
  z: usize, e: usize, K: i32, m: f32, scale: f32, w: usize,
  keepExps: bool, gaps: bool, weighted: bool, scaled: bool, near: bool, zStep: usize, eStep: usize,
  t: usize = 0, keep: f32 = 0, spread: f32 = 0, soft: bool = false,
): f64 {
  // A max of ±∞ makes its own gap ∞ − ∞: S is NaN.
  if (abs(m) == Infinity) {
    secondSum = NaN;
    if (soft) massSum = NaN;
    if (near) nearMax = true;
    return NaN;
  }
  let total: f64 = 0;
  let gapTotal: f64 = 0;
  let massTotal: f64 = 0;
  const S0 = expScalarConstant(0), S1 = expScalarConstant(1), S2 = expScalarConstant(2), S3 = expScalarConstant(3), S4 = expScalarConstant(4);
  const S5 = expScalarConstant(5), S6 = expScalarConstant(6), S7 = expScalarConstant(7), S8 = expScalarConstant(8), S9 = expScalarConstant(9);
  for (let k = 0; k < K; ) {
    const end = min(K, k + (soft ? SOFT_BLOCK_SCALAR : BLOCK_SCALAR));
    let gapPart: f32 = 0;
    let massPart: f32 = 0;
    for (; k < end; k++) {
      let x = load<f32>(atStep(z, k, zStep)) - m;
      if (scaled) x *= scale;
      if (soft) {
        // Read before the exp is stored: e may be z.
        const u = softMass(t, w, k, keep, spread, zStep, weighted);
        massPart += u;
        // u·x where u ≠ 0, else 0 (0·−∞ would be NaN).
        if (u != 0) gapPart += u * x;
      }
      const v = expMinusK(x, S0, S1, S2, S3, S4, S5, S6, S7, S8, S9);
      if (keepExps) store<f32>(atStep(e, k, eStep), v);
      total += <f64>v;
      if (gaps) gapPart += weighted ? x * load<f32>(at(w, k)) : x;
    }
    gapTotal += <f64>gapPart;
    if (soft) massTotal += <f64>massPart;
  }
  secondSum = gapTotal;
  if (soft) massSum = massTotal;
  const rest = total - 1;
  if (near) {
    // nearMax from the sum where it settles it, else from the gaps themselves.
    nearMax = rest < <f64>NEAR_PART ? false : rest > <f64>K * NEAR_SUM ? true : anyNear(z, K, m, scale, zStep);
  }
  return rest;
}

/**
 * expMinus(x) for x ≥ −CONFIDENT_GAP is ≥ e^−6·(1 − 1.85e-7) (exp.ts), above NEAR_PART: a row
 * whose S − 1 (summed in f64, within 1e-12 of its terms' sum) is below NEAR_PART has every gap
 * but the max's below −CONFIDENT_GAP. A row whose S − 1 is above K·NEAR_SUM has an exp above
 * e^−6·(1 + 1e-4) other than the max's 1 (or a tie at the max), so a gap above −CONFIDENT_GAP.
 */
// @ts-ignore: decorator
@inline const NEAR_PART: f32 = 0.0024787274; // e^−6·(1 − 1e-5)
// @ts-ignore: decorator
@inline const NEAR_SUM: f64 = 0.0024790000519; // e^−6·(1 + 1e-4)

/**
 * Whether a gap (z_k − m)·scale other than the max's own is ≥ −CONFIDENT_GAP, as pass 2
 * computes it: the max's gap is 0, so whether two gaps are (a tie at the max counts).
 */
function anyNear(z: usize, K: i32, m: f32, scale: f32, step: usize): bool {
  let near = 0;
  for (let k = 0; k < K; k++) {
    if ((load<f32>(atStep(z, k, step)) - m) * scale >= -CONFIDENT_GAP && ++near == 2) return true;
  }
  return false;
}

// @ts-ignore: decorator
@inline const BLOCK_SCALAR: i32 = 64;
// soft.ts's BLOCK: B and X add many small target masses, so their f32 partials stay short.
// @ts-ignore: decorator
@inline const SOFT_BLOCK_SCALAR: i32 = 32;

/** u_k = (t_k·keep + spread)·w_k (soft.ts), targets laid out as the logits. */
// @ts-ignore: decorator
@inline function softMass(t: usize, w: usize, k: i32, keep: f32, spread: f32, step: usize, weighted: bool): f32 {
  const u = load<f32>(atStep(t, k, step)) * keep + spread;
  return weighted ? u * load<f32>(at(w, k)) : u;
}

/**
 * log S from S − 1: log1p where 1 + (S − 1) would round S − 1 away, else log(S), which
 * AssemblyScript computes from a table without log1p's two divisions (at K = 10 on the
 * scalar build those were a tenth of the row). Below 2⁻²⁰ the f64 sum 1 + u keeps u to 1e-10.
 */
// @ts-ignore: decorator
@inline export function logOfSum(sMinusOne: f64): f64 {
  return sMinusOne < 9.5367431640625e-7 ? Math.log1p(sMinusOne) : Math.log(1 + sMinusOne);
}

/**
 * S − 1 as rowExpSumMinusOne computes it, for confident rows, with the gaps z_k − m exact and
 * then multiplied by `scale` (1/T for soft targets, else 1). The float32 gap x = z_k − m is
 * off by up to half an ulp of x, 2⁻²⁴·|x|, and exp(x) by that much relative: 4e-6 at x = −70,
 * where the row's loss is 1e-30. Its rounding error r is exact (TwoSum: six float32
 * operations), and exp(x + r) = exp(x)·(1 + r) to float32. Reads z only: call it before an
 * exp pass writes over the row.
 */
export function rowExpSumMinusOneExact(z: usize, K: i32, m: f32, scale: f32): f64 {
  return rowExpSumMinusOneExactAt(z, K, m, scale, 4);
}

/** The scalar build's rowExpSumMinusOneExact of a row whose classes are `step` bytes apart. */
export function rowExpSumMinusOneExactStrided(z: usize, K: i32, m: f32, scale: f32, step: usize): f64 {
  return rowExpSumMinusOneExactAt(z, K, m, scale, step);
}

// @ts-ignore: decorator
@inline function rowExpSumMinusOneExactAt(z: usize, K: i32, m: f32, scale: f32, step: usize): f64 {
  let rest: f64 = 0;
  let ties = 0;
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    const mv = f32x4.splat(m);
    const minusM = f32x4.splat(-m);
    const sv = f32x4.splat(scale);
    const zero = f32x4.splat(0);
    const E0 = expConstant(0), E1 = expConstant(1), E2 = expConstant(2), E3 = expConstant(3), E4 = expConstant(4);
    const E5 = expConstant(5), E6 = expConstant(6), E7 = expConstant(7), E8 = expConstant(8), E9 = expConstant(9);
    let tv = i32x4.splat(0);
    const vectorEnd = K & ~3;
    while (k < vectorEnd) {
      const end = min(vectorEnd, k + BLOCK);
      let sum = zero;
      for (; k < end; k += 4) {
        const a = v128.load(at(z, k));
        // TwoSum: d + r = a + (−m) exactly.
        const d = f32x4.sub(a, mv);
        const virtualM = f32x4.sub(d, a);
        const r = f32x4.add(f32x4.sub(a, f32x4.sub(d, virtualM)), f32x4.sub(minusM, virtualM));
        // r is NaN where a is ±∞ (then exp(x) is 0 or the row NaN anyway): use 0.
        const rs = f32x4.mul(v128.and(r, f32x4.eq(r, r)), sv);
        const x = f32x4.mul(d, sv);
        const e = expMinus4k(x, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
        const tie = f32x4.eq(x, zero);
        sum = f32x4.add(sum, v128.andnot(madd(e, rs, e), tie));
        tv = i32x4.add(tv, tie);
      }
      rest += horizontalSum(sum);
    }
    ties = -(i32x4.extract_lane(tv, 0) + i32x4.extract_lane(tv, 1) + i32x4.extract_lane(tv, 2) + i32x4.extract_lane(tv, 3));
  }
  for (; k < K; k++) {
    // In f64 the difference of two float32 numbers is exact, and so is its rounding error.
    const d = <f64>load<f32>(atStep(z, k, step)) - <f64>m;
    const x32 = <f32>d;
    const x = x32 * scale;
    const r = (d - <f64>x32) * <f64>scale;
    if (x == 0) ties++;
    else rest += <f64>expMinus(x) * (1 + (r == r ? r : 0));
  }
  return rest + <f64>(ties - 1);
}

/**
 * Gradient pass, in place over the exps at g:
 * g_k ← (e_k·alpha − beta·w_k) · (1 − (zc_k/c)²), where w_k = 1 when w = 0 and the
 * softcap chain factor applies only when cap ≠ 0 (zc holds the capped logits).
 */
export function rowGrad(g: usize, K: i32, alpha: f32, beta: f32, w: usize, zc: usize, cap: f32): void {
  rowGradAt(g, K, alpha, beta, w, zc, cap, 4);
}

/** The scalar build's rowGrad of a row whose classes are `step` bytes apart (w and zc contiguous). */
export function rowGradStrided(g: usize, K: i32, alpha: f32, beta: f32, w: usize, zc: usize, cap: f32, step: usize): void {
  rowGradAt(g, K, alpha, beta, w, zc, cap, step);
}

// @ts-ignore: decorator
@inline function rowGradAt(g: usize, K: i32, alpha: f32, beta: f32, w: usize, zc: usize, cap: f32, step: usize): void {
  if (cap != 0) {
    if (w) gradLoop(g, K, alpha, beta, w, zc, 1 / cap, true, true, step);
    else gradLoop(g, K, alpha, beta, 0, zc, 1 / cap, false, true, step);
  } else {
    if (w) gradLoop(g, K, alpha, beta, w, 0, 0, true, false, step);
    else gradLoop(g, K, alpha, beta, 0, 0, 0, false, false, step);
  }
}

// The four variants are compiled separately (the flags are constants after inlining),
// so an option that is off costs nothing per element.
// @ts-ignore: decorator
@inline function gradLoop(
  g: usize, K: i32, alpha: f32, beta: f32, w: usize, zc: usize, invCap: f32,
  weighted: bool, capped: bool, step: usize,
): void {
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    const av = f32x4.splat(alpha);
    const bv = f32x4.splat(-beta);
    const one = f32x4.splat(1);
    const ic = f32x4.splat(invCap);
    if (!weighted && !capped) {
      // The common case, four vectors per iteration (the loop is otherwise half bookkeeping).
      for (; k + 16 <= K; k += 16) {
        const p = at(g, k);
        v128.store(p, madd(v128.load(p), av, bv));
        v128.store(p, madd(v128.load(p, 16), av, bv), 16);
        v128.store(p, madd(v128.load(p, 32), av, bv), 32);
        v128.store(p, madd(v128.load(p, 48), av, bv), 48);
      }
    }
    for (; k + 4 <= K; k += 4) {
      const e = v128.load(at(g, k));
      let v = weighted
        ? madd(e, av, f32x4.mul(bv, v128.load(at(w, k))))
        : madd(e, av, bv);
      if (capped) {
        const u = f32x4.mul(v128.load(at(zc, k)), ic);
        v = f32x4.mul(v, f32x4.sub(one, f32x4.mul(u, u)));
      }
      v128.store(at(g, k), v);
    }
  }
  for (; k < K; k++) {
    let v = weighted
      ? load<f32>(atStep(g, k, step)) * alpha + (-beta) * load<f32>(at(w, k))
      : load<f32>(atStep(g, k, step)) * alpha + (-beta);
    if (capped) {
      const u = load<f32>(at(zc, k)) * invCap;
      v = v * (1 - u * u);
    }
    store<f32>(atStep(g, k, step), v);
  }
}

/** The softcap chain factor 1 − (zc/c)² of one element (the label fix-up uses it). */
// @ts-ignore: decorator
@inline export function capFactor(zc: f32, cap: f32): f32 {
  const u = zc * (1 / cap);
  return 1 - u * u;
}

// tanh for the softcap. |x| < 0.55: odd Taylor series to x^15 (error < 3e-8 relative);
// otherwise 1 − 2/(exp(2|x|) + 1) with the sign restored, computed with exp of −2|x| so
// that huge |x| gives exactly ±1 instead of ∞/∞.
// @ts-ignore: decorator
@inline const T3: f32 = -0.333333333;
// @ts-ignore: decorator
@inline const T5: f32 = 0.133333333;
// @ts-ignore: decorator
@inline const T7: f32 = -0.0539682540;
// @ts-ignore: decorator
@inline const T9: f32 = 0.0218694885;
// @ts-ignore: decorator
@inline const T11: f32 = -0.00886323552;
// @ts-ignore: decorator
@inline const T13: f32 = 0.00359212803;
// @ts-ignore: decorator
@inline const T15: f32 = -0.00145583438;
// @ts-ignore: decorator
@inline const SMALL: f32 = 0.55;

// @ts-ignore: decorator
@inline function tanhScalar(x: f32): f32 {
  const a = abs(x);
  if (a < SMALL) {
    const x2 = x * x;
    let p = T15 * x2 + T13;
    p = p * x2 + T11;
    p = p * x2 + T9;
    p = p * x2 + T7;
    p = p * x2 + T5;
    p = p * x2 + T3;
    return x + x * x2 * p;
  }
  const q = expMinus(-2 * a);
  const r: f32 = (<f32>1 - q) / (<f32>1 + q);
  return x < 0 ? -r : r;
}

// The series coefficients as vectors, loaded where used (a v128.const is rebuilt on every
// iteration): T15, T13, … T3, then SMALL.
const TANH_TABLE = memory.data<f32>([
  T15, T15, T15, T15, T13, T13, T13, T13, T11, T11, T11, T11, T9, T9, T9, T9,
  T7, T7, T7, T7, T5, T5, T5, T5, T3, T3, T3, T3, SMALL, SMALL, SMALL, SMALL,
], 16);

/**
 * tanh of four lanes, the exp constants E0…E9 passed in (hoisted by the caller). Each branch
 * is computed only when a lane needs it: a vector whose lanes are all below SMALL (logits
 * within ±0.55·c, the usual case) costs the series alone.
 */
// @ts-ignore: decorator
@inline function tanh4(
  x: v128, E0: v128, E1: v128, E2: v128, E3: v128, E4: v128, E5: v128, E6: v128, E7: v128, E8: v128, E9: v128,
): v128 {
  const a = f32x4.abs(x);
  const small = f32x4.lt(a, v128.load(TANH_TABLE, 112));
  if (i32x4.all_true(small)) return tanhSeries4(x);
  const q = expMinus4k(f32x4.sub(f32x4.neg(a), a), E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
  const one = f32x4.splat(1);
  const large = f32x4.div(f32x4.sub(one, q), f32x4.add(one, q));
  // Copy the sign of x onto the large-|x| result (its magnitude is ≥ 0).
  const signed = v128.or(large, v128.and(x, i32x4.splat(0x80000000)));
  if (!v128.any_true(small)) return signed;
  return v128.bitselect(tanhSeries4(x), signed, small);
}

/** The odd series of tanh for four lanes |x| < SMALL. */
// @ts-ignore: decorator
@inline function tanhSeries4(x: v128): v128 {
  const x2 = f32x4.mul(x, x);
  let p = madd(v128.load(TANH_TABLE), x2, v128.load(TANH_TABLE, 16));
  p = madd(p, x2, v128.load(TANH_TABLE, 32));
  p = madd(p, x2, v128.load(TANH_TABLE, 48));
  p = madd(p, x2, v128.load(TANH_TABLE, 64));
  p = madd(p, x2, v128.load(TANH_TABLE, 80));
  p = madd(p, x2, v128.load(TANH_TABLE, 96));
  return madd(f32x4.mul(x, x2), p, x);
}

/** zc_k = c·tanh(z_k/c) for one row (Gemma-2 logit soft-capping). */
export function rowSoftcap(z: usize, zc: usize, K: i32, cap: f32): void {
  rowSoftcapAt(z, zc, K, cap, 4);
}

/** The scalar build's rowSoftcap of a row whose classes are `step` bytes apart (zc contiguous). */
export function rowSoftcapStrided(z: usize, zc: usize, K: i32, cap: f32, step: usize): void {
  rowSoftcapAt(z, zc, K, cap, step);
}

// @ts-ignore: decorator
@inline function rowSoftcapAt(z: usize, zc: usize, K: i32, cap: f32, step: usize): void {
  const inv: f32 = 1 / cap;
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    const iv = f32x4.splat(inv);
    const cv = f32x4.splat(cap);
    const E0 = expConstant(0), E1 = expConstant(1), E2 = expConstant(2), E3 = expConstant(3), E4 = expConstant(4);
    const E5 = expConstant(5), E6 = expConstant(6), E7 = expConstant(7), E8 = expConstant(8), E9 = expConstant(9);
    for (; k + 4 <= K; k += 4) {
      const t = tanh4(f32x4.mul(v128.load(at(z, k)), iv), E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
      v128.store(at(zc, k), f32x4.mul(cv, t));
    }
  }
  for (; k < K; k++) {
    store<f32>(at(zc, k), cap * tanhScalar(load<f32>(atStep(z, k, step)) * inv));
  }
}
