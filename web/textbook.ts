/**
 * The textbook implementation, as one writes it first: per row a softmax array, a smoothed
 * target array, then −Σ y·log p and the gradient (p − y)/N. Correct and stable (it subtracts the
 * max), but it allocates two arrays per row and walks each row four times — the baseline the
 * fused kernels are measured against.
 */
export function textbookCrossEntropy(
  logits: Float32Array,
  labels: Int32Array,
  numClasses: number,
  smoothing: number,
  grad: Float32Array,
): number {
  const rows = labels.length;
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const row = logits.subarray(i * numClasses, (i + 1) * numClasses);
    const max = row.reduce((m, z) => Math.max(m, z), -Infinity);
    const exps = row.map((z) => Math.exp(z - max));
    const sum = exps.reduce((s, e) => s + e, 0);
    const probs = exps.map((e) => e / sum);
    const target = new Float32Array(numClasses).fill(smoothing / numClasses);
    target[labels[i]] += 1 - smoothing;
    for (let k = 0; k < numClasses; k++) {
      total -= target[k] * Math.log(probs[k]);
      grad[i * numClasses + k] = (probs[k] - target[k]) / rows;
    }
  }
  return total / rows;
}
