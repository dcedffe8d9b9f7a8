/**
 * crossEntropy and softCrossEntropy with the class axis not last (src/layout.ts) on a
 * SharedPool: chunks of positions, in row order, each copied into a slot as a block
 * [outers][K][width] (whole outers, or the chunk's positions class by class), computed by
 * xentStrided / softStrided, and copied back. Each row's results are those of the transposed
 * call's row (16-bit logits travel as their bits, decoded by the kernel); the sum is taken here from the written row losses in row order (sum.ts), so the
 * bits do not depend on the thread count or on where chunks start.
 */
import type { HardRequest, SoftRequest } from '../backend.js';
import { chunkShape, copyGradPositionsOut, copyLogitPositionsIn, copyPositions, stridedDtype, tileBytes, wantsGrad } from '../layout.js';
import { align16, copy, sumsInGroups, type Parts } from '../wasm/bridge.js';
import { copyJob, type SummedJob } from './jobs.js';
import type { SharedPool } from './pool.js';
import { rowLossSum } from './sum.js';

export function hardStridedJob(pool: SharedPool, request: HardRequest, rowWise: boolean): SummedJob {
  const { rows, numClasses: K, weight, lse } = request;
  const inner = request.inner as number;
  const parts: Parts = { weight: false, targets: false, labels: true, losses: true, lse: lse !== null };
  const losses = request.losses ?? pool.lossesFor(rows);
  const job = copyJob(pool, rows, K, parts, weight, 4 * K + 4 * (2 + Number(lse !== null)), {
    copyIn: (at, r0, r1) => {
      copyLogitPositionsIn(pool.f32, pool.u16, at.logits, request, K, inner, r0, r1);
      copy(pool.i32, at.labels >> 2, request.labels, r0, r1);
    },
    kernel: (at, weightAt, rowsInChunk, r0) => {
      const { outers, width } = chunkShape(r0, r0 + rowsInChunk, inner);
      return {
        kernel: 'xentStrided',
        args: [
          at.logits, wantsGrad(request) ? at.logits : 0, at.labels, outers, K, width,
          request.smoothing, request.scale, request.ignoreIndex,
          weightAt, request.weightSum, request.zLoss, request.softcap, at.scratch, align16(at.end),
          at.losses, at.lse, 0, Number(rowWise), stridedDtype(request),
        ],
      };
    },
    copyOut: (at, r0, r1) => {
      copyGradPositionsOut(pool.f32, pool.u16, at.logits, request, K, inner, r0, r1);
      copy(losses, r0, pool.f32, at.losses >> 2, (at.losses >> 2) + r1 - r0);
      if (lse) copy(lse, r0, pool.f32, at.lse >> 2, (at.lse >> 2) + r1 - r0);
    },
  }, tileBytes(K, false));
  return { job, sum: () => rowLossSum(losses, rows, sumsInGroups(pool.backend, K, request.softcap, rowWise)) };
}

export function softStridedJob(pool: SharedPool, request: SoftRequest, rowWise: boolean): SummedJob {
  const { rows, numClasses: K, weight, lse } = request;
  const inner = request.inner as number;
  const parts: Parts = { weight: false, targets: true, labels: false, losses: true, lse: lse !== null };
  const losses = request.losses ?? pool.lossesFor(rows);
  const job = copyJob(pool, rows, K, parts, weight, 8 * K + 4 * (1 + Number(lse !== null)), {
    copyIn: (at, r0, r1) => {
      copyLogitPositionsIn(pool.f32, pool.u16, at.logits, request, K, inner, r0, r1);
      copyPositions(pool.f32, at.targets >> 2, request.targets, K, inner, r0, r1, true);
    },
    kernel: (at, weightAt, rowsInChunk, r0) => {
      const { outers, width } = chunkShape(r0, r0 + rowsInChunk, inner);
      return {
        kernel: 'softStrided',
        args: [
          at.logits, at.targets, wantsGrad(request) ? at.logits : 0, outers, K, width,
          request.smoothing, request.scale, weightAt, request.temperature,
          at.losses, at.lse, at.scratch, align16(at.end), 0, Number(rowWise), stridedDtype(request),
        ],
      };
    },
    copyOut: (at, r0, r1) => {
      copyGradPositionsOut(pool.f32, pool.u16, at.logits, request, K, inner, r0, r1);
      copy(losses, r0, pool.f32, at.losses >> 2, (at.losses >> 2) + r1 - r0);
      if (lse) copy(lse, r0, pool.f32, at.lse >> 2, (at.lse >> 2) + r1 - r0);
    },
  }, tileBytes(K, true));
  return { job, sum: () => rowLossSum(losses, rows, sumsInGroups(pool.backend, K, 0, rowWise)) };
}
