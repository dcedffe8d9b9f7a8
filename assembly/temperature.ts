// The pass of temperature scaling: for β = 1/T, per row with label y,
//   nll(β)  = lse(β·z) − β·z_y = log S − x_y                      (x = β·(z − m), S = Σ e^x)
//   nll'(β) = E_p[z] − z_y = E_p[g] − g_y = (X/S − x_y)/β          (g = z − m, X = Σ e·x)
//   nll''(β) = Var_p[z] = Var_p[g] = (X2/S − (X/S)²)/β²            (X2 = Σ e·x²)
// all at p = softmax(β·z), from one pass over the row (stats.ts's passes with the second
// moment on). NLL(β) = mean nll is convex in β (its second derivative is a variance), so
// a safeguarded Newton step on nll' converges in a handful of passes (src/eval.ts).
// Each row's three numbers go to `out` (f64, three per row, NaN for ignored rows);
// temperatureSum adds them in row order.

import { logOfSum } from './rows';
import { maxAndRank, firstOf, expStats, restOf, passX, passX2 } from './stats';

export function temperatureRows(
  logits: usize, labels: usize, rows: i32, K: i32, beta: f64, ignoreIndex: i32, out: usize,
): void {
  const rowBytes = <usize>K << 2;
  const beta32 = <f32>beta;
  for (let r = 0; r < rows; r++) {
    const z = logits + <usize>r * rowBytes;
    const y = load<i32>(labels + (<usize>r << 2));
    const o = out + <usize>r * 24;
    if (y == ignoreIndex) {
      store<f64>(o, NaN);
      store<f64>(o, NaN, 8);
      store<f64>(o, NaN, 16);
      continue;
    }
    const m = maxAndRank(z, K, 0, false);
    const rest = restOf(expStats(z, K, m, firstOf(z, K, m), beta32, true, false, false, true), m);
    const S = 1 + rest;
    const logS = logOfSum(rest);
    const xy = (<f64>load<f32>(z + (<usize>y << 2)) - <f64>m) * beta;
    const meanX = passX / S;
    const variance = passX2 / S - meanX * meanX;
    store<f64>(o, logS - xy);
    store<f64>(o, (meanX - xy) / beta, 8);
    store<f64>(o, (variance > 0 ? variance : 0) / (beta * beta), 16);
  }
}

/** sums[0..3] += (1, nll, nll', nll'') of each row whose label is not ignoreIndex, in row order. */
export function temperatureSum(labels: usize, rows: i32, ignoreIndex: i32, rowsIn: usize, sums: usize): void {
  let count = load<f64>(sums);
  let nll = load<f64>(sums, 8);
  let d1 = load<f64>(sums, 16);
  let d2 = load<f64>(sums, 24);
  for (let r = 0; r < rows; r++) {
    if (load<i32>(labels + (<usize>r << 2)) == ignoreIndex) continue;
    const o = rowsIn + <usize>r * 24;
    count += 1;
    nll += load<f64>(o);
    d1 += load<f64>(o, 8);
    d2 += load<f64>(o, 16);
  }
  store<f64>(sums, count);
  store<f64>(sums, nll, 8);
  store<f64>(sums, d1, 16);
  store<f64>(sums, d2, 24);
}
