// How long the jobs of one batch may take together before committing. A batch
// holds its jobs' locks and delays their commit until its last job is done,
// so it stays short; quick jobs still fill whole batches.
const TARGET_BATCH_MS = 20;
// Weight of the newest batch in the moving average of job durations.
const SMOOTHING = 0.3;
// Each handler that writes through ctx.db is a subtransaction of its batch.
// Past 64 in one transaction, PostgreSQL's per-backend cache of them
// overflows and every session's visibility checks slow down; batches of
// such jobs stay below it.
const MAX_WRITING_BATCH = 60;

/**
 * Decides how many jobs a loop claims at once. Quick jobs are claimed many at
 * a time, saving round trips and commits; slow ones one at a time, so a slow
 * job never holds up others and parallel loops share the work. It starts at
 * one job and grows as it learns how long jobs take.
 */
export class ClaimSizer {
  #max: number;
  #averageJobMs: number | null = null;
  #last = 1;
  #soloNext = false;

  constructor(maxBatchSize: number) {
    this.#max = maxBatchSize;
  }

  /** Grows the next batches from one job again, keeping what was learned of job durations. */
  restart(): void {
    this.#last = 1;
  }

  /** Makes the next claim a single job. */
  claimOneNext(): void {
    this.#soloNext = true;
  }

  next(): number {
    if (this.#soloNext) {
      this.#soloNext = false;
      return 1;
    }
    if (this.#averageJobMs === null) return 1;
    const fit = Math.floor(TARGET_BATCH_MS / Math.max(this.#averageJobMs, 0.001));
    // Grow by doubling at most, so one quick job does not license a huge batch of slow ones.
    this.#last = Math.min(this.#max, this.#last * 2, Math.max(1, fit));
    return this.#last;
  }

  /**
   * Records that `jobs` jobs ran in `elapsedMs` (handlers only, not the claim
   * or commit), `savepoints` of them using `ctx.db`.
   */
  record(jobs: number, elapsedMs: number, savepoints = 0): void {
    if (savepoints > 0) this.#max = Math.min(this.#max, MAX_WRITING_BATCH);
    if (jobs === 0) return;
    const perJob = elapsedMs / jobs;
    this.#averageJobMs =
      this.#averageJobMs === null ? perJob : this.#averageJobMs * (1 - SMOOTHING) + perJob * SMOOTHING;
  }
}
