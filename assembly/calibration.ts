// Adaptive calibration error (ACE): ECE over equal-mass bins. The evaluator keeps one key per
// counted row — the confidence's f32 bits, bit 31 set when the prediction was right — and
// here they are sorted by confidence, stable in row order (an LSD radix sort: three counting
// passes of 11, 10 and 10 bits, each stable), then bin b of B takes sorted rows
// [⌊bN/B⌋, ⌊(b+1)N/B⌋):  ace = Σ_b |correct_b − Σ confidence_b| / N.
// As a JS loop the sort cost as much as the whole evaluation of 8192×10 logits.

/**
 * ACE of the n keys at `keys` (sorted in place; `scratch` holds n more u32 and 8 KiB of
 * counts after them).
 */
export function aceOfKeys(keys: usize, n: i32, bins: i32, scratch: usize): f64 {
  if (n == 0) return 0;
  let from = keys;
  let to = scratch;
  const counts = scratch + (<usize>n << 2);
  // Three passes of 11, 10 and 10 bits (31 bits of confidence): a quarter fewer scatters
  // than four byte-wide passes, and 2048 counts still sit in L1.
  for (let pass = 0; pass < 3; pass++) {
    const shift: u32 = pass == 0 ? 0 : pass == 1 ? 11 : 21;
    const mask: u32 = pass == 0 ? 0x7FF : 0x3FF;
    const digits = <i32>mask + 1;
    memory.fill(counts, 0, <usize>digits << 2);
    for (let i = 0; i < n; i++) {
      const c = counts + (<usize>((load<u32>(from + (<usize>i << 2)) >>> shift) & mask) << 2);
      store<i32>(c, load<i32>(c) + 1);
    }
    let total = 0;
    for (let d = 0; d < digits; d++) {
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
  // After three passes the sorted keys are in `from` (the scratch).
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
