/**
 * Deterministic benchmark inputs: every method of one shape sees the same logits and labels.
 */

/** mulberry32: a small seeded PRNG, so runs (and machines) get identical inputs. */
export function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Logits ~ roughly normal with standard deviation 2 (sum of three uniforms), the range a
 * classifier's logits usually have; labels uniform in [0, numClasses).
 */
export function makeInputs(rows, numClasses, seed = 12345) {
  const random = mulberry32(seed ^ Math.imul(rows, 31) ^ Math.imul(numClasses, 131));
  const logits = new Float32Array(rows * numClasses);
  for (let i = 0; i < logits.length; i++) {
    logits[i] = (random() + random() + random() - 1.5) * 4;
  }
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) labels[i] = Math.floor(random() * numClasses);
  return { logits, labels };
}

/** "4096x1000" → { rows: 4096, numClasses: 1000, id: '4096x1000', label: '4096×1000' }. */
export function parseShape(text) {
  const match = /^\s*(\d+)\s*[x×]\s*(\d+)\s*$/.exec(text);
  if (!match) throw new Error(`--shapes: expected ROWSxCLASSES (e.g. 4096x1000), got ${JSON.stringify(text)}`);
  const rows = Number(match[1]);
  const numClasses = Number(match[2]);
  if (rows < 1 || numClasses < 1) throw new Error(`--shapes: rows and classes must be ≥ 1, got ${text}`);
  return { rows, numClasses, id: `${rows}x${numClasses}`, label: `${rows}×${numClasses}` };
}
