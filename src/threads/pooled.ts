/**
 * The backend the facade hands to sync calls of the evaluation API when threads > 1: the
 * backend itself, except that calls large enough for the pool (Threading.syncPool) run their
 * per-row kernels on it. The results are the same bits either way (eval-jobs.ts).
 */
import type { Accumulation, Backend, RowStatsOutputs, SoftmaxRequest, StatsRequest, TemperatureRequest } from '../backend.js';
import type { Threading } from './index.js';

export function pooledBackend(impl: Backend, threading: Threading): Backend {
  const pool = (rows: number, K: number) => threading.syncPool(rows, K);
  return {
    name: impl.name,
    hard: (request) => impl.hard(request),
    soft: (request) => impl.soft(request),
    countLabels: impl.countLabels,
    firstBadTarget: impl.firstBadTarget,
    createBatch: (rows, K) => impl.createBatch(rows, K),
    ace: (keys, bins) => impl.ace(keys, bins),
    decodeHalf: (half, out) => impl.decodeHalf(half, out),
    softmax(request: SoftmaxRequest) {
      const p = pool(request.rows, request.numClasses);
      if (p) p.softmax(request, 'softmax');
      else impl.softmax(request);
    },
    rowStats(request: StatsRequest, out: RowStatsOutputs) {
      const p = pool(request.rows, request.numClasses);
      if (p) p.rowStats(request, out, 'rowStats');
      else impl.rowStats(request, out);
    },
    accumulateStats(request: StatsRequest, into: Accumulation) {
      const p = pool(request.rows, request.numClasses);
      return p ? p.accumulateStats(request, into, 'evaluate') : impl.accumulateStats(request, into);
    },
    temperatureSums(request: TemperatureRequest) {
      const p = pool(request.rows, request.numClasses);
      return p ? p.temperatureSums(request, 'fitTemperature') : impl.temperatureSums(request);
    },
  };
}
