/** When a sync call is worth the pool (Threading.syncPool, SharedBatch). */
/**
 * Sync calls that cost less than this stay on the calling thread even with threads > 1. The
 * cost of a call is its work, rows × (K + SYNC_ROW_COST) (a row costs about as much as 8
 * logits besides its logits: its log-sum-exp, label and loss), about 2 ns per unit on one
 * thread of this 2-core VM; 2^20 units is ~2 ms. Below it, what 2 threads save is of the order
 * of what a call on the pool risks: a worker woken 0.05-0.3 ms late (up to a scheduler tick,
 * 4 ms, on a loaded VM) that holds a chunk the call waits for, and copies into shared memory
 * at half the speed of the one-thread path's (V8 copies into a SharedArrayBuffer word by word).
 */
export const SYNC_POOL_MIN_ELEMENTS = 1 << 20;
export const SYNC_ROW_COST = 8;

/** The work of a call of rows × K, in the units of SYNC_POOL_MIN_ELEMENTS. */
export const syncCost = (rows: number, K: number) => rows * (K + SYNC_ROW_COST);
