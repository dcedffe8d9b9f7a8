// Four positions of a [outers][K][width] block (a class axis not last, strided.ts) as the four
// lanes of a vector, for the SIMD kernels that read that layout in place: strided.ts's
// stridedSmall (class labels) and stridedsoft.ts's stridedSoftSmall (soft targets). Lane j of
// a group is position r + j; class k of position p is at byte offsetOf(p) + k·4·width. Four
// positions of one outer are contiguous, so a class of all four is one vector load; a group
// across an outer's end, or the short last group (its spare lanes repeat its last position),
// is loaded lane by lane.
//
// The row loops with a step (xent.ts xentRowLoop, soft.ts softRowLoop; the scalar build) walk
// the same layout one position at a time: nextRow.

import { rowExpSumMinusOneExact, CONFIDENT_SUM } from './rows';
import { gatherColumn } from './small';

/** Byte offset of position p's class 0 in a [outers][K][width] block. */
// @ts-ignore: decorator
@inline export function offsetOf(p: i32, K: i32, width: i32): usize {
  const o = p / width;
  return (<usize>o * <usize>K * <usize>width + <usize>(p - o * width)) << 2;
}

/** The next group's first position as (outer, index within the outer): see groupOffsets. */
let nextOuter: i32 = 0;
let nextIndex: i32 = 0;

/** Starts a block of groups at position `block`. */
// @ts-ignore: decorator
@inline export function startGroups(block: i32, width: i32): void {
  nextOuter = block / width;
  nextIndex = block - nextOuter * width;
}

/**
 * The byte offsets of group r's four positions (spare lanes repeat position rows − 1), stored
 * as an i32x4 at `at` and returned; groups are taken in order after startGroups. The position
 * is advanced four at a time, with a division only where an outer ends (one per group would
 * cost a tenth of the kernel at K = 21).
 */
// @ts-ignore: decorator
@inline export function groupOffsets(r: i32, rows: i32, K: i32, width: i32, at: usize): v128 {
  const last = min(rows - 1, r + 3);
  let o0: usize, o1: usize, o2: usize, o3: usize;
  if (nextIndex + 3 < width && r + 3 < rows) {
    o0 = (<usize>nextOuter * <usize>K * <usize>width + <usize>nextIndex) << 2;
    o1 = o0 + 4;
    o2 = o0 + 8;
    o3 = o0 + 12;
  } else {
    o0 = offsetOf(r, K, width);
    o1 = offsetOf(min(r + 1, last), K, width);
    o2 = offsetOf(min(r + 2, last), K, width);
    o3 = offsetOf(last, K, width);
  }
  nextIndex += 4;
  if (nextIndex >= width) {
    nextOuter = (r + 4) / width;
    nextIndex = r + 4 - nextOuter * width;
  }
  let ov = i32x4.splat(<i32>o0);
  ov = i32x4.replace_lane(ov, 1, <i32>o1);
  ov = i32x4.replace_lane(ov, 2, <i32>o2);
  ov = i32x4.replace_lane(ov, 3, <i32>o3);
  v128.store(at, ov);
  return ov;
}

/** Whether a group's four offsets are four contiguous positions (one vector load per class). */
// @ts-ignore: decorator
@inline export function contiguous(ov: v128): bool {
  return i32x4.extract_lane(ov, 3) - i32x4.extract_lane(ov, 0) == 12;
}

/**
 * Class k of the group's four positions as one vector (lane j from position j): one load when
 * they are contiguous (p1…p3 then unused), else one load per lane.
 */
// @ts-ignore: decorator
@inline function column(p0: usize, p1: usize, p2: usize, p3: usize, o: usize, together: bool): v128 {
  return together ? v128.load(p0 + o) : gatherColumn(p0, p1, p2, p3, o);
}

/**
 * The K columns of the group's positions (at base + the offsets in ov, classes `stride` bytes
 * apart) stored at cols, and their pmax in the row kernel's grouping, as pmax is not
 * commutative for ±0 and NaN: four classes at a time, then with `pairs` (softsmall.ts) a pair,
 * then the rest one by one (small.ts). A caller that does not use the max (targets) gets it
 * compiled away.
 */
// @ts-ignore: decorator
@inline export function loadColumns(base: usize, ov: v128, stride: usize, K: i32, cols: usize, pairs: bool): v128 {
  const together = contiguous(ov);
  const p0 = base + <usize>i32x4.extract_lane(ov, 0);
  const p1 = base + <usize>i32x4.extract_lane(ov, 1);
  const p2 = base + <usize>i32x4.extract_lane(ov, 2);
  const p3 = base + <usize>i32x4.extract_lane(ov, 3);
  let mv = f32x4.splat(-Infinity);
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    const o = <usize>k * stride;
    const c0 = column(p0, p1, p2, p3, o, together);
    const c1 = column(p0, p1, p2, p3, o + stride, together);
    const c2 = column(p0, p1, p2, p3, o + 2 * stride, together);
    const c3 = column(p0, p1, p2, p3, o + 3 * stride, together);
    const to = cols + (<usize>k << 4);
    v128.store(to, c0);
    v128.store(to, c1, 16);
    v128.store(to, c2, 32);
    v128.store(to, c3, 48);
    mv = f32x4.pmax(mv, f32x4.pmax(f32x4.pmax(c0, c1), f32x4.pmax(c2, c3)));
  }
  if (pairs && k + 2 <= K) {
    const o = <usize>k * stride;
    const first = column(p0, p1, p2, p3, o, together);
    const second = column(p0, p1, p2, p3, o + stride, together);
    v128.store(cols + (<usize>k << 4), first);
    v128.store(cols + (<usize>k << 4), second, 16);
    mv = f32x4.pmax(mv, f32x4.pmax(first, second));
    k += 2;
  }
  for (; k < K; k++) {
    const v = column(p0, p1, p2, p3, <usize>k * stride, together);
    v128.store(cols + (<usize>k << 4), v);
    mv = f32x4.pmax(mv, v);
  }
  return mv;
}

/**
 * small.ts's exactIfConfident for this layout: each confident lane's S − 1 (below
 * CONFIDENT_SUM) replaced by rowExpSumMinusOneExact over its position's logits, copied into
 * the contiguous row at exactRow first (the exact pass's lanes run along the row, as in the
 * row kernels). `offsets`: the groups' offset vectors (groupOffsets).
 */
export function exactIfConfident(
  sums: usize, maxes: usize, offsets: usize, groups: i32, block: i32, rows: i32,
  logits: usize, K: i32, stride: usize, exactRow: usize, scale: f32,
): void {
  for (let g = 0; g < groups; g++) {
    const at = sums + (<usize>g << 4);
    if (!v128.any_true(f32x4.lt(v128.load(at), f32x4.splat(CONFIDENT_SUM)))) continue;
    const r = block + (g << 2);
    for (let j = 0; j < 4 && r + j < rows; j++) {
      const laneAt = at + (<usize>j << 2);
      if (load<f32>(laneAt) < CONFIDENT_SUM) {
        const from = logits + <usize>load<i32>(offsets + (<usize>g << 4) + (<usize>j << 2));
        for (let k = 0; k < K; k++) store<f32>(exactRow + (<usize>k << 2), load<f32>(from + <usize>k * stride));
        store<f32>(laneAt, <f32>rowExpSumMinusOneExact(exactRow, K, load<f32>(maxes + (<usize>g << 4) + (<usize>j << 2)), scale));
      }
    }
  }
}

/** The row loops' next position as (outer, index within the outer): see nextRow. */
let rowOuter: usize = 0;
let rowIndex: usize = 0;

/** Starts a row loop at position 0. */
// @ts-ignore: decorator
@inline export function startRows(): void {
  rowOuter = 0;
  rowIndex = 0;
}

/**
 * The byte offset of row r, rows taken in order from startRows: r·rowBytes for rows, and
 * with `strided` (a constant where inlined) position r of a [outers][K][width] block, the
 * position advanced one at a time without a division.
 */
// @ts-ignore: decorator
@inline export function nextRow(r: i32, rowBytes: usize, outerBytes: usize, width: i32, strided: bool): usize {
  if (!strided) return <usize>r * rowBytes;
  const offset = rowOuter * outerBytes + (rowIndex << 2);
  if (++rowIndex == <usize>width) {
    rowIndex = 0;
    rowOuter++;
  }
  return offset;
}
