// The class axis anywhere: logits laid out [outers][K][width] (PyTorch's N×C×d1…dk, ONNX's
// SoftmaxCrossEntropyLoss), the same loss and gradient as the row kernels give the
// transposed (outers·width)×K rows, bit for bit.
//
// Position p = o·width + i is "row" p of the transposed call: labels, losses and lse are in
// position order; class k of position p is at element (o·K + k)·width + i, so the four
// positions i…i+3 of one outer are one contiguous vector per class, and class k + 1 is
// `width` elements further on.
//
// What runs in place, without tiles:
//   - the scalar build, class labels, every option (softcap too): xent.ts's row loop itself
//     (xentRowsStrided), each position read and written where it is with 4·width bytes
//     between classes (rows.ts's …Strided forms: the same @inline bodies as the row
//     primitives, whose step is the constant 4 for rows), so each row has the rows call's bits;
//   - the scalar build, soft targets, K ≤ 64, every option: soft.ts's row loop itself the
//     same way (softRowsStrided; targets and gradient laid out as the logits);
//   - the SIMD builds, class labels, K ≤ 64, no softcap, a call of four rows or more
//     (stridedSmall below): small.ts already puts four rows in the four lanes of a vector
//     (after a 4×4 transpose); here the lanes are four positions, loaded straight from memory
//     with stride `width` — no transpose at all — and every step after the load is small.ts's,
//     lane for lane, so each row's loss, lse and gradient have small.ts's bits;
//   - the SIMD builds, soft targets, K ≤ 64, a call of four rows or more (stridedSoftSmall,
//     stridedsoft.ts): softsmall.ts's steps the same way, logits and targets loaded with stride.
// (The JS fallback reads every case in place the same way: src/js/rows.ts.)
//
// Everything else — the SIMD builds' K > 64 (class labels and soft targets) and softcap, the
// scalar build's soft targets at K > 64 (in place they cost more than the tiles with the
// gradient: softStridedF32) —
// gathers a tile of positions into contiguous rows in scratch (in cache: 4 rows for K > 64,
// 64 for K ≤ 64; by 4×4 transposes of four positions × four classes), runs the row
// kernel on it, and scatters the gradient back the same way: the same code, hence the same
// bits. stridedTiledPositions counts those positions (a testing hook: test/layout.test.ts
// checks which calls gather). A SIMD kernel across four positions that keeps rows.ts's bits
// is possible but is a second copy of it, lane for lane, which is why it is not here (yet):
//   - rows.ts's lanes are the classes k mod 4, so four positions need four accumulator
//     vectors (one per k mod 4) for S − 1 and the gap sum, and their horizontal sum in f64
//     in lane order 0, 1, 2, 3 at every fold;
//   - the folds are blocks of 256 classes from 0 for every position (since 2266bdf), but the
//     masked chunk [c0, c0 + 64) (c0: the first chunk, in lane order, holding the max) differs
//     from position to position, so every lane has its own mask, and rowMax's per-lane chunk
//     maxima, runner-up and c0 have to be tracked per position;
//   - the K mod 4 tail is scalar in rows.ts (expMinus, mul + add): on the relaxed build
//     the vector madd is fused, so those classes would need scalar code per lane;
//   - softcap adds tanh4 vs tanhScalar on the same split (and takes the row kernel even for
//     K ≤ 64: small.ts has no softcap), soft targets at K > 64 soft.ts's own sums.
// At K = 1000 the tile path costs 1.65–1.9× the rows call (bench/layout.mjs, 8×1000×512),
// the price of the gather and scatter passes; K ≤ 64 takes stridedSmall below (or
// stridedSoftSmall).
// On the scalar build the in-place loop costs about what its tiles did (bench/layout.mjs
// --backend wasm, classAxis ÷ rows: 1.74 → 1.78 with the gradient, 1.55 → 1.63 loss only at
// 8×1000×512, 1.16 → 1.16 and 1.11 → 1.21 at 4×21×128×128): at large K a position read in
// place is three strided passes over its classes, a tile two (gather, scatter) plus three in
// cache.
//
// 16-bit logits (the last argument, `dtype`: 0 float32, else the format, 1 float16 or 2
// bfloat16, plus ENCODE_GRAD when the gradient is to be written as 16-bit; one argument, as
// a pool command carries at most 20, src/threads/protocol.ts): the host copies the chunk's bits,
// in the same [outers][K][width] arrangement, into the upper half of its f32 logits region;
// they are decoded over that region first (half.ts decodeHalf, in cache, half the bytes copied
// in), and with encodeGrad the f32 gradient is encoded in place at the end. Between the two
// the kernels run on f32 exactly as for float32 logits, so a 16-bit call has the bits of the
// float32 call on the decoded values (and so of the transposed call).
//
// These kernels write every row's loss (`losses` is required: scratch when the caller does not
// want them) and return sumIn + their sum, added as the row kernels add theirs (lossSum), so
// that a call whose chunks start on multiples of four rows has the transposed call's sum; the
// pool sums the written losses itself (src/threads/sum.ts), the same way.

import { xentRows, xentRowsStrided } from './xent';
import { softRows, softRowsStrided } from './soft';
import { stridedSoftSmall } from './stridedsoft';
import { exactIfConfident, groupOffsets, loadColumns, offsetOf, startGroups } from './columns';
import {
  SMALL_K, addRowLosses, blockGroups, expGroup, gatherWeights, groupLoss, lane, storeLanes, storeRows, storeRowsTail,
} from './small';
import { expConstant, madd } from './exp';
import { decodeHalf, encodeHalf } from './half';

/** The `dtype` argument's flag: encode the gradient to the logits' 16-bit format (must match src/layout.ts). */
// @ts-ignore: decorator
@inline const ENCODE_GRAD: i32 = 4;

/**
 * Positions that went through the tile path since the module was instantiated: a testing
 * hook (stridedTiledPositions), so that the tests see which calls still gather tiles.
 */
let tiledPositions: f64 = 0;

/** tiledPositions (see above). */
export function stridedTiledPositions(): f64 {
  return tiledPositions;
}

/** Rows of a tile for the tile path (must match tileRows in src/layout.ts). */
// @ts-ignore: decorator
@inline export function tileRows(K: i32): i32 {
  return K <= SMALL_K ? 64 : 4;
}

export function xentStrided(
  logits: usize, grad: usize, labels: usize, outers: i32, K: i32, width: i32,
  smoothing: f64, scale: f64, ignoreIndex: i32,
  weight: usize, weightSum: f64, zLoss: f64, softcap: f32, scratch: usize, tiles: usize,
  losses: usize, lseOut: usize, sumIn: f64, rowWise: bool, dtype: i32,
): f64 {
  const n = outers * K * width;
  const format = dtype & ~ENCODE_GRAD;
  if (format) decodeHalf(logits + (<usize>n << 1), logits, n, format);
  const sum = xentStridedF32(logits, grad, labels, outers, K, width, smoothing, scale, ignoreIndex, weight, weightSum, zLoss, softcap, scratch, tiles, losses, lseOut, sumIn, rowWise);
  if (format && (dtype & ENCODE_GRAD) && grad) encodeHalf(grad, grad, n, format);
  return sum;
}

function xentStridedF32(
  logits: usize, grad: usize, labels: usize, outers: i32, K: i32, width: i32,
  smoothing: f64, scale: f64, ignoreIndex: i32,
  weight: usize, weightSum: f64, zLoss: f64, softcap: f32, scratch: usize, tiles: usize,
  losses: usize, lseOut: usize, sumIn: f64, rowWise: bool,
): f64 {
  if (ASC_FEATURE_SIMD && K <= SMALL_K && softcap == 0 && !rowWise) {
    stridedSmall(logits, grad, labels, outers, K, width, smoothing, scale, ignoreIndex, weight, weightSum, zLoss, scratch, tiles, losses, lseOut);
    return lossSum(losses, outers * width, true, sumIn);
  }
  if (!ASC_FEATURE_SIMD) {
    return xentRowsStrided(logits, grad, labels, outers, K, width, smoothing, scale, ignoreIndex, weight, weightSum, zLoss, softcap, scratch, losses, lseOut, sumIn);
  }
  const rows = outers * width;
  tiledPositions += <f64>rows;
  const T = tileRows(K);
  const tile = tiles;
  for (let p = 0; p < rows; p += T) {
    const count = min(T, rows - p);
    gatherTile(logits, tile, p, count, K, width);
    xentRows(
      tile, grad ? tile : 0, labels + (<usize>p << 2), count, K, smoothing, scale, ignoreIndex,
      weight, weightSum, zLoss, softcap, scratch, losses + (<usize>p << 2), lseOut ? lseOut + (<usize>p << 2) : 0, 0, rowWise,
    );
    if (grad) scatterTile(tile, grad, p, count, K, width);
  }
  return lossSum(losses, rows, false, sumIn);
}

export function softStrided(
  logits: usize, targets: usize, grad: usize, outers: i32, K: i32, width: i32,
  smoothing: f64, scale: f64, weight: usize, temperature: f64,
  losses: usize, lseOut: usize, scratch: usize, tiles: usize, sumIn: f64, rowWise: bool, dtype: i32,
): f64 {
  const n = outers * K * width;
  const format = dtype & ~ENCODE_GRAD;
  if (format) decodeHalf(logits + (<usize>n << 1), logits, n, format);
  const sum = softStridedF32(logits, targets, grad, outers, K, width, smoothing, scale, weight, temperature, losses, lseOut, scratch, tiles, sumIn, rowWise);
  if (format && (dtype & ENCODE_GRAD) && grad) encodeHalf(grad, grad, n, format);
  return sum;
}

function softStridedF32(
  logits: usize, targets: usize, grad: usize, outers: i32, K: i32, width: i32,
  smoothing: f64, scale: f64, weight: usize, temperature: f64,
  losses: usize, lseOut: usize, scratch: usize, tiles: usize, sumIn: f64, rowWise: bool,
): f64 {
  if (ASC_FEATURE_SIMD && K <= SMALL_K && !rowWise) {
    return stridedSoftSmall(logits, targets, grad, outers, K, width, smoothing, scale, weight, temperature, losses, lseOut, sumIn, scratch, tiles);
  }
  // The scalar build in place up to K = 64 only: past that its strided passes per position
  // (max; exps with B and X over logits and targets; gradient over exps and targets) cost more
  // than the tile's with the gradient (bench/layout.mjs --backend wasm --soft, 8×1000×512,
  // classAxis ÷ rows: tiles 1.62–1.92, in place 2.34–2.60; with B and X fused into the exp
  // pass, 5b38b81, 2.54 with the gradient and 1.47 against the tiles' 1.57 loss only).
  if (!ASC_FEATURE_SIMD && K <= SMALL_K) {
    return softRowsStrided(logits, targets, grad, outers, K, width, smoothing, scale, weight, temperature, losses, lseOut, sumIn);
  }
  const rows = outers * width;
  tiledPositions += <f64>rows;
  const T = tileRows(K);
  const tile = tiles;
  const targetTile = tiles + ((<usize>T * <usize>K) << 2);
  for (let p = 0; p < rows; p += T) {
    const count = min(T, rows - p);
    gatherTile(logits, tile, p, count, K, width);
    gatherTile(targets, targetTile, p, count, K, width);
    softRows(
      tile, targetTile, grad ? tile : 0, count, K, smoothing, scale, weight, temperature,
      losses + (<usize>p << 2), lseOut ? lseOut + (<usize>p << 2) : 0, 0, scratch, rowWise,
    );
    if (grad) scatterTile(tile, grad, p, count, K, width);
  }
  return lossSum(losses, rows, ASC_FEATURE_SIMD && K <= SMALL_K && !rowWise, sumIn);
}

/**
 * sumIn + the chunk's row losses in f64, as the row kernels add them: one by one, or (their
 * small-K kernels) four rows at a time, (l0 + l2) + (l1 + l3), the last short group one by
 * one. The host starts chunks on multiples of four rows, so the groups are the call's.
 */
function lossSum(losses: usize, rows: i32, inGroups: bool, sumIn: f64): f64 {
  let sum = sumIn;
  let r = 0;
  if (ASC_FEATURE_SIMD && inGroups) {
    for (; r + 4 <= rows; r += 4) sum = addRowLosses(sum, v128.load(losses + (<usize>r << 2)), 4);
  }
  for (; r < rows; r++) sum += <f64>load<f32>(losses + (<usize>r << 2));
  return sum;
}

/** Positions p…p+count−1 of a [outers][K][width] block as `count` contiguous rows at tile. */
function gatherTile(src: usize, tile: usize, p: i32, count: i32, K: i32, width: i32): void {
  moveTile(src, tile, p, count, K, width, true);
}

/** The inverse of gatherTile. */
function scatterTile(tile: usize, dst: usize, p: i32, count: i32, K: i32, width: i32): void {
  moveTile(dst, tile, p, count, K, width, false);
}

// @ts-ignore: decorator
@inline function moveTile(block: usize, tile: usize, p: i32, count: i32, K: i32, width: i32, toTile: bool): void {
  const stride = <usize>width << 2;
  const rowBytes = <usize>K << 2;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    // Four positions of one outer are contiguous: four classes of them are four vector loads,
    // transposed 4×4 into the four rows (or back): element by element with stride `width`,
    // the gather cost five times the row kernel at K = 1000 (bench/layout.mjs, 8×1000×512).
    for (; j + 4 <= count; j += 4) {
      const q = p + j;
      const outer = q / width;
      if (q - outer * width + 3 >= width) {
        moveRows(block, tile, q, 4, j, K, width, toTile);
        continue;
      }
      let at = block + offsetOf(q, K, width);
      const r0 = tile + <usize>j * rowBytes;
      const r1 = r0 + rowBytes;
      const r2 = r1 + rowBytes;
      const r3 = r2 + rowBytes;
      let k = 0;
      for (; k + 4 <= K; k += 4) {
        const o = <usize>k << 2;
        if (toTile) {
          storeRows(r0, r1, r2, r3, o, v128.load(at), v128.load(at + stride), v128.load(at + 2 * stride), v128.load(at + 3 * stride));
        } else {
          storeRows(at, at + stride, at + 2 * stride, at + 3 * stride, 0, v128.load(r0 + o), v128.load(r1 + o), v128.load(r2 + o), v128.load(r3 + o));
        }
        at += 4 * stride;
      }
      for (; k < K; k++) {
        const o = <usize>k << 2;
        if (toTile) {
          const v = v128.load(at);
          store<f32>(r0 + o, f32x4.extract_lane(v, 0));
          store<f32>(r1 + o, f32x4.extract_lane(v, 1));
          store<f32>(r2 + o, f32x4.extract_lane(v, 2));
          store<f32>(r3 + o, f32x4.extract_lane(v, 3));
        } else {
          let v = f32x4.splat(load<f32>(r0 + o));
          v = f32x4.replace_lane(v, 1, load<f32>(r1 + o));
          v = f32x4.replace_lane(v, 2, load<f32>(r2 + o));
          v = f32x4.replace_lane(v, 3, load<f32>(r3 + o));
          v128.store(at, v);
        }
        at += stride;
      }
    }
  }
  moveRows(block, tile, p + j, count - j, j, K, width, toTile);
}

/** moveTile one position at a time: positions q…q+count−1 to tile rows j… (or back). */
// @ts-ignore: decorator
@inline function moveRows(block: usize, tile: usize, q: i32, count: i32, j: i32, K: i32, width: i32, toTile: bool): void {
  const stride = <usize>width << 2;
  const rowBytes = <usize>K << 2;
  for (let n = 0; n < count; n++) {
    let at = block + offsetOf(q + n, K, width);
    const row = tile + <usize>(j + n) * rowBytes;
    for (let k = 0; k < K; k++) {
      if (toTile) store<f32>(row + (<usize>k << 2), load<f32>(at));
      else store<f32>(at, load<f32>(row + (<usize>k << 2)));
      at += stride;
    }
  }
}

/**
 * small.ts's xentSmall with the lanes' columns loaded from the strided layout instead of
 * transposed from rows, and the gradient stored the same way. Its stages, sums, masks and
 * operations are unchanged (see small.ts for the math); the comments here say only what
 * differs. A group's four positions are contiguous when they lie in one outer; otherwise
 * (across an outer's end, or the short last group) each lane is loaded on its own.
 *
 * Scratch: small.ts's (16·G·(K + 5) bytes, G = blockGroups(K)) at `scratch`; at `extra`
 * the G groups' lane offsets (16·G bytes), then one row of K floats for the exact pass.
 */
function stridedSmall(
  logits: usize, grad: usize, labels: usize, outers: i32, K: i32, width: i32,
  smoothing: f64, scale: f64, ignoreIndex: i32,
  weight: usize, weightSum: f64, zLoss: f64,
  scratch: usize, extra: usize, losses: usize, lseOut: usize,
): void {
  const rows = outers * width;
  const stride = <usize>width << 2;
  const eps = smoothing;
  const epsOverK = eps / <f64>K;
  const beta = <f32>(epsOverK * scale);
  const smoothed = eps > 0;
  const groupBytes = <usize>K << 4;
  const G = blockGroups(K);
  const maxes = scratch + <usize>G * groupBytes;
  const sums = maxes + (<usize>G << 4);
  const gapSums = sums + (<usize>G << 4);
  const alphaAt = gapSums + (<usize>G << 4);
  const fixAt = alphaAt + (<usize>G << 4);
  const offsets = extra;
  const exactRow = extra + (<usize>G << 4);
  for (let block = 0; block < rows; block += G << 2) {
    const groups = min(G, (rows - block + 3) >> 2);
    const E0 = expConstant(0), E1 = expConstant(1), E2 = expConstant(2), E3 = expConstant(3), E4 = expConstant(4);
    const E5 = expConstant(5), E6 = expConstant(6), E7 = expConstant(7), E8 = expConstant(8), E9 = expConstant(9);
    // Stage 1, pass 1: the columns (loaded with stride) and their max, grouped as small.ts
    // groups them (four classes, then the tail one by one), so that pmax sees the same order
    // (columns.ts).
    startGroups(block, width);
    for (let g = 0; g < groups; g++) {
      const ov = groupOffsets(block + (g << 2), rows, K, width, offsets + (<usize>g << 4));
      const mv = loadColumns(logits, ov, stride, K, scratch + <usize>g * groupBytes, false);
      v128.store(maxes + (<usize>g << 4), mv);
    }
    // Stage 1, pass 2: as small.ts.
    for (let g = 0; g < groups; g++) {
      const cols = scratch + <usize>g * groupBytes;
      const mv = v128.load(maxes + (<usize>g << 4));
      expGroup(cols, K, mv, weight, sums + (<usize>g << 4), gapSums + (<usize>g << 4), grad != 0, smoothed, E0, E1, E2, E3, E4, E5, E6, E7, E8, E9);
    }
    // Confident rows: S − 1 from the exact pass over the row, gathered into one contiguous
    // row first (rowExpSumMinusOneExact's lanes run along the row, as in small.ts).
    exactIfConfident(sums, maxes, offsets, groups, block, rows, logits, K, stride, exactRow, 1);
    // Stage 2: as small.ts, with z_y read from the strided layout.
    const keepV = f32x4.splat(<f32>(1 - eps));
    const spreadV = f32x4.splat(<f32>epsOverK);
    const weightSumV = f32x4.splat(<f32>weightSum);
    const zLossV = f32x4.splat(<f32>zLoss);
    const scaleV = f32x4.splat(<f32>scale);
    for (let g = 0; g < groups; g++) {
      const r = block + (g << 2);
      const last = min(rows - 1, r + 3);
      const count = last - r + 1;
      const mv = v128.load(maxes + (<usize>g << 4));
      const sv = v128.load(gapSums + (<usize>g << 4));
      const sMinusOne = v128.load(sums + (<usize>g << 4));
      const ov = v128.load(offsets + (<usize>g << 4));
      const y0 = load<i32>(labels + (<usize>r << 2));
      const y1 = load<i32>(labels + (<usize>min(r + 1, last) << 2));
      const y2 = load<i32>(labels + (<usize>min(r + 2, last) << 2));
      const y3 = load<i32>(labels + (<usize>last << 2));
      let live = i32x4.splat(y0);
      live = i32x4.replace_lane(live, 1, y1);
      live = i32x4.replace_lane(live, 2, y2);
      live = i32x4.replace_lane(live, 3, y3);
      const ignored = i32x4.eq(live, i32x4.splat(ignoreIndex));
      const k0 = y0 == ignoreIndex ? 0 : y0;
      const k1 = y1 == ignoreIndex ? 0 : y1;
      const k2 = y2 == ignoreIndex ? 0 : y2;
      const k3 = y3 == ignoreIndex ? 0 : y3;
      let zy = f32x4.splat(load<f32>(logits + <usize>i32x4.extract_lane(ov, 0) + <usize>k0 * stride));
      zy = f32x4.replace_lane(zy, 1, load<f32>(logits + <usize>i32x4.extract_lane(ov, 1) + <usize>k1 * stride));
      zy = f32x4.replace_lane(zy, 2, load<f32>(logits + <usize>i32x4.extract_lane(ov, 2) + <usize>k2 * stride));
      zy = f32x4.replace_lane(zy, 3, load<f32>(logits + <usize>i32x4.extract_lane(ov, 3) + <usize>k3 * stride));
      const wy = weight ? gatherWeights(weight, <usize>k0 << 2, <usize>k1 << 2, <usize>k2 << 2, <usize>k3 << 2) : f32x4.splat(1);
      const loss = groupLoss(
        mv, sv, sMinusOne, zy, wy, ignored, keepV, spreadV, weightSumV, zLossV, scaleV, smoothed, zLoss != 0,
        lseOut ? lseOut + (<usize>r << 2) : 0, count, grad ? alphaAt + (<usize>g << 4) : 0, fixAt + (<usize>g << 4),
      );
      storeLanes(losses + (<usize>r << 2), loss, count);
    }
    if (!grad) continue;
    // Stage 3: g = e·alpha − beta·w_k per column, stored with stride (no transpose back),
    // then the label's term, or zeros for an ignored row.
    const bv = f32x4.splat(-beta);
    const weighted = weight != 0 && smoothed;
    for (let g = 0; g < groups; g++) {
      const r = block + (g << 2);
      const last = min(rows - 1, r + 3);
      const count = last - r + 1;
      const cols = scratch + <usize>g * groupBytes;
      const alphas = v128.load(alphaAt + (<usize>g << 4));
      const fixes = v128.load(fixAt + (<usize>g << 4));
      const ov = v128.load(offsets + (<usize>g << 4));
      const q0 = grad + <usize>i32x4.extract_lane(ov, 0);
      const q1 = grad + <usize>i32x4.extract_lane(ov, 1);
      const q2 = grad + <usize>i32x4.extract_lane(ov, 2);
      const q3 = grad + <usize>i32x4.extract_lane(ov, 3);
      if (q3 - q0 == 12) {
        let to = q0;
        for (let c = 0; c < K; c++) {
          const b = weighted ? f32x4.mul(bv, f32x4.splat(load<f32>(weight + (<usize>c << 2)))) : bv;
          v128.store(to, madd(v128.load(cols + (<usize>c << 4)), alphas, b));
          to += stride;
        }
      } else {
        // Spare lanes alias the last row: lane 3 is stored first, so the real lane wins.
        for (let c = 0; c < K; c++) {
          const b = weighted ? f32x4.mul(bv, f32x4.splat(load<f32>(weight + (<usize>c << 2)))) : bv;
          storeRowsTail(q0, q1, q2, q3, <usize>c * stride, madd(v128.load(cols + (<usize>c << 4)), alphas, b));
        }
      }
      for (let j = 0; j < count; j++) {
        const y = load<i32>(labels + (<usize>(r + j) << 2));
        const q = grad + <usize>load<i32>(offsets + (<usize>g << 4) + (<usize>j << 2));
        if (y == ignoreIndex) {
          for (let c = 0; c < K; c++) store<f32>(q + <usize>c * stride, 0);
        } else {
          const gy = q + <usize>y * stride;
          store<f32>(gy, load<f32>(gy) - lane(fixes, j));
        }
      }
    }
  }
}
