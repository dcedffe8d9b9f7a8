/**
 * Cancelling async calls, and running them one after another on a pool. An AbortSignal is
 * honoured between chunks: the call rejects with the signal's reason (an AbortError
 * DOMException unless abort() was given another), the inputs are left as they were, and the
 * pool finishes the chunks already running before it takes the next call.
 */

/** The error an aborted call rejects with. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

export function throwIfAborted(signal: AbortSignal | null): void {
  if (signal?.aborted) throw abortReason(signal);
}

/**
 * Runs async calls one at a time, in the order they were made. A call aborted while it waits
 * for its turn rejects at once and never runs.
 */
export class CallQueue {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;

  /** Whether no call is running or waiting. */
  get idle(): boolean {
    return this.waiting === 0;
  }

  async run<T>(signal: AbortSignal | null, call: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let finish!: () => void;
    this.tail = new Promise<void>((resolve) => {
      finish = resolve;
    });
    this.waiting++;
    let started = false;
    try {
      await untilTurnOrAbort(previous, signal);
      started = true;
      return await call();
    } finally {
      this.waiting--;
      // Aborted before its turn: the next call still waits for the one before this.
      if (started) finish();
      else void previous.then(finish);
    }
  }
}

function untilTurnOrAbort(previous: Promise<void>, signal: AbortSignal | null): Promise<void> {
  throwIfAborted(signal);
  if (!signal) return previous;
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    void previous.then(() => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) reject(abortReason(signal));
      else resolve();
    });
  });
}
