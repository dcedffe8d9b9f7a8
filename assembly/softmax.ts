// Softmax of z/T per row, or its log, stable: with m = max z (NaN entries skipped) and
// x_k = (z_k − m)/T ≤ 0, S = Σ e^x = 1 + R' (R' summed over every entry but the first max,
// whose exp is exactly 1, as in stats.ts), p_k = e^{x_k}/S and log p_k = x_k − log1p(R'). Rows whose max is not finite
// give NaN, as the float64 formulas do. `out` may be `logits` (in place): each pass reads a
// row's logits before it writes over them.

import { expMinus, expMinus4k, expConstant } from './exp';
import { logOfSum } from './rows';
import { maxAndRank, firstOf, expStats, restOf } from './stats';

// @ts-ignore: decorator
@inline function at(ptr: usize, k: i32): usize {
  return ptr + (<usize>k << 2);
}

/**
 * e_k = exp(x_k) into out for k in from…to; returns their sum (f32 lanes folded into f64
 * every 64 elements, 16 terms per lane, as stats.ts does for R).
 */
// @ts-ignore: decorator
@inline function expStore(z: usize, out: usize, from: i32, to: i32, m: f32, invT: f32, scaled: bool): f64 {
  let R: f64 = 0;
  let k = from;
  if (ASC_FEATURE_SIMD) {
    const mv = f32x4.splat(m);
    const iv = f32x4.splat(invT);
    const E0 = expConstant(0), E1 = expConstant(1), E2 = expConstant(2), E3 = expConstant(3), E4 = expConstant(4);
    const E5 = expConstant(5), E6 = expConstant(6), E7 = expConstant(7), E8 = expConstant(8), E9 = expConstant(9);
    while (k + 4 <= to) {
      const end = min(to, k + 64);
      let rv = f32x4.splat(0);
      for (; k + 4 <= end; k += 4) {
        let x = f32x4.sub(v128.load(at(z, k)), mv);
        if (scaled) x = f32x4.mul(x, iv);
        const e = expMinus4k(x, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
        rv = f32x4.add(rv, e);
        v128.store(at(out, k), e);
      }
      const pair = f64x2.add(f64x2.promote_low_f32x4(rv), f64x2.promote_low_f32x4(i32x4.shuffle(rv, rv, 2, 3, 2, 3)));
      R += f64x2.extract_lane(pair, 0) + f64x2.extract_lane(pair, 1);
    }
  }
  for (; k < to; k++) {
    let x = load<f32>(at(z, k)) - m;
    if (scaled) x *= invT;
    const e = expMinus(x);
    store<f32>(at(out, k), e);
    R += <f64>e;
  }
  return R;
}

/** out ← out·c (f32), in place. */
// @ts-ignore: decorator
@inline function scaleRow(out: usize, K: i32, c: f32): void {
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    const cv = f32x4.splat(c);
    for (; k + 4 <= K; k += 4) v128.store(at(out, k), f32x4.mul(v128.load(at(out, k)), cv));
  }
  for (; k < K; k++) store<f32>(at(out, k), load<f32>(at(out, k)) * c);
}

/** out ← (z − m)·invT − logS (f32). */
// @ts-ignore: decorator
@inline function logRow(z: usize, out: usize, K: i32, m: f32, invT: f32, logS: f32, scaled: bool): void {
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    const mv = f32x4.splat(m);
    const iv = f32x4.splat(invT);
    const lv = f32x4.splat(logS);
    for (; k + 4 <= K; k += 4) {
      let x = f32x4.sub(v128.load(at(z, k)), mv);
      if (scaled) x = f32x4.mul(x, iv);
      v128.store(at(out, k), f32x4.sub(x, lv));
    }
  }
  for (; k < K; k++) {
    let x = load<f32>(at(z, k)) - m;
    if (scaled) x *= invT;
    store<f32>(at(out, k), x - logS);
  }
}

export function softmaxRows(logits: usize, out: usize, rows: i32, K: i32, invT: f64, log: bool): void {
  if (invT != 1) softmaxLoop(logits, out, rows, K, invT, log, true);
  else softmaxLoop(logits, out, rows, K, invT, log, false);
}

// @ts-ignore: decorator
@inline function softmaxLoop(logits: usize, out: usize, rows: i32, K: i32, invT: f64, log: bool, scaled: bool): void {
  const rowBytes = <usize>K << 2;
  const invT32 = <f32>invT;
  for (let r = 0; r < rows; r++) {
    const z = logits + <usize>r * rowBytes;
    const o = out + <usize>r * rowBytes;
    const m = maxAndRank(z, K, 0, false);
    const first = firstOf(z, K, m);
    if (log) {
      const rest = restOf(expStats(z, K, m, first, invT32, scaled, false, false, false), m);
      logRow(z, o, K, m, invT32, <f32>logOfSum(rest), scaled);
    } else {
      // The exps around the max (each row's z is read before its e is written over it).
      const split = first < 0 ? K : first;
      let R = expStore(z, o, 0, split, m, invT32, scaled);
      if (split < K) {
        R += expStore(z, o, split + 1, K, m, invT32, scaled);
        store<f32>(at(o, split), 1);
      }
      scaleRow(o, K, <f32>(1 / (1 + restOf(R, m))));
    }
  }
}
