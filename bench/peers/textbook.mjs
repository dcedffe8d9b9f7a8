/**
 * The textbook JS peer: label-smoothed softmax cross-entropy written the way a newcomer
 * writes it from the formulas, one step at a time, allocating per row:
 *   p = softmax(z);  y = (1−ε)·onehot + ε/K;  loss = −Σ y·log p;  grad = (p − y) / N.
 * Float32Array in, plain loops and arrays, Math.exp / Math.log. Reduction 'mean'.
 */

export function textbookCrossEntropy(logits, labels, rows, numClasses, smoothing, wantGrad) {
  const grad = wantGrad ? new Float32Array(rows * numClasses) : undefined;
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const row = logits.subarray(i * numClasses, (i + 1) * numClasses);

    // softmax, shifted by the max for stability
    let max = -Infinity;
    for (let k = 0; k < numClasses; k++) if (row[k] > max) max = row[k];
    const exps = [];
    let sum = 0;
    for (let k = 0; k < numClasses; k++) {
      const e = Math.exp(row[k] - max);
      exps.push(e);
      sum += e;
    }
    const probs = exps.map((e) => e / sum);

    // smoothed one-hot target
    const target = new Array(numClasses).fill(smoothing / numClasses);
    target[labels[i]] += 1 - smoothing;

    // cross-entropy −Σ y·log p
    let rowLoss = 0;
    for (let k = 0; k < numClasses; k++) rowLoss -= target[k] * Math.log(probs[k]);
    total += rowLoss;

    // gradient of the mean loss: (p − y) / N
    if (grad) {
      for (let k = 0; k < numClasses; k++) grad[i * numClasses + k] = (probs[k] - target[k]) / rows;
    }
  }
  return { loss: total / rows, grad };
}

/** Bench method: see run.mjs for the method contract. */
export const textbookMethod = {
  id: 'textbook-js',
  label: 'textbook JS (per-row arrays, Math.exp)',
  async prepare({ logits, labels, rows, numClasses, smoothing, grad }) {
    const call = () => textbookCrossEntropy(logits, labels, rows, numClasses, smoothing, grad);
    return { call, evaluate: call, dispose() {} };
  },
};
