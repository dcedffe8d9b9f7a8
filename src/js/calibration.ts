/**
 * ACE (ECE over equal-mass bins) for the JS fallback: assembly/calibration.ts's spec — the
 * keys sorted by confidence, stable in row order, bin b of B holding sorted rows
 * [⌊bN/B⌋, ⌊(b+1)N/B⌋), ace = Σ_b |correct_b − Σ confidence_b| / N.
 */

/**
 * The keys sorted by confidence (their low 31 bits), stable: an LSD radix sort, four passes
 * of 8, 8, 8 and 7 bits, each stable, so rows of equal confidence keep their row order.
 * Linear in N, where a comparison sort of a million rows would dominate result().
 */
function sortKeys(keys: Uint32Array): Uint32Array {
  let from = keys.slice();
  let to = new Uint32Array(keys.length);
  const counts = new Int32Array(256);
  for (let shift = 0; shift < 31; shift += 8) {
    const mask = shift === 24 ? 0x7f : 0xff;
    counts.fill(0);
    for (let i = 0; i < from.length; i++) counts[(from[i] >>> shift) & mask]++;
    let total = 0;
    for (let d = 0; d < 256; d++) {
      const c = counts[d];
      counts[d] = total;
      total += c;
    }
    for (let i = 0; i < from.length; i++) to[counts[(from[i] >>> shift) & mask]++] = from[i];
    [from, to] = [to, from];
  }
  return from;
}

/** Backend.ace: ACE over B equal-mass bins of the keys (in row order; not modified). */
export function ace(keys: Uint32Array, bins: number): number {
  const N = keys.length;
  if (N === 0) return 0;
  const sorted = sortKeys(keys);
  // The right flags out of bit 31, then the keys are the confidences' float32 bits.
  const right = new Uint8Array(N);
  for (let i = 0; i < N; i++) {
    right[i] = sorted[i] >>> 31;
    sorted[i] &= 0x7fffffff;
  }
  const confidence = new Float32Array(sorted.buffer, sorted.byteOffset, N);
  let ace = 0;
  for (let b = 0; b < bins; b++) {
    const start = Math.floor((b * N) / bins);
    const end = Math.floor(((b + 1) * N) / bins);
    let sum = 0;
    let correct = 0;
    for (let i = start; i < end; i++) {
      sum += confidence[i];
      correct += right[i];
    }
    ace += Math.abs(correct - sum) / N;
  }
  return ace;
}
