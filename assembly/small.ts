// Small K (SIMD builds): four rows per vector instead of four classes per vector.
//
// With K = 10 a row is two and a half vectors, so the per-row work (reductions across
// lanes, a log, the label fix-up) would cost as much as the exps. Here lane j of every
// vector belongs to row r+j: column k of four rows is gathered into one vector and kept
// transposed in scratch (K vectors), so max, sums, exps and the gradient are plain
// lane-wise operations and each row's numbers never depend on which lane or group it
// landed in (a short last group repeats its last row in the spare lanes). The math is
// that of xent.ts, step for step; softcap takes the row-wise kernel.

import { expMinus4, madd } from './exp';

// @ts-ignore: decorator
@inline export const SMALL_K: i32 = 32;

// @ts-ignore: decorator
@inline function lane(v: v128, j: i32): f32 {
  // extract_lane needs a constant index.
  switch (j) {
    case 0: return f32x4.extract_lane(v, 0);
    case 1: return f32x4.extract_lane(v, 1);
    case 2: return f32x4.extract_lane(v, 2);
    default: return f32x4.extract_lane(v, 3);
  }
}

export function xentSmall(
  logits: usize, grad: usize, labels: usize, rows: i32, K: i32,
  smoothing: f64, scale: f64, ignoreIndex: i32,
  weight: usize, weightSum: f64, zLoss: f64,
  scratch: usize, losses: usize, lseOut: usize, sumIn: f64,
): f64 {
  let sum = sumIn;
  const eps = smoothing;
  const epsOverK = eps / <f64>K;
  const rowBytes = <usize>K << 2;
  const beta = <f32>(epsOverK * scale);
  const smoothed = eps > 0;
  for (let r = 0; r < rows; r += 4) {
    const last = min(rows - 1, r + 3);
    // Row pointers of the four lanes (spare lanes repeat the last row).
    const p0 = logits + <usize>r * rowBytes;
    const p1 = logits + <usize>min(r + 1, last) * rowBytes;
    const p2 = logits + <usize>min(r + 2, last) * rowBytes;
    const p3 = logits + <usize>last * rowBytes;
    // Pass 1: gather columns into scratch, lane-wise max.
    let mv = f32x4.splat(-Infinity);
    for (let k = 0; k < K; k++) {
      const o = <usize>k << 2;
      let v = f32x4.splat(load<f32>(p0 + o));
      v = f32x4.replace_lane(v, 1, load<f32>(p1 + o));
      v = f32x4.replace_lane(v, 2, load<f32>(p2 + o));
      v = f32x4.replace_lane(v, 3, load<f32>(p3 + o));
      v128.store(scratch + (<usize>k << 4), v);
      mv = f32x4.pmax(mv, v);
    }
    // Pass 2: exps in place in scratch, lane-wise sums of the exps and (when ε > 0) of the
    // (weighted) gaps z_k − m, which are ≤ 0 and so sum without cancellation.
    let ev = f32x4.splat(0);
    let sv = f32x4.splat(0);
    for (let k = 0; k < K; k++) {
      const at = scratch + (<usize>k << 4);
      const x = f32x4.sub(v128.load(at), mv);
      const e = expMinus4(x);
      v128.store(at, e);
      ev = f32x4.add(ev, e);
      if (smoothed) sv = weight ? madd(x, f32x4.splat(load<f32>(weight + (<usize>k << 2))), sv) : f32x4.add(sv, x);
    }
    // Per row: lse, loss, and the gradient's alpha and label term.
    let alphas = f32x4.splat(0);
    let fixes = f32x4.splat(0);
    let live = i32x4.splat(0);
    const count = last - r + 1;
    for (let j = 0; j < count; j++) {
      const row = r + j;
      const y = load<i32>(labels + (<usize>row << 2));
      const m = <f64>lane(mv, j);
      const S = <f64>lane(ev, j);
      const logS = Math.log(S);
      const lse = m + logS;
      if (lseOut) store<f32>(lseOut + (<usize>row << 2), <f32>lse);
      if (y == ignoreIndex) {
        if (losses) store<f32>(losses + (<usize>row << 2), 0);
        continue;
      }
      const zy = <f64>load<f32>(logits + <usize>row * rowBytes + (<usize>y << 2));
      const wy: f64 = weight ? <f64>load<f32>(weight + (<usize>y << 2)) : 1;
      let loss = (1 - eps) * wy * (logS + (m - zy));
      if (smoothed) loss += epsOverK * (weightSum * logS - <f64>lane(sv, j));
      if (zLoss != 0) loss += zLoss * lse * lse;
      if (losses) store<f32>(losses + (<usize>row << 2), <f32>loss);
      sum += loss;
      const A = (1 - eps) * wy + epsOverK * weightSum + 2 * zLoss * lse;
      const alpha = <f32>(A / S * scale);
      const fix = <f32>((1 - eps) * wy * scale);
      switch (j) {
        case 0: { alphas = f32x4.replace_lane(alphas, 0, alpha); fixes = f32x4.replace_lane(fixes, 0, fix); live = i32x4.replace_lane(live, 0, y); break; }
        case 1: { alphas = f32x4.replace_lane(alphas, 1, alpha); fixes = f32x4.replace_lane(fixes, 1, fix); live = i32x4.replace_lane(live, 1, y); break; }
        case 2: { alphas = f32x4.replace_lane(alphas, 2, alpha); fixes = f32x4.replace_lane(fixes, 2, fix); live = i32x4.replace_lane(live, 2, y); break; }
        default: { alphas = f32x4.replace_lane(alphas, 3, alpha); fixes = f32x4.replace_lane(fixes, 3, fix); live = i32x4.replace_lane(live, 3, y); break; }
      }
    }
    if (!grad) continue;
    // Pass 3: g = e·alpha − beta·w_k − fix·[k = y], lane-wise, scattered back to the rows.
    // Ignored rows have alpha = 0 and fix = 0, but beta·w_k ≠ 0: they are zeroed below.
    const q0 = grad + <usize>r * rowBytes;
    const q1 = grad + <usize>min(r + 1, last) * rowBytes;
    const q2 = grad + <usize>min(r + 2, last) * rowBytes;
    const q3 = grad + <usize>last * rowBytes;
    const bv = f32x4.splat(-beta);
    for (let k = 0; k < K; k++) {
      const o = <usize>k << 2;
      const e = v128.load(scratch + (<usize>k << 4));
      const b = weight && smoothed ? f32x4.mul(bv, f32x4.splat(load<f32>(weight + o))) : bv;
      let g = madd(e, alphas, b);
      g = f32x4.sub(g, v128.and(fixes, i32x4.eq(live, i32x4.splat(k))));
      // Spare lanes alias the last row with dummy values: lane 3 is stored first, so the
      // real lane of that row, stored after it, wins.
      store<f32>(q3 + o, f32x4.extract_lane(g, 3));
      store<f32>(q2 + o, f32x4.extract_lane(g, 2));
      store<f32>(q1 + o, f32x4.extract_lane(g, 1));
      store<f32>(q0 + o, f32x4.extract_lane(g, 0));
    }
    for (let j = 0; j < count; j++) {
      const row = r + j;
      if (load<i32>(labels + (<usize>row << 2)) == ignoreIndex) memory.fill(grad + <usize>row * rowBytes, 0, rowBytes);
    }
  }
  return sum;
}
