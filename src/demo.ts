/**
 * `npm start`: the blog's worked example of label smoothing, first from the seed's float64
 * helpers, then computed by every backend through the library, side by side; then the seed's
 * questions 4 and 5 answered with numbers (demo-questions.ts).
 *
 * Exits with code 1 if an available backend disagrees with float64 by more than 1e-6.
 */
import { fixed, section, signed, table, vector } from './demo-format.js';
import { showQuestions } from './demo-questions.js';
import { createXent } from './index.js';
import { crossEntropyFromProbs, explain, klDivergence, labelSmooth, optimalLogitGap } from './seed.js';
import { BACKENDS, type Xent } from './types.js';

const CLASS_NAMES = ['sunny', 'cloudy', 'rainy', 'snowy'] as const;
const ANCHOR_PROBS = [0.1, 0.2, 0.6, 0.1];
const CONFIDENT_PROBS = [0.02, 0.01, 0.95, 0.02];
const LABEL = 2;
const SMOOTHING = 0.1;
const EPSILONS = [0, 0.1, 0.2, 0.3];
const K = CLASS_NAMES.length;
/** Float32 logits and a vector expf: agreeing with float64 to 1e-6 is what "exact to float32" means here. */
const TOLERANCE = 1e-6;

// ---------------------------------------------------------------------------------------------
// Part 1: the seed, in float64.

function showSeed(): void {
  const anchor = explain(ANCHOR_PROBS, LABEL, { smoothing: SMOOTHING, classNames: CLASS_NAMES });
  const hard = explain(ANCHOR_PROBS, LABEL, { smoothing: 0, classNames: CLASS_NAMES });

  console.log('smoothxent: label-smoothed softmax cross-entropy, the worked example');
  console.log(`p = ${vector(ANCHOR_PROBS)} over ${CLASS_NAMES.join(', ')}; true class ${LABEL} (${CLASS_NAMES[LABEL]}); K = ${K}`);
  console.log(`smoothed target y_k = (1 − ε)·[k = y] + ε/K; with ε = ${SMOOTHING}: ${vector(labelSmooth(LABEL, SMOOTHING, K))}`);

  section(`1. Trace of the smoothed loss (ε = ${SMOOTHING})`);
  const traceRows = anchor.rows.map((row) => [row.className, String(row.yHard), fixed(row.ySmooth), fixed(row.logP), fixed(row.term)]);
  const total = (pick: (row: (typeof anchor.rows)[number]) => number) => anchor.rows.reduce((sum, row) => sum + pick(row), 0);
  traceRows.push(['sum', String(total((row) => row.yHard)), fixed(total((row) => row.ySmooth)), '', fixed(total((row) => row.term))]);
  console.log(table(['class', 'y_hard', 'y_smooth', 'log p', 'y_smooth·log p'], traceRows));
  console.log(`  smoothed CE = −Σ y_smooth·log p = ${fixed(anchor.smoothCE)}`);

  section('2. Hard vs smoothed cross-entropy');
  console.log(
    table(
      ['loss', 'value'],
      [
        ['hard CE = −log p_rainy', fixed(anchor.hardCE)],
        [`smoothed CE (ε = ${SMOOTHING})`, fixed(anchor.smoothCE)],
        ['numpy style, −Σ y·log(p + 1e-10)', fixed(crossEntropyFromProbs(labelSmooth(LABEL, SMOOTHING, K), ANCHOR_PROBS))],
      ],
    ),
  );

  section('3. The ε table');
  const epsilonRows = EPSILONS.map((epsilon) => {
    const row = explain(ANCHOR_PROBS, LABEL, { smoothing: epsilon });
    return [
      epsilon.toFixed(1),
      fixed(row.rows[LABEL].ySmooth),
      fixed(row.rows[0].ySmooth),
      fixed(row.smoothCE),
      signed(row.gradSmooth[LABEL]),
      fixed(row.optimalGap),
    ];
  });
  console.log(table(['ε', 'y_true', 'y_other', 'smoothed CE', 'grad at true class', 'optimal gap'], epsilonRows));

  section('4. Gradient ∂L/∂z_k = p_k − y_k at every class');
  const gradientRows = anchor.rows.map((row, k) => [row.className, fixed(anchor.probs[k]), signed(hard.gradHard[k]), signed(anchor.gradSmooth[k])]);
  console.log(table(['class', 'p', 'hard', `ε = ${SMOOTHING}`], gradientRows));

  section(`5. A confident, correct prediction: p = ${vector(CONFIDENT_PROBS)}, true class ${LABEL}`);
  const confident = explain(CONFIDENT_PROBS, LABEL, { smoothing: SMOOTHING, classNames: CLASS_NAMES });
  const confidentRows = confident.rows.map((row, k) => [row.className, fixed(confident.probs[k]), signed(confident.gradHard[k]), signed(confident.gradSmooth[k])]);
  console.log(table(['class', 'p', 'hard', `ε = ${SMOOTHING}`], confidentRows));
  console.log(
    `  hard CE still pulls the true logit up (${signed(confident.gradHard[LABEL])}); smoothing pushes it back down ` +
      `(${signed(confident.gradSmooth[LABEL])}) since p = ${fixed(confident.probs[LABEL])} > y = ${fixed(confident.rows[LABEL].ySmooth)}`,
  );

  section('6. Identity: L_ε = (1 − ε)·CE(onehot, p) + ε·CE(u, p), with CE(u, p) = KL(u‖p) + log K');
  const uniform = new Float64Array(K).fill(1 / K);
  const kl = klDivergence(uniform, ANCHOR_PROBS);
  const mixture = (1 - SMOOTHING) * anchor.hardCE + SMOOTHING * (kl + Math.log(K));
  console.log(
    table(
      ['term', 'value'],
      [
        [`L_ε (ε = ${SMOOTHING})`, fixed(anchor.smoothCE)],
        ['(1 − ε)·CE(onehot, p)', fixed((1 - SMOOTHING) * anchor.hardCE)],
        [`KL(u‖p) + log K = ${fixed(kl)} + ${fixed(Math.log(K))}`, fixed(kl + Math.log(K))],
        ['ε·(KL(u‖p) + log K)', fixed(SMOOTHING * (kl + Math.log(K)))],
        ['sum of the two', fixed(mixture)],
        ['|L_ε − sum|', Math.abs(anchor.smoothCE - mixture).toExponential(1)],
      ],
    ),
  );

  section('7. Optimal logit gap z_true − z_other = log((1 − ε + ε/K) / (ε/K))');
  const onTrue = 1 - SMOOTHING + SMOOTHING / K;
  const onOther = SMOOTHING / K;
  console.log(
    `  ε = ${SMOOTHING}: log(${onTrue.toFixed(3)} / ${onOther.toFixed(3)}) = log ${(onTrue / onOther).toFixed(0)} = ` +
      `${fixed(optimalLogitGap(SMOOTHING, K))}`,
  );
  console.log('  ε = 0 (hard CE): none, the loss keeps falling as the gap grows without bound');
}

// ---------------------------------------------------------------------------------------------
// Part 2: the same numbers computed by every backend through the library.

interface Figures {
  hardCE: number;
  smoothCE: number;
  gradHard: ArrayLike<number>;
  gradSmooth: ArrayLike<number>;
}

function maxDifference(a: Figures, b: Figures): number {
  let max = Math.max(Math.abs(a.hardCE - b.hardCE), Math.abs(a.smoothCE - b.smoothCE));
  for (let k = 0; k < a.gradHard.length; k++) {
    max = Math.max(max, Math.abs(a.gradHard[k] - b.gradHard[k]), Math.abs(a.gradSmooth[k] - b.gradSmooth[k]));
  }
  return max;
}

function figureRow(name: string, figures: Figures, difference: string): string[] {
  return [name, fixed(figures.hardCE), fixed(figures.smoothCE), signed(figures.gradHard[LABEL]), signed(figures.gradSmooth[LABEL]), difference];
}

async function showBackends(): Promise<boolean> {
  section('8. The same, computed by every backend (logits = log p as Float32Array, labels [2], sum, grad)');
  const hard = explain(ANCHOR_PROBS, LABEL, { smoothing: 0 });
  const smooth = explain(ANCHOR_PROBS, LABEL, { smoothing: SMOOTHING });
  const reference: Figures = { hardCE: hard.hardCE, smoothCE: smooth.smoothCE, gradHard: hard.gradHard, gradSmooth: smooth.gradSmooth };

  const rows = [figureRow('float64 (seed)', reference, '')];
  const unavailable: string[] = [];
  let allAgree = true;
  for (const backend of BACKENDS) {
    let xent: Xent;
    try {
      xent = await createXent({ backend });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      unavailable.push(`  ${backend}: unavailable here (${message.split('\n')[0]})`);
      continue;
    }
    const logits = Float32Array.from(ANCHOR_PROBS, Math.log);
    const run = (smoothing: number) =>
      xent.crossEntropy(logits, [LABEL], { numClasses: K, smoothing, reduction: 'sum', grad: true });
    const hardResult = run(0);
    const smoothResult = run(SMOOTHING);
    const figures: Figures = {
      hardCE: hardResult.loss,
      smoothCE: smoothResult.loss,
      gradHard: hardResult.grad,
      gradSmooth: smoothResult.grad,
    };
    const difference = maxDifference(figures, reference);
    // A NaN difference fails the comparison, so it counts as a disagreement too.
    const agrees = difference <= TOLERANCE;
    allAgree &&= agrees;
    rows.push(figureRow(xent.backend, figures, difference.toExponential(1) + (agrees ? '' : '  DISAGREES')));
  }
  console.log(
    table(['backend', 'hard CE', `smoothed CE`, 'grad true (hard)', `grad true (ε = ${SMOOTHING})`, 'max |Δ| vs float64'], rows),
  );
  for (const line of unavailable) console.log(line);
  console.log(`  max |Δ| over both losses and every gradient entry; float32 agreement means ≤ ${TOLERANCE.toExponential(0)}`);
  return allAgree;
}

showSeed();
const allAgree = await showBackends();
const auto = await createXent();
console.log(`\ncreateXent() picked ${auto.backend} here: the first of ${BACKENDS.join(', ')} that this runtime validates and that reproduces the anchor.`);
showQuestions(auto);
if (!allAgree) process.exitCode = 1;
