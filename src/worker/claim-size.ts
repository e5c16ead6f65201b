// How long the jobs of one batch may take together before committing. Each
// batch has a cost of its own — the claim's round trip, the completion's and
// the commit's flush to disk — that its jobs share: a batch spends about
// this many times as long in its handlers as that, so the batch's own cost
// stays near a tenth of the loop's time whatever the server's round trips
// and flushes cost.
const HANDLER_TIME_PER_BATCH_COST = 10;
// But never shorter than this: quick jobs still fill whole batches...
const MIN_BATCH_MS = 20;
// ...nor longer: a batch holds its jobs' locks and delays their commit until
// its last job is done, and a lost connection runs all of them again.
const MAX_BATCH_MS = 100;
// Weight of the newest batch in the moving averages.
const SMOOTHING = 0.3;
// Each handler that writes through ctx.db is a subtransaction of its batch.
// Past 64 in one transaction, PostgreSQL's per-backend cache of them
// overflows and every session's visibility checks slow down; batches of
// such jobs stay below it.
const MAX_WRITING_BATCH = 60;

/** What one batch took: its jobs' handlers, and the batch as a whole. */
export interface BatchTiming {
  /** Jobs whose handlers ran. */
  jobs: number;
  /** Time in handlers, from the first job's start to the last one's end. */
  handlerMs: number;
  /** Time of the whole batch: claim, handlers, completion and commit. */
  batchMs: number;
  /** Handlers that used `ctx.db`, each a subtransaction of the batch. */
  savepoints: number;
}

/**
 * Decides how many jobs a loop claims at once. Quick jobs are claimed many at
 * a time, sharing the cost of a claim and a commit; slow ones one at a time,
 * so a slow job never holds up others and parallel loops share the work. It
 * starts at one job and grows as it learns how long jobs and batches take.
 */
export class ClaimSizer {
  #max: number;
  #averageJobMs: number | null = null;
  #averageBatchCostMs: number | null = null;
  #last = 1;
  #soloNext = false;

  constructor(maxBatchSize: number) {
    this.#max = maxBatchSize;
  }

  /**
   * A batch failed (its connection killed, the server restarting): the next
   * batches grow from the smallest again, and what a batch costs is learned anew
   * on the new connection. What was learned of job durations is kept.
   *
   * They grow back to their full size at once: keeping them small for a
   * while after a failure, so that a repeating fault undoes less work, was
   * measured to cost more in claims and commits than it saved (connections
   * killed twice a second, 1 ms jobs: about 0.5 of the clean rate instead
   * of 0.66; docs/benchmarks.md).
   */
  batchFailed(): void {
    this.#last = 1;
    this.#averageBatchCostMs = null;
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
    const fit = Math.floor(this.targetBatchMs() / Math.max(this.#averageJobMs, 0.001));
    // Grow by doubling at most, so one quick job does not license a huge batch of slow ones.
    this.#last = Math.min(this.#max, this.#last * 2, Math.max(1, fit));
    return this.#last;
  }

  /** How long the handlers of the next batch may take together, in ms. */
  targetBatchMs(): number {
    const cost = this.#averageBatchCostMs ?? 0;
    return Math.min(MAX_BATCH_MS, Math.max(MIN_BATCH_MS, cost * HANDLER_TIME_PER_BATCH_COST));
  }

  /** Learns from a batch that claimed jobs. */
  record({ jobs, handlerMs, batchMs, savepoints }: BatchTiming): void {
    if (savepoints > 0) this.#max = Math.min(this.#max, MAX_WRITING_BATCH);
    if (jobs === 0) return;
    this.#averageJobMs = smoothed(this.#averageJobMs, handlerMs / jobs);
    this.#averageBatchCostMs = smoothed(this.#averageBatchCostMs, Math.max(0, batchMs - handlerMs));
  }
}

function smoothed(average: number | null, sample: number): number {
  return average === null ? sample : average * (1 - SMOOTHING) + sample * SMOOTHING;
}
