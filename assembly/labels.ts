// Input checks in one pass, before any kernel runs: every label must be a class index in
// [0, K) or ignoreIndex, and the mean's denominator is the number of rows not ignored (or
// their total class weight); every soft target must be ≥ 0. In JS these loops cost ~1.3–3 ns
// per value (20 % of a whole 8192×10 loss); here they are a few vector instructions per
// four values.

/**
 * Scans n int32 labels at ptr. Returns the number of labels ≠ ignore when every label is in
 * [0, K) or equals ignore; otherwise −1 − i for the first bad index i.
 */
export function labelScan(ptr: usize, n: i32, K: i32, ignore: i32): i32 {
  let counted = 0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const kv = i32x4.splat(K);
    const iv = i32x4.splat(ignore);
    let live = i32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const y = v128.load(ptr + (<usize>i << 2));
      const kept = v128.not(i32x4.eq(y, iv));
      // y ≥ K as unsigned catches y < 0 too.
      if (v128.any_true(v128.and(kept, v128.not(i32x4.lt_u(y, kv))))) break;
      live = i32x4.sub(live, kept);
    }
    counted = i32x4.extract_lane(live, 0) + i32x4.extract_lane(live, 1)
      + i32x4.extract_lane(live, 2) + i32x4.extract_lane(live, 3);
  }
  for (; i < n; i++) {
    const y = load<i32>(ptr + (<usize>i << 2));
    if (y == ignore) continue;
    if (<u32>y >= <u32>K) return -1 - i;
    counted++;
  }
  return counted;
}

/**
 * sumIn + Σ weight[y] in f64, in row order, over the n labels ≠ ignore (all already
 * checked): the same additions in the same order as the JS counter, so the same bits.
 */
export function labelWeightSum(ptr: usize, n: i32, weight: usize, ignore: i32, sumIn: f64): f64 {
  let sum = sumIn;
  for (let i = 0; i < n; i++) {
    const y = load<i32>(ptr + (<usize>i << 2));
    if (y != ignore) sum += <f64>load<f32>(weight + (<usize>y << 2));
  }
  return sum;
}

/**
 * Soft targets are probabilities: returns −1 when every one of the n floats at ptr is ≥ 0
 * (NaN is not), else the first index that is not.
 */
export function firstBadTarget(ptr: usize, n: i32): i32 {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0);
    for (; i + 8 <= n; i += 8) {
      const at = ptr + (<usize>i << 2);
      if (!i32x4.all_true(v128.and(f32x4.ge(v128.load(at), zero), f32x4.ge(v128.load(at, 16), zero)))) break;
    }
  }
  for (; i < n; i++) {
    if (!(load<f32>(ptr + (<usize>i << 2)) >= 0)) return i;
  }
  return -1;
}
