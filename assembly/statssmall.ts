// Per-row statistics for small K (SIMD builds): stats.ts's math with four rows per vector, as
// small.ts does for the loss. At K = 10 a row is two and a half vectors, and the row-wise
// kernel spent most of its time on per-row work (reductions across lanes, a float64 log1p,
// divisions); here lane j of every vector belongs to row r+j, so all of that is lane-wise.
//
// Per group of four rows (a short last group repeats its last row in the spare lanes; a row's
// numbers never depend on its lane or group, and every call with K ≤ SMALL_STATS_K takes this
// path whatever its number of rows, so that streaming an evaluation in any split of batches
// gives the same bits):
//   1. the rows transposed into K column vectors (scratch), m = max (pmax from −∞: NaN skipped);
//   2. per lane, downwards over the columns, f = the lowest k with z_k = m, and the rank
//      #{k: z_k > z_y};
//   3. e = exp(x), x = (z − m)/T, over the columns but f (masked): R' = Σ_{k≠f} e_k in f32
//      folded into f64 every 16 columns (a confident row's log p_y is ≈ R'), X = Σ e·x, and
//      when asked Q = Σ_{k≠f} e², G = Σ x;
//   4. per lane in f32 (every term ≥ 0, as in stats.ts, so f32 keeps each row to a few ulp):
//      log S = log1p(R') (exp.ts's log1p4), lse, confidence 1/S, entropy log S − X/S, nll
//      log S − x_y, Brier (Σ_{k≠y} e² + (Σ_{k≠y} e)²)/S², the smoothed loss; stored into the
//      same columns as the row-wise kernel's (f64 ones widened).

import { expMinus4k, expConstant, log1p4, madd } from './exp';
import { gatherColumn, storeLanes } from './small';
import { transposeBlock } from './softsmall';

// @ts-ignore: decorator
@inline export const SMALL_STATS_K: i32 = 64;

/** Scratch bytes: K column vectors (must match statsScratchBytes in src/wasm/bridge.ts). */
// @ts-ignore: decorator
@inline export function smallStatsScratch(K: i32): i32 {
  return K << 4;
}

/** Stores the first `count` lanes of v, widened to f64, at ptr, ptr + 8, … (storeLanes, small.ts, stores them as they are: also i32 lanes, bit for bit). */
// @ts-ignore: decorator
@inline function storeWide(ptr: usize, v: v128, count: i32): void {
  const lo = f64x2.promote_low_f32x4(v);
  const hi = f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 2, 3));
  if (count == 4) {
    v128.store(ptr, lo);
    v128.store(ptr, hi, 16);
    return;
  }
  store<f64>(ptr, f64x2.extract_lane(lo, 0));
  if (count > 1) store<f64>(ptr, f64x2.extract_lane(lo, 1), 8);
  if (count > 2) store<f64>(ptr, f64x2.extract_lane(hi, 0), 16);
}

/** statsRows for K ≤ SMALL_STATS_K: the same arguments, each flag combination its own loop. */
export function statsSmallRows(
  logits: usize, labels: usize, rows: i32, K: i32,
  invT: f64, smoothing: f64, ignoreIndex: i32,
  lseOut: usize, confOut: usize, predOut: usize, entropyOut: usize,
  logPOut: usize, rankOut: usize, brierOut: usize, smoothOut: usize, scratch: usize,
): void {
  const scaled = invT != 1;
  const squares = brierOut != 0;
  const gaps = smoothing > 0 && smoothOut != 0;
  if (squares) {
    if (gaps) {
      if (scaled) statsSmall(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, scratch, true, true, true);
      else statsSmall(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, scratch, false, true, true);
    } else {
      if (scaled) statsSmall(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, scratch, true, true, false);
      else statsSmall(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, scratch, false, true, false);
    }
  } else {
    if (scaled) statsSmall(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, scratch, true, false, false);
    else statsSmall(logits, labels, rows, K, invT, smoothing, ignoreIndex, lseOut, confOut, predOut, entropyOut, logPOut, rankOut, brierOut, smoothOut, scratch, false, false, false);
  }
}

// @ts-ignore: decorator
@inline function statsSmall(
  logits: usize, labels: usize, rows: i32, K: i32,
  invT: f64, smoothing: f64, ignoreIndex: i32,
  lseOut: usize, confOut: usize, predOut: usize, entropyOut: usize,
  logPOut: usize, rankOut: usize, brierOut: usize, smoothOut: usize, scratch: usize,
  scaled: bool, squares: bool, gaps: bool,
): void {
  const rowBytes = <usize>K << 2;
  const mvInit = f32x4.splat(-Infinity);
  const iv = f32x4.splat(<f32>invT);
  const one = f32x4.splat(1);
  const nan = f32x4.splat(NaN);
  const keepV = f32x4.splat(<f32>(1 - smoothing));
  const spreadV = f32x4.splat(<f32>(smoothing / <f64>K));
  const kV = f32x4.splat(<f32>K);
  const E0 = expConstant(0), E1 = expConstant(1), E2 = expConstant(2), E3 = expConstant(3), E4 = expConstant(4);
  const E5 = expConstant(5), E6 = expConstant(6), E7 = expConstant(7), E8 = expConstant(8), E9 = expConstant(9);
  for (let r = 0; r < rows; r += 4) {
    const last = min(rows - 1, r + 3);
    const count = last - r + 1;
    const p0 = logits + <usize>r * rowBytes;
    const p1 = logits + <usize>min(r + 1, last) * rowBytes;
    const p2 = logits + <usize>min(r + 2, last) * rowBytes;
    const p3 = logits + <usize>last * rowBytes;
    // 1. Columns and the max.
    let mv = mvInit;
    let k = 0;
    for (; k + 4 <= K; k += 4) {
      const at = scratch + (<usize>k << 4);
      transposeBlock(p0, p1, p2, p3, <usize>k << 2, at);
      mv = f32x4.pmax(mv, f32x4.pmax(f32x4.pmax(v128.load(at), v128.load(at, 16)), f32x4.pmax(v128.load(at, 32), v128.load(at, 48))));
    }
    for (; k < K; k++) {
      const v = gatherColumn(p0, p1, p2, p3, <usize>k << 2);
      v128.store(scratch + (<usize>k << 4), v);
      mv = f32x4.pmax(mv, v);
    }
    // The lanes' labels (an ignored or absent label reads class 0; its outputs are masked).
    let yv = i32x4.splat(ignoreIndex);
    if (labels) {
      yv = i32x4.replace_lane(yv, 0, load<i32>(labels + (<usize>r << 2)));
      yv = i32x4.replace_lane(yv, 1, load<i32>(labels + (<usize>min(r + 1, last) << 2)));
      yv = i32x4.replace_lane(yv, 2, load<i32>(labels + (<usize>min(r + 2, last) << 2)));
      yv = i32x4.replace_lane(yv, 3, load<i32>(labels + (<usize>last << 2)));
    }
    const ignored = i32x4.eq(yv, i32x4.splat(ignoreIndex));
    const safeY = v128.andnot(yv, ignored);
    let zy = f32x4.splat(load<f32>(p0 + (<usize>i32x4.extract_lane(safeY, 0) << 2)));
    zy = f32x4.replace_lane(zy, 1, load<f32>(p1 + (<usize>i32x4.extract_lane(safeY, 1) << 2)));
    zy = f32x4.replace_lane(zy, 2, load<f32>(p2 + (<usize>i32x4.extract_lane(safeY, 2) << 2)));
    zy = f32x4.replace_lane(zy, 3, load<f32>(p3 + (<usize>i32x4.extract_lane(safeY, 3) << 2)));
    // 2. f (downwards: the last hit is the lowest index; −1 when no entry equals m) and rank.
    let fv = i32x4.splat(-1);
    let rank = i32x4.splat(0);
    for (let c = K - 1; c >= 0; c--) {
      const col = v128.load(scratch + (<usize>c << 4));
      fv = v128.bitselect(i32x4.splat(c), fv, f32x4.eq(col, mv));
      rank = i32x4.sub(rank, f32x4.gt(col, zy));
    }
    // 3. The exps but at f.
    let r01 = f64x2.splat(0);
    let r23 = r01;
    let xv = f32x4.splat(0);
    let qv = xv;
    let gv = xv;
    for (let c = 0; c < K; ) {
      const end = min(K, c + 16);
      let rv = f32x4.splat(0);
      for (; c < end; c++) {
        let x = f32x4.sub(v128.load(scratch + (<usize>c << 4)), mv);
        if (scaled) x = f32x4.mul(x, iv);
        const e = v128.andnot(expMinus4k(x, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9), i32x4.eq(i32x4.splat(c), fv));
        rv = f32x4.add(rv, e);
        // x clamped to the cutoff (keeps NaN): e is 0 there, so a −∞ logit adds 0, not NaN.
        xv = madd(e, f32x4.pmax(x, E9), xv);
        if (squares) qv = madd(e, e, qv);
        if (gaps) gv = f32x4.add(gv, x);
      }
      r01 = f64x2.add(r01, f64x2.promote_low_f32x4(rv));
      r23 = f64x2.add(r23, f64x2.promote_low_f32x4(i32x4.shuffle(rv, rv, 2, 3, 2, 3)));
    }
    // 4. Per lane. A max that is not finite makes the row NaN (as in float64).
    const finite = f32x4.eq(f32x4.sub(mv, mv), f32x4.splat(0));
    const rest = v128.bitselect(i32x4.shuffle(f32x4.demote_f64x2_zero(r01), f32x4.demote_f64x2_zero(r23), 0, 1, 4, 5), nan, finite);
    const S = f32x4.add(one, rest);
    const invS = f32x4.div(one, S);
    const logS = log1p4(rest);
    if (lseOut) storeWide(lseOut + (<usize>r << 3), scaled ? madd(mv, iv, logS) : f32x4.add(mv, logS), count);
    if (confOut) storeLanes(confOut + (<usize>r << 2), invS, count);
    if (predOut) storeLanes(predOut + (<usize>r << 2), fv, count);
    if (entropyOut) storeWide(entropyOut + (<usize>r << 3), f32x4.sub(logS, f32x4.mul(xv, invS)), count);
    if (!labels) continue;
    let xy = f32x4.sub(zy, mv);
    if (scaled) xy = f32x4.mul(xy, iv);
    const nll = f32x4.sub(logS, xy);
    if (logPOut) storeWide(logPOut + (<usize>r << 3), v128.bitselect(nan, f32x4.neg(nll), ignored), count);
    if (rankOut) storeLanes(rankOut + (<usize>r << 2), v128.or(rank, ignored), count);
    if (squares) {
      // Σ_{k≠y} e and Σ_{k≠y} e²: R' and Q where y = f, else with e_y swapped for the max's 1.
      const ey = expMinus4k(xy, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
      const atMax = i32x4.eq(yv, fv);
      const others = v128.bitselect(rest, f32x4.add(one, f32x4.sub(rest, ey)), atMax);
      const others2 = v128.bitselect(qv, f32x4.add(one, f32x4.sub(qv, f32x4.mul(ey, ey))), atMax);
      const brier = f32x4.mul(madd(others, others, others2), f32x4.mul(invS, invS));
      storeWide(brierOut + (<usize>r << 3), v128.bitselect(nan, brier, ignored), count);
    }
    if (smoothOut) {
      let loss = f32x4.mul(keepV, nll);
      if (gaps) loss = madd(spreadV, f32x4.sub(f32x4.mul(kV, logS), gv), loss);
      storeWide(smoothOut + (<usize>r << 3), v128.bitselect(nan, loss, ignored), count);
    }
  }
}
