// Adaptive calibration error (ACE): ECE over equal-mass bins. The evaluator keeps one key per
// counted row — the confidence's f32 bits, bit 31 set when the prediction was right — and
// here they are sorted by confidence, stable in row order (an LSD radix sort: four counting
// passes of 8, 8, 8 and 7 bits, each stable), then bin b of B takes sorted rows
// [⌊bN/B⌋, ⌊(b+1)N/B⌋):  ace = Σ_b |correct_b − Σ confidence_b| / N.
// As a JS loop the sort cost as much as the whole evaluation of 8192×10 logits.

/**
 * ACE of the n keys at `keys` (sorted in place; `scratch` holds n more u32 and 1 KiB of
 * counts after them).
 */
export function aceOfKeys(keys: usize, n: i32, bins: i32, scratch: usize): f64 {
  if (n == 0) return 0;
  let from = keys;
  let to = scratch;
  const counts = scratch + (<usize>n << 2);
  for (let shift = 0; shift < 31; shift += 8) {
    const mask: u32 = shift == 24 ? 0x7F : 0xFF;
    memory.fill(counts, 0, 1024);
    for (let i = 0; i < n; i++) {
      const d = (load<u32>(from + (<usize>i << 2)) >>> shift) & mask;
      const c = counts + (<usize>d << 2);
      store<i32>(c, load<i32>(c) + 1);
    }
    let total = 0;
    for (let d = 0; d < 256; d++) {
      const c = counts + (<usize>d << 2);
      const count = load<i32>(c);
      store<i32>(c, total);
      total += count;
    }
    for (let i = 0; i < n; i++) {
      const key = load<u32>(from + (<usize>i << 2));
      const c = counts + (<usize>((key >>> shift) & mask) << 2);
      const at = load<i32>(c);
      store<i32>(c, at + 1);
      store<u32>(to + (<usize>at << 2), key);
    }
    const swap = from;
    from = to;
    to = swap;
  }
  // Four passes: the sorted keys are back at `keys`.
  let ace: f64 = 0;
  const N = <f64>n;
  for (let b = 0; b < bins; b++) {
    const start = <i32>Math.floor(<f64>b * N / <f64>bins);
    const end = <i32>Math.floor(<f64>(b + 1) * N / <f64>bins);
    let confidence: f64 = 0;
    let correct: f64 = 0;
    for (let i = start; i < end; i++) {
      const key = load<u32>(from + (<usize>i << 2));
      confidence += <f64>reinterpret<f32>(key & 0x7FFFFFFF);
      correct += <f64>(key >>> 31);
    }
    ace += Math.abs(correct - confidence) / N;
  }
  return ace;
}
