/**
 * The hand-written JS peer of `xent.evaluate`: what a competent JS developer writes to
 * evaluate a classifier over Float32Arrays — per row one loop for the max, argmax and the
 * label's rank, one loop for the softmax's exps (S, Σ e·x for the entropy, Σ e² for Brier),
 * then NLL, accuracy, top-5, mean confidence, Brier, entropy and 15 equal-width ECE bins;
 * no allocation per row, Math.exp / Math.log, typed arrays for the bins. It leaves out what
 * only the library gives (smoothed loss, ACE, states), so it does less work, not more.
 */
export function handwrittenEvaluate(logits, labels, rows, numClasses, bins = 15) {
  const K = numClasses;
  const binCount = new Float64Array(bins);
  const binConfidence = new Float64Array(bins);
  const binCorrect = new Float64Array(bins);
  let count = 0;
  let nll = 0;
  let correct = 0;
  let top5 = 0;
  let confidenceSum = 0;
  let brier = 0;
  let entropy = 0;
  for (let r = 0; r < rows; r++) {
    const y = labels[r];
    if (y === -100) continue;
    const base = r * K;
    const zy = logits[base + y];
    let m = -Infinity;
    let argmax = 0;
    let rank = 0;
    for (let k = 0; k < K; k++) {
      const v = logits[base + k];
      if (v > m) {
        m = v;
        argmax = k;
      }
      if (v > zy) rank++;
    }
    let S = 0;
    let ex = 0;
    let squares = 0;
    for (let k = 0; k < K; k++) {
      const x = logits[base + k] - m;
      const e = Math.exp(x);
      S += e;
      ex += e * x;
      squares += e * e;
    }
    const logS = Math.log(S);
    const confidence = 1 / S;
    const py = Math.exp(zy - m) / S;
    const right = argmax === y ? 1 : 0;
    count++;
    nll += logS - (zy - m);
    correct += right;
    if (rank < 5) top5++;
    confidenceSum += confidence;
    brier += squares / (S * S) - 2 * py + 1;
    entropy += logS - ex / S;
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(confidence * bins) - 1));
    binCount[b]++;
    binConfidence[b] += confidence;
    binCorrect[b] += right;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) ece += Math.abs(binCorrect[b] - binConfidence[b]) / count;
  return {
    count, nll: nll / count, accuracy: correct / count, top5: top5 / count, meanConfidence: confidenceSum / count,
    brier: brier / count, entropy: entropy / count, ece,
  };
}
