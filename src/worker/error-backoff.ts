// After a polling error a loop tries again at once: most errors are a
// connection the database ended (killed, restarted, a failover), and the
// next connection tells whether the server is back. An error that tells
// only of its own connection's end says nothing of the server, and the pool
// may still hold others that ended with it, each failing at once when lent:
// those errors are retried at once too, as many in a row as the pool has
// connections. Other errors in a row (failing to connect, above all) back
// off from the poll interval, doubling, but never longer than this: a
// restarted database should see work resume within seconds.
const MAX_ERROR_BACKOFF_MS = 2_000;

/** How long one of a worker's loops waits after each error of a run of polling errors. */
export class ErrorBackoff {
  readonly #pollInterval: number;
  readonly #poolSize: number;
  #errors = 0;
  #waits = 0;
  #endedAtOnce = 0;

  constructor(pollInterval: number, poolSize: number) {
    this.#pollInterval = pollInterval;
    this.#poolSize = poolSize;
  }

  /** Errors in a row so far. */
  get consecutiveErrors(): number {
    return this.#errors;
  }

  /**
   * Counts an error, `onlyItsConnectionEnded` when it told only of the end
   * of its connection; returns how many ms to wait before trying again.
   */
  failed(onlyItsConnectionEnded: boolean): number {
    this.#errors++;
    if (this.#errors === 1) return 0;
    if (onlyItsConnectionEnded && this.#endedAtOnce < this.#poolSize) {
      this.#endedAtOnce++;
      return 0;
    }
    return Math.min(this.#pollInterval * 2 ** this.#waits++, MAX_ERROR_BACKOFF_MS);
  }

  /** A turn went through: the run of errors is over. */
  recovered(): void {
    this.#errors = 0;
    this.#waits = 0;
    this.#endedAtOnce = 0;
  }
}
