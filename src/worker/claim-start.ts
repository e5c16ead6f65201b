// Where a worker's claims start scanning its queue (see "The scan starts near
// the live jobs" in src/sql/claim.ts).
//
// The oldest job a claim finds is the oldest one nobody held at that moment:
// every due job before it was finished (a dead entry, now) or held by
// another batch. So the next claim can start at its due time, stepping over
// only what was claimed since. Jobs can still turn up behind that point:
// - this worker's own batch rolled back: its claims start again at that
//   batch's oldest job (`rewind`);
// - another worker's batch rolled back, or an enqueue committed a little
//   after its statement ran: once a second, a claim starts where claims
//   started a second before (a sweep), which covers what was claimed or
//   enqueued since;
// - anything older — a long batch that rolled back, an enqueue whose
//   transaction ran for seconds, a lease that ran out — is found by a claim
//   from the queue's start, every ten seconds.
// Each of these scans steps only over the dead entries of its own span, so
// none costs what the whole queue's history would.

/** How often a claim starts where claims started this long ago. */
export const SWEEP_INTERVAL_MS = 1_000;
/** How often a claim scans the queue from its start, at the longest. */
export const FULL_SCAN_INTERVAL_MS = 10_000;

/** One worker's starting point for one kind of claim; shared by its loops. */
export class ClaimStart {
  #from: number | null = null;
  /** Where claims started at the last sweep: the next sweep starts there. */
  #sweepFrom: number | null = null;
  #lastSweep = -Infinity;
  #lastFullScan = -Infinity;
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Where the next claim starts (epoch ms), or null to scan from the queue's start. */
  next(): number | null {
    const now = this.#now();
    if (this.#from === null || now - this.#lastFullScan >= FULL_SCAN_INTERVAL_MS) {
      this.#lastFullScan = this.#lastSweep = now;
      this.#sweepFrom = this.#from;
      return null;
    }
    if (now - this.#lastSweep >= SWEEP_INTERVAL_MS) {
      const from = this.#sweepFrom;
      this.#lastSweep = now;
      this.#sweepFrom = this.#from;
      return from;
    }
    return this.#from;
  }

  /**
   * What a claim found: the due time (epoch ms) of its oldest job, or null
   * when it found none — then the starting point stays, as jobs enqueued
   * from now on are due after it.
   */
  found(oldestDueMs: number | null): void {
    if (oldestDueMs === null) return;
    this.#from = oldestDueMs;
    this.#sweepFrom ??= oldestDueMs;
  }

  /** This worker's batch, whose oldest job was due at `dueMs`, rolled back: its jobs are due again where they were. */
  rewind(dueMs: number): void {
    if (this.#from !== null && dueMs < this.#from) this.#from = dueMs;
  }
}
