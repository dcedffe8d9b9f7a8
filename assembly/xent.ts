// Label-smoothed softmax cross-entropy with class-index labels: loss and gradient,
// fused, one call per chunk of rows.
//
// Shapes (all row-major f32 unless said): logits[rows·K], grad[rows·K] (may equal
// logits: the gradient is written over them), labels[rows] i32, weight[K] (optional),
// losses[rows] and lse[rows] (optional outputs), scratch[4·K] (softcap, small K).
//
// Per row with label y, smoothing ε, weights w (w ≡ 1 when absent, W = Σ_k w_k):
//   z      ← c·tanh(z/c)                                   (softcap c, optional)
//   m      = max_k z_k                                     (pass 1)
//   S      = Σ_k exp(z_k − m),  lse = m + log S           (pass 2, exps stored in grad,
//            and Σ_k w_k·(z_k − m) when ε > 0); log S = log1p(S − 1), S − 1 summed
//            apart from the max's exact 1 (rows.ts), so a confident row's tiny loss
//            keeps its float32 precision
//   loss   = (1−ε)·w_y·(lse − z_y) + (ε/K)·Σ_k w_k·(lse − z_k) + zLoss·lse²
//            — unweighted this is lse − (1−ε)·z_y − (ε/K)·Σz + zLoss·lse²; ε = 0 skips
//            the smoothing term, so masked (−∞) logits still give a finite hard-label loss.
//   ∂/∂z_k = p_k·A − (ε/K)·w_k − (1−ε)·w_y·[k = y],   A = (1−ε)·w_y + (ε/K)·W + 2·zLoss·lse
//            (× the softcap chain factor 1 − (z_k/c)², × scale)              (pass 3)
// Rows whose label equals ignoreIndex contribute 0 loss and 0 gradient.
// For K ≤ 64 (SIMD builds) the work goes to small.ts, four rows per vector, same math.
// The sum of the row losses (each as written out, in f32) is accumulated in f64 in row
// order onto `sumIn` and returned, so that the result does not depend on how rows are
// split into chunks or threads.

import { xentSmall, SMALL_K } from './small';
import { nextRow, startRows } from './columns';
import {
  maxOf, maxOnlyOf, nearMax, rowExpSumMinusOne, rowExpSumMinusOneNear, rowGapSum, rowExpSumMinusOneExact, logOfSum, rowGrad, rowSoftcap, capFactor, secondSum, runnerUp, CONFIDENT_GAP,
  rowExpSumMinusOneStrided, rowExpSumMinusOneExactStrided, rowGradStrided, rowSoftcapStrided,
} from './rows';

export function xentRows(
  logits: usize, grad: usize, labels: usize, rows: i32, K: i32,
  smoothing: f64, scale: f64, ignoreIndex: i32,
  weight: usize, weightSum: f64, zLoss: f64, softcap: f32, scratch: usize,
  losses: usize, lseOut: usize, sumIn: f64, rowWise: bool,
): f64 {
  // Small K takes four rows per vector, unless the caller's whole batch has fewer than four
  // rows (rowWise): the host decides from the batch, not the chunk, so that every chunk of a
  // batch takes the same path and chunking never changes a result.
  if (ASC_FEATURE_SIMD && K <= SMALL_K && softcap == 0 && !rowWise) {
    return xentSmall(logits, grad, labels, rows, K, smoothing, scale, ignoreIndex, weight, weightSum, zLoss, scratch, losses, lseOut, sumIn);
  }
  return xentRowLoop(logits, grad, labels, rows, K, 1, smoothing, scale, ignoreIndex, weight, weightSum, zLoss, softcap, scratch, losses, lseOut, sumIn, false);
}

/**
 * The scalar build's xentRows for logits laid out [outers][K][width] (a class axis not last,
 * strided.ts): position p = o·width + i is row p of the transposed call, its class k at
 * element (o·K + k)·width + i. The same loop as xentRows, reading and writing each row in
 * place with `width` floats between classes, so every number has the rows call's bits.
 */
export function xentRowsStrided(
  logits: usize, grad: usize, labels: usize, outers: i32, K: i32, width: i32,
  smoothing: f64, scale: f64, ignoreIndex: i32,
  weight: usize, weightSum: f64, zLoss: f64, softcap: f32, scratch: usize,
  losses: usize, lseOut: usize, sumIn: f64,
): f64 {
  return xentRowLoop(logits, grad, labels, outers * width, K, width, smoothing, scale, ignoreIndex, weight, weightSum, zLoss, softcap, scratch, losses, lseOut, sumIn, true);
}

/**
 * The row loop of xentRows (strided false: rows, width 1) and xentRowsStrided (strided true,
 * the scalar build only): `strided` is a constant where inlined, so the rows loop keeps its
 * contiguous primitives (rows.ts) and the strided one takes their …Strided forms, the same
 * bodies with a step of 4·width bytes between classes.
 */
// @ts-ignore: decorator
@inline function xentRowLoop(
  logits: usize, grad: usize, labels: usize, rows: i32, K: i32, width: i32,
  smoothing: f64, scale: f64, ignoreIndex: i32,
  weight: usize, weightSum: f64, zLoss: f64, softcap: f32, scratch: usize,
  losses: usize, lseOut: usize, sumIn: f64, strided: bool,
): f64 {
  let sum = sumIn;
  const eps = smoothing;
  const epsOverK = eps / <f64>K;
  const rowBytes = <usize>K << 2;
  const beta = <f32>(epsOverK * scale);
  // Bytes between a row's classes (4 for rows), and between outers.
  const step: usize = strided ? <usize>width << 2 : 4;
  const outerBytes = <usize>width * rowBytes;
  startRows();
  for (let r = 0; r < rows; r++) {
    // The row's first byte in logits and grad.
    const offset = nextRow(r, rowBytes, outerBytes, width, strided);
    const z0 = logits + offset;
    const g = grad ? grad + offset : 0;
    const y = load<i32>(labels + (<usize>r << 2));
    const ignored = y == ignoreIndex;
    if (ignored && !lseOut) {
      if (g) zeroRow(g, K, step, strided);
      if (losses) store<f32>(losses + (<usize>r << 2), 0);
      continue;
    }
    // Step 0: soft-capping writes the capped row to scratch (contiguous); everything after
    // reads it. zStep: bytes between the classes of z.
    let z = z0;
    const zStep: usize = strided && softcap == 0 ? step : 4;
    if (softcap != 0) {
      if (strided) rowSoftcapStrided(z0, scratch, K, softcap, step);
      else rowSoftcap(z0, scratch, K, softcap);
      z = scratch;
    }
    // Step 1: the max. A row that may be confident (every other logit more than
    // CONFIDENT_GAP below m) gets its S − 1 from the exact pass, before step 2 may write the
    // exps over the logits. The scalar build tests that after step 2 when step 2 leaves the
    // logits intact (rowMaxOnly), and m is finite.
    const wantGrad = g != 0 && !ignored;
    let late = !ASC_FEATURE_SIMD && !(wantGrad && g == z);
    const m = late ? maxOnlyOf(z, K, zStep, strided) : maxOf(z, K, zStep, strided);
    if (late && abs(m) == Infinity) {
      maxOf(z, K, zStep, strided);
      late = false;
    }
    let confident = !late && m - runnerUp > CONFIDENT_GAP;
    let exactSum = confident ? exactOf(z, K, m, zStep, strided) : 0;
    // z_y is read before step 2, which may write the exps over the logits.
    const zy: f64 = ignored ? 0 : <f64>load<f32>(z + <usize>y * zStep);
    // Step 2: exps (kept in the gradient buffer when it is wanted), S, and when ε > 0 the
    // (weighted) sum of the gaps z_k − m for the smoothing term.
    const smoothed = eps > 0 && !ignored;
    const e = wantGrad ? g : 0;
    // A confident row without the gradient (SIMD builds) needs step 2 for its gap sum alone.
    const fastSum = strided
      ? rowExpSumMinusOneStrided(z, zStep, e, step, K, m, smoothed, weight, late)
      : late
        ? rowExpSumMinusOneNear(z, e, K, m, smoothed, weight)
        : ASC_FEATURE_SIMD && confident && !e
          ? rowGapSum(z, K, m, smoothed, weight)
          : rowExpSumMinusOne(z, e, K, m, smoothed, weight);
    const gapSum = secondSum;
    if (late && !nearMax) {
      confident = true;
      exactSum = exactOf(z, K, m, zStep, strided);
    }
    const sMinusOne = confident ? exactSum : fastSum;
    const S = sMinusOne + 1;
    const logS = logOfSum(sMinusOne);
    const lse = <f64>m + logS;
    if (lseOut) store<f32>(lseOut + (<usize>r << 2), <f32>lse);
    if (ignored) {
      if (g) zeroRow(g, K, step, strided);
      if (losses) store<f32>(losses + (<usize>r << 2), 0);
      continue;
    }
    // Step 3: the row loss in f64, written with lse − z_k = log S + (m − z_k) so that every
    // term is ≥ 0 and nothing cancels:
    //   (1−ε)·w_y·(log S + m − z_y) + (ε/K)·(W·log S − Σ_k w_k·(z_k − m)) + zLoss·lse².
    const wy: f64 = weight ? <f64>load<f32>(weight + (<usize>y << 2)) : 1;
    let loss = (1 - eps) * wy * (logS + (<f64>m - zy));
    if (smoothed) loss += epsOverK * (weightSum * logS - gapSum);
    if (zLoss != 0) loss += zLoss * lse * lse;
    if (losses) store<f32>(losses + (<usize>r << 2), <f32>loss);
    // The sum adds the row loss as written out (f32), so that a thread pool summing the
    // rows' written losses in row order gets these bits (src/threads/sum.ts).
    sum += <f64><f32>loss;
    // Step 4: the gradient, g_k = e_k·(A/S)·scale − (ε/K)·w_k·scale, then the label's term.
    if (wantGrad) {
      const A = (1 - eps) * wy + epsOverK * weightSum + 2 * zLoss * lse;
      const alpha = <f32>(A / S * scale);
      if (strided) rowGradStrided(g, K, alpha, beta, eps > 0 ? weight : 0, softcap != 0 ? scratch : 0, softcap, step);
      else rowGrad(g, K, alpha, beta, eps > 0 ? weight : 0, softcap != 0 ? scratch : 0, softcap);
      const gy = g + <usize>y * step;
      let fix = <f32>((1 - eps) * wy * scale);
      if (softcap != 0) fix *= capFactor(load<f32>(scratch + (<usize>y << 2)), softcap);
      store<f32>(gy, load<f32>(gy) - fix);
    }
  }
  return sum;
}

// rows.ts's primitives for xentRowLoop: the contiguous forms for rows, the …Strided ones
// (the same bodies, `step` bytes between classes) for a class axis not last.
// @ts-ignore: decorator
@inline function exactOf(z: usize, K: i32, m: f32, step: usize, strided: bool): f64 {
  return strided ? rowExpSumMinusOneExactStrided(z, K, m, 1, step) : rowExpSumMinusOneExact(z, K, m, 1);
}

/** An ignored row's gradient: zeros. */
// @ts-ignore: decorator
@inline function zeroRow(g: usize, K: i32, step: usize, strided: bool): void {
  if (!strided) {
    memory.fill(g, 0, <usize>K << 2);
    return;
  }
  for (let k = 0; k < K; k++) store<f32>(g + <usize>k * step, 0);
}
