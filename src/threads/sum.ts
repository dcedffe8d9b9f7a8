/**
 * The sum of a call's row losses from the per-row losses its chunks wrote out, in row order,
 * adding exactly what the kernel adds (its `sum` is the f64 sum of the f32 row losses it
 * writes): one by one, or — for the SIMD small-K kernels (sumsInGroups in the bridge) — per
 * group of four rows as (l0 + l2) + (l1 + l3), the last short group one by one. Chunks start
 * on multiples of four rows, so groups fall on the same rows whichever worker ran them: the
 * result has the bits of one thread's call, for any number of threads.
 */
export function rowLossSum(losses: Float32Array, rows: number, inGroups: boolean, at = 0): number {
  let sum = 0;
  let r = 0;
  if (inGroups) {
    for (; r + 4 <= rows; r += 4) {
      const i = at + r;
      sum += (losses[i] + losses[i + 2]) + (losses[i + 1] + losses[i + 3]);
    }
  }
  for (; r < rows; r++) sum += losses[at + r];
  return sum;
}
