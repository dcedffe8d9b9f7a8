// Softmax cross-entropy against probability targets (teacher outputs for knowledge
// distillation, mixup, one-hot), with smoothing, class weights and temperature.
//
// Shapes: logits[rows·K], targets[rows·K], grad[rows·K] (may equal logits), weight[K]
// (optional), losses[rows] and lse[rows] (optional outputs), all f32.
//
// Per row, with t'_k = (1−ε)·t_k + ε/K, u_k = w_k·t'_k (w ≡ 1 when absent), T the temperature,
// x_k = (z_k − m)/T ≤ 0:
//   m      = max_k z_k                                                        (pass 1)
//   S      = Σ_k exp(x_k),  lse = m/T + log S  (the lse of z/T);  B = Σ_k u_k;
//            log S = log1p(S − 1), with S − 1 summed apart from the exact 1s of the
//            x_k = 0 (z_k = m), as in rows.ts: a confident row keeps its tiny loss
//   X      = Σ_k u_k·x_k, where a term with u_k = 0 is 0 even against a −∞ logit  (pass 2)
//   loss   = −Σ_k u_k·log softmax(z/T)_k = Σ_k u_k·(log S − x_k) = B·log S − X
//            (every term ≥ 0: no cancellation, unlike B·lse − Σ u·z/T for large logits)
//   ∂/∂z_k = (B·p_k − u_k)/T                                                   (pass 3)
// The gradient is with respect to the logits as given (the 1/T of the chain rule is in).

import {
  maxOf, maxOnlyOf, nearMax, rowExpSumMinusOneScaled, rowExpSumMinusOneExact, logOfSum, runnerUp, CONFIDENT_GAP,
  rowExpSumMinusOneExactStrided, rowSoftExpSums, rowSoftExpSumsStrided, massSum, secondSum,
} from './rows';
import { SMALL_K } from './small';
import { nextRow, startRows } from './columns';
import { softSmall } from './softsmall';
import { madd } from './exp';

// Shorter blocks than rows.ts: B and X add many small target masses, and B multiplies
// log S, so each f32 partial sum must stay short before it is folded into f64.
// @ts-ignore: decorator
@inline const BLOCK: i32 = 32;

let sumX: f64 = 0;
let sumB: f64 = 0;

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
@inline function lanes(v: v128): f64 {
  // (l0 + l2) + (l1 + l3) in f64: two widenings and one vector add instead of four of each.
  const pair = f64x2.add(f64x2.promote_low_f32x4(v), f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 2, 3)));
  return f64x2.extract_lane(pair, 0) + f64x2.extract_lane(pair, 1);
}

/**
 * Pass 2: B and X into sumB, sumX, then S − 1 (rows.ts: ties at the max counted exactly) with
 * the exps stored at g unless g = 0. SIMD builds sum B and X first, while z is intact (g may
 * alias it), in a loop of their own: fused with the exps, the loop needs more vector
 * registers than x64 has and spills. The scalar build sums them in its exp loop
 * (rows.ts's rowSoftExpSums), a pass over the row fewer.
 */
function rowSoftSums(z: usize, t: usize, w: usize, g: usize, K: i32, m: f32, invT: f32, keep: f32, spread: f32, near: bool): f64 {
  return softSumsAt(z, t, w, g, K, m, invT, keep, spread, near, 4, false);
}

/**
 * The scalar build's rowSoftSums of a row whose logits, targets and exps are `step` bytes
 * apart (a class axis not last; w contiguous).
 */
function rowSoftSumsStrided(z: usize, t: usize, w: usize, g: usize, K: i32, m: f32, invT: f32, keep: f32, spread: f32, near: bool, step: usize): f64 {
  return softSumsAt(z, t, w, g, K, m, invT, keep, spread, near, step, true);
}

// rowSoftSums' body; `strided` is a constant where inlined (the SIMD part reads rows only).
// @ts-ignore: decorator
@inline function softSumsAt(z: usize, t: usize, w: usize, g: usize, K: i32, m: f32, invT: f32, keep: f32, spread: f32, near: bool, step: usize, strided: bool): f64 {
  if (!ASC_FEATURE_SIMD) {
    const rest = strided
      ? rowSoftExpSumsStrided(z, t, w, g, K, m, invT, keep, spread, near, step)
      : rowSoftExpSums(z, t, w, g, K, m, invT, keep, spread, near);
    sumB = massSum;
    sumX = secondSum;
    return rest;
  }
  // SIMD builds (rows only: their strided soft kernels are stridedsoft.ts and tiles).
  let b: f64 = 0;
  let x: f64 = 0;
  let k = 0;
  const mv = f32x4.splat(m);
  const iv = f32x4.splat(invT);
  const zero = f32x4.splat(0);
  const kv = f32x4.splat(keep);
  const sp = f32x4.splat(spread);
  const vectorEnd = K & ~3;
  while (k < vectorEnd) {
    const end = min(vectorEnd, k + BLOCK);
    let bv = zero;
    let xv = zero;
    for (; k < end; k += 4) {
      const gap = f32x4.mul(f32x4.sub(v128.load(at(z, k)), mv), iv);
      let u = madd(v128.load(at(t, k)), kv, sp);
      if (w) u = f32x4.mul(u, v128.load(at(w, k)));
      bv = f32x4.add(bv, u);
      // u·x where u ≠ 0, else 0 (0·−∞ would be NaN).
      xv = f32x4.add(xv, v128.and(f32x4.mul(u, gap), f32x4.ne(u, zero)));
    }
    b += lanes(bv);
    x += lanes(xv);
  }
  // The K mod 4 tail (fewer than BLOCK).
  if (k < K) {
    let bp: f32 = 0;
    let xp: f32 = 0;
    for (; k < K; k++) {
      const gap = (load<f32>(at(z, k)) - m) * invT;
      let u = load<f32>(at(t, k)) * keep + spread;
      if (w) u *= load<f32>(at(w, k));
      bp += u;
      if (u != 0) xp += u * gap;
    }
    b += <f64>bp;
    x += <f64>xp;
  }
  sumB = b;
  sumX = x;
  return rowExpSumMinusOneScaled(z, g, K, m, invT);
}

/** Pass 3: g_k ← e_k·alpha − u_k·beta. */
function rowSoftGrad(g: usize, t: usize, w: usize, K: i32, keep: f32, spread: f32, alpha: f32, beta: f32): void {
  softGradAt(g, t, w, K, keep, spread, alpha, beta, 4, false);
}

/** The scalar build's rowSoftGrad of a row whose exps and targets are `step` bytes apart. */
function rowSoftGradStrided(g: usize, t: usize, w: usize, K: i32, keep: f32, spread: f32, alpha: f32, beta: f32, step: usize): void {
  softGradAt(g, t, w, K, keep, spread, alpha, beta, step, true);
}

// @ts-ignore: decorator
@inline function softGradAt(g: usize, t: usize, w: usize, K: i32, keep: f32, spread: f32, alpha: f32, beta: f32, step: usize, strided: bool): void {
  let k = 0;
  if (ASC_FEATURE_SIMD && !strided) {
    const kv = f32x4.splat(keep);
    const sv = f32x4.splat(spread);
    const av = f32x4.splat(alpha);
    const bv = f32x4.splat(-beta);
    for (; k + 4 <= K; k += 4) {
      let u = madd(v128.load(at(t, k)), kv, sv);
      if (w) u = f32x4.mul(u, v128.load(at(w, k)));
      v128.store(at(g, k), madd(v128.load(at(g, k)), av, f32x4.mul(u, bv)));
    }
  }
  for (; k < K; k++) {
    let u = load<f32>(atStep(t, k, step)) * keep + spread;
    if (w) u *= load<f32>(at(w, k));
    const gk = atStep(g, k, step);
    store<f32>(gk, load<f32>(gk) * alpha + u * (-beta));
  }
}

export function softRows(
  logits: usize, targets: usize, grad: usize, rows: i32, K: i32,
  smoothing: f64, scale: f64, weight: usize, temperature: f64,
  losses: usize, lseOut: usize, sumIn: f64, scratch: usize, rowWise: bool,
): f64 {
  // Small K, unless the whole call has fewer rows than a vector (the host decides from the
  // call's rows, not a chunk's, so chunking never changes which kernel a row gets).
  if (ASC_FEATURE_SIMD && K <= SMALL_K && !rowWise) {
    return softSmall(logits, targets, grad, rows, K, smoothing, scale, weight, temperature, losses, lseOut, sumIn, scratch);
  }
  return softRowLoop(logits, targets, grad, rows, K, 1, smoothing, scale, weight, temperature, losses, lseOut, sumIn, false);
}

/**
 * The scalar build's softRows for logits and targets laid out [outers][K][width] (a class
 * axis not last, strided.ts; grad is 0 or the logits): position p = o·width + i is row p of
 * the transposed call, its class k at element (o·K + k)·width + i. The same loop as softRows,
 * reading and writing each row in place with `width` floats between classes, so every number
 * has the rows call's bits (as xent.ts's xentRowsStrided).
 */
export function softRowsStrided(
  logits: usize, targets: usize, grad: usize, outers: i32, K: i32, width: i32,
  smoothing: f64, scale: f64, weight: usize, temperature: f64,
  losses: usize, lseOut: usize, sumIn: f64,
): f64 {
  return softRowLoop(logits, targets, grad, outers * width, K, width, smoothing, scale, weight, temperature, losses, lseOut, sumIn, true);
}

/**
 * The row loop of softRows (strided false: rows, width 1) and softRowsStrided (strided true,
 * the scalar build only): `strided` is a constant where inlined, so the rows loop keeps its
 * contiguous primitives and the strided one takes their …Strided forms, the same bodies with
 * a step of 4·width bytes between classes.
 */
// @ts-ignore: decorator
@inline function softRowLoop(
  logits: usize, targets: usize, grad: usize, rows: i32, K: i32, width: i32,
  smoothing: f64, scale: f64, weight: usize, temperature: f64,
  losses: usize, lseOut: usize, sumIn: f64, strided: bool,
): f64 {
  let sum = sumIn;
  const keep = <f32>(1 - smoothing);
  const spread = <f32>(smoothing / <f64>K);
  const invT = 1 / temperature;
  const rowBytes = <usize>K << 2;
  const beta = <f32>(scale * invT);
  // Bytes between a row's classes (4 for rows), and between outers.
  const step: usize = strided ? <usize>width << 2 : 4;
  const outerBytes = <usize>width * rowBytes;
  startRows();
  for (let r = 0; r < rows; r++) {
    // The row's first byte in logits, targets and grad.
    const offset = nextRow(r, rowBytes, outerBytes, width, strided);
    const z = logits + offset;
    const t = targets + offset;
    const g = grad ? grad + offset : 0;
    // A row that may be confident gets S − 1 from the exact pass (see xent.ts), before pass 2
    // or, on the scalar build when pass 2 leaves the logits intact, after it.
    let late = !ASC_FEATURE_SIMD && g != z;
    const m = late ? maxOnlyOf(z, K, step, strided) : maxOf(z, K, step, strided);
    if (late && abs(m) == Infinity) {
      maxOf(z, K, step, strided);
      late = false;
    }
    let confident = !late && (m - runnerUp) * <f32>invT > CONFIDENT_GAP;
    let exactSum = confident ? exactOf(z, K, m, <f32>invT, step, strided) : 0;
    // Pass 2 reads each z_k before writing its exp over it (grad may alias logits).
    const fastSum = strided
      ? rowSoftSumsStrided(z, t, weight, g, K, m, <f32>invT, keep, spread, late, step)
      : rowSoftSums(z, t, weight, g, K, m, <f32>invT, keep, spread, late);
    if (late && !nearMax) {
      confident = true;
      exactSum = exactOf(z, K, m, <f32>invT, step, strided);
    }
    const sMinusOne = confident ? exactSum : fastSum;
    const B = sumB;
    const S = sMinusOne + 1;
    const logS = logOfSum(sMinusOne);
    if (lseOut) store<f32>(lseOut + (<usize>r << 2), <f32>(<f64>m * invT + logS));
    const loss = B * logS - sumX;
    if (losses) store<f32>(losses + (<usize>r << 2), <f32>loss);
    sum += <f64><f32>loss; // the row loss as written out (see xent.ts)
    if (g) {
      const alpha = <f32>(B / S * scale * invT);
      if (strided) rowSoftGradStrided(g, t, weight, K, keep, spread, alpha, beta, step);
      else rowSoftGrad(g, t, weight, K, keep, spread, alpha, beta);
    }
  }
  return sum;
}

// rows.ts's primitives for softRowLoop: the contiguous forms for rows, the …Strided ones
// (the same bodies, `step` bytes between classes) for a class axis not last.
// @ts-ignore: decorator
@inline function exactOf(z: usize, K: i32, m: f32, scale: f32, step: usize, strided: bool): f64 {
  return strided ? rowExpSumMinusOneExactStrided(z, K, m, scale, step) : rowExpSumMinusOneExact(z, K, m, scale);
}
