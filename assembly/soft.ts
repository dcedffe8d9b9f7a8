// Softmax cross-entropy against probability targets (teacher outputs for knowledge
// distillation, mixup, one-hot), with smoothing, class weights and temperature.
//
// Shapes: logits[rows·K], targets[rows·K], grad[rows·K] (may equal logits), weight[K]
// (optional), losses[rows] and lse[rows] (optional outputs), all f32.
//
// Per row, with t'_k = (1−ε)·t_k + ε/K, u_k = w_k·t'_k (w ≡ 1 when absent), T the temperature:
//   m      = max_k z_k;  B = Σ_k u_k;  C = Σ_k u_k·z_k, where a term with u_k = 0 is 0
//            even against a −∞ logit                                          (pass 1)
//   S      = Σ_k exp((z_k − m)/T),  lse = m/T + log S     (the lse of z/T)     (pass 2)
//   loss   = −Σ_k u_k·log softmax(z/T)_k = B·lse − C/T
//   ∂/∂z_k = (B·p_k − u_k)/T                                                   (pass 3)
// The gradient is with respect to the logits as given (the 1/T of the chain rule is in).

import { rowExpSum } from './rows';
import { madd } from './exp';

// @ts-ignore: decorator
@inline const BLOCK: i32 = 256;

let sumC: f64 = 0;
let sumB: f64 = 0;

// @ts-ignore: decorator
@inline function at(ptr: usize, k: i32): usize {
  return ptr + (<usize>k << 2);
}

// @ts-ignore: decorator
@inline function lanes(v: v128): f64 {
  return <f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1) +
    <f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3);
}

/** Pass 1: returns m; B and C into sumB, sumC. */
function rowTargetSums(z: usize, t: usize, w: usize, K: i32, keep: f32, spread: f32): f32 {
  let m: f32 = -Infinity;
  let b: f64 = 0;
  let c: f64 = 0;
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    let mv = f32x4.splat(-Infinity);
    const kv = f32x4.splat(keep);
    const sv = f32x4.splat(spread);
    const zero = f32x4.splat(0);
    while (k + 4 <= K) {
      const end = min(K & ~3, k + BLOCK);
      let bv = zero;
      let cv = zero;
      for (; k < end; k += 4) {
        const v = v128.load(at(z, k));
        mv = f32x4.pmax(mv, v);
        let u = madd(v128.load(at(t, k)), kv, sv);
        if (w) u = f32x4.mul(u, v128.load(at(w, k)));
        bv = f32x4.add(bv, u);
        // u·z where u ≠ 0, else 0 (0·−∞ would be NaN).
        cv = f32x4.add(cv, v128.and(f32x4.mul(u, v), f32x4.ne(u, zero)));
      }
      b += lanes(bv);
      c += lanes(cv);
    }
    const a = f32x4.pmax(mv, i32x4.shuffle(mv, mv, 2, 3, 0, 1));
    m = f32x4.extract_lane(f32x4.pmax(a, i32x4.shuffle(a, a, 1, 0, 3, 2)), 0);
  }
  for (; k < K; k++) {
    const v = load<f32>(at(z, k));
    m = v > m ? v : m;
    let u = load<f32>(at(t, k)) * keep + spread;
    if (w) u *= load<f32>(at(w, k));
    b += <f64>u;
    if (u != 0) c += <f64>(u * v);
  }
  sumB = b;
  sumC = c;
  return m;
}

/** Pass 3: g_k ← e_k·alpha − u_k·beta. */
function rowSoftGrad(g: usize, t: usize, w: usize, K: i32, keep: f32, spread: f32, alpha: f32, beta: f32): void {
  let k = 0;
  if (ASC_FEATURE_SIMD) {
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
    let u = load<f32>(at(t, k)) * keep + spread;
    if (w) u *= load<f32>(at(w, k));
    store<f32>(at(g, k), load<f32>(at(g, k)) * alpha + u * (-beta));
  }
}

export function softRows(
  logits: usize, targets: usize, grad: usize, rows: i32, K: i32,
  smoothing: f32, scale: f32, weight: usize, temperature: f32,
  losses: usize, lseOut: usize, sumIn: f64,
): f64 {
  let sum = sumIn;
  const eps = <f64>smoothing;
  const keep = <f32>(1 - eps);
  const spread = <f32>(eps / <f64>K);
  const invT = <f64>1 / <f64>temperature;
  const rowBytes = <usize>K << 2;
  const beta = <f32>(<f64>scale * invT);
  for (let r = 0; r < rows; r++) {
    const z = logits + <usize>r * rowBytes;
    const t = targets + <usize>r * rowBytes;
    const g = grad ? grad + <usize>r * rowBytes : 0;
    // Pass 1 reads z before pass 2 overwrites it (grad may alias logits).
    const m = rowTargetSums(z, t, weight, K, keep, spread);
    const B = sumB;
    const C = sumC;
    const S = rowExpSum(z, g, K, m, <f32>invT);
    const lse = <f64>m * invT + Math.log(S);
    if (lseOut) store<f32>(lseOut + (<usize>r << 2), <f32>lse);
    const loss = B * lse - C * invT;
    if (losses) store<f32>(losses + (<usize>r << 2), <f32>loss);
    sum += loss;
    if (g) rowSoftGrad(g, t, weight, K, keep, spread, <f32>(B / S * <f64>scale * invT), beta);
  }
  return sum;
}
