/**
 * The class axis anywhere for the JS fallback (see src/layout.ts and assembly/strided.ts).
 *
 * The JS row kernels (xent.ts, soft.ts) have no vectors to fill: a strided loop would only be
 * their loops again with an index multiply in every access, and a second copy of their math to
 * keep bit for bit in step. So a tile of TILE positions is gathered into contiguous rows (a few
 * KiB, in cache), the row kernel runs on it, and the gradient is scattered back: the same code
 * on the same values, hence the bits of the transposed call. The sum is taken from the written
 * row losses in row order, as the row kernels add them (the f32 losses, one by one).
 *
 * 16-bit logits are decoded as the tile is gathered (half.ts's decoding, bit for bit), and a
 * 16-bit gradient encoded as it is scattered: no f32 copy of the whole tensor, and the bits of
 * the float32 call on the decoded values.
 */
import type { HalfLogits, HardRequest, SoftRequest } from '../backend.js';
import { hardRows } from './xent.js';
import { softRows } from './soft.js';
import { encodeBfloat16, encodeFloat16, float16Table } from './half.js';

/** Positions per tile. */
const TILE = 64;

let logitTile = new Float32Array(0);
let targetTile = new Float32Array(0);
const lossTile = new Float32Array(TILE);

/** Element of class 0 of position p in [outer][K][inner]. */
function startOf(p: number, K: number, inner: number): number {
  const o = Math.floor(p / inner);
  return o * K * inner + (p - o * inner);
}

/** Positions p0…p0+count−1 of data ([outer][K][inner]) as rows of tile, or back (toTile false). */
function moveTile(data: Float32Array, tile: Float32Array, K: number, inner: number, p0: number, count: number, toTile: boolean): void {
  for (let j = 0; j < count; j++) {
    let at = startOf(p0 + j, K, inner);
    const row = j * K;
    if (toTile) {
      for (let k = 0; k < K; k++, at += inner) tile[row + k] = data[at];
    } else {
      for (let k = 0; k < K; k++, at += inner) data[at] = tile[row + k];
    }
  }
}

/** moveTile for 16-bit logits: positions p0…p0+count−1 of the bits decoded into tile's rows. */
function gatherHalfTile(half: HalfLogits, tile: Float32Array, K: number, inner: number, p0: number, count: number): void {
  const words = new Uint32Array(tile.buffer, tile.byteOffset, tile.length);
  const bits = half.bits;
  const table = half.format === 'float16' ? float16Table() : null;
  for (let j = 0; j < count; j++) {
    let at = startOf(p0 + j, K, inner);
    const row = j * K;
    if (table) {
      for (let k = 0; k < K; k++, at += inner) words[row + k] = table[bits[at]];
    } else {
      for (let k = 0; k < K; k++, at += inner) words[row + k] = bits[at] << 16;
    }
  }
}

/** The tile's f32 gradient rows encoded (nearest even) into the 16-bit gradient at their positions. */
function scatterHalfTile(half: HalfLogits, tile: Float32Array, K: number, inner: number, p0: number, count: number): void {
  const words = new Int32Array(tile.buffer, tile.byteOffset, tile.length);
  const out = half.grad as Uint16Array;
  const encode = half.format === 'float16' ? encodeFloat16 : encodeBfloat16;
  for (let j = 0; j < count; j++) {
    let at = startOf(p0 + j, K, inner);
    const row = j * K;
    for (let k = 0; k < K; k++, at += inner) out[at] = encode(words[row + k]);
  }
}

/** A tile's logits gathered (float32, or 16-bit decoded). */
function gatherLogits(request: HardRequest | SoftRequest, tile: Float32Array, K: number, inner: number, p0: number, count: number): void {
  if (request.half) gatherHalfTile(request.half, tile, K, inner, p0, count);
  else moveTile(request.logits, tile, K, inner, p0, count, true);
}

/** A tile's gradient scattered back (float32, or 16-bit encoded). */
function scatterGrad(request: HardRequest | SoftRequest, tile: Float32Array, K: number, inner: number, p0: number, count: number): void {
  if (request.grad) moveTile(request.grad, tile, K, inner, p0, count, false);
  else if (request.half?.grad) scatterHalfTile(request.half, tile, K, inner, p0, count);
}

function tilesFor(K: number, soft: boolean): void {
  if (logitTile.length < TILE * K) logitTile = new Float32Array(TILE * K);
  if (soft && targetTile.length < TILE * K) targetTile = new Float32Array(TILE * K);
}

/** The tile's row losses added to sum one by one (as the row kernels add theirs), and copied out when wanted. */
function addLosses(sum: number, count: number, losses: Float32Array | null, p0: number): number {
  for (let r = 0; r < count; r++) sum += lossTile[r];
  if (losses) losses.set(lossTile.subarray(0, count), p0);
  return sum;
}

/**
 * Tile by tile: the positions' logits gathered into rows, `rowsOf` (the row kernel on the
 * tile's rows, given the request's fields for them) run, the gradient scattered back, and the
 * row losses summed in position order.
 */
function overTiles<R extends HardRequest | SoftRequest>(
  request: R, soft: boolean, rowsOf: (tile: Partial<R> & Pick<HardRequest, 'logits' | 'rows' | 'grad' | 'losses' | 'lse'>, p0: number) => void,
): number {
  const { rows, numClasses: K, lse, losses } = request;
  const wantGrad = request.grad !== null || Boolean(request.half?.grad);
  const inner = request.inner as number;
  tilesFor(K, soft);
  const tile = logitTile;
  let sum = 0;
  for (let p0 = 0; p0 < rows; p0 += TILE) {
    const count = Math.min(TILE, rows - p0);
    const z = tile.subarray(0, count * K);
    gatherLogits(request, tile, K, inner, p0, count);
    rowsOf({
      ...request, inner: 1, logits: z, rows: count, grad: wantGrad ? z : null, half: null,
      losses: lossTile.subarray(0, count), lse: lse ? lse.subarray(p0, p0 + count) : null,
    }, p0);
    if (wantGrad) scatterGrad(request, tile, K, inner, p0, count);
    sum = addLosses(sum, count, losses, p0);
  }
  return sum;
}

export function hardStrided(request: HardRequest): number {
  const { labels } = request;
  return overTiles(request, false, (part, p0) => hardRows({ ...request, ...part, labels: labels.subarray(p0, p0 + part.rows) }));
}

export function softStrided(request: SoftRequest): number {
  const { targets, numClasses: K, inner } = request;
  return overTiles(request, true, (part, p0) => {
    moveTile(targets, targetTile, K, inner as number, p0, part.rows, true);
    softRows({ ...request, ...part, targets: targetTile.subarray(0, part.rows * K) });
  });
}
