import type { ClaimedJobRow } from '../sql/claim.js';

// What a claimed job's earlier claims say about it, in transaction mode.
//
// A claim that died leaves its aborted transaction in the row's xmax. It
// died with its worker — perhaps this job killed it: a poison job — or only
// with its connection (killed by an operator or a pooler, a restart, a
// failover), which says nothing about the job. A surviving worker reports
// its lost transactions (src/worker/lost-transactions.ts), but another
// worker usually finds the job first. So the claim that finds a died claim
// does not judge it: it keeps its transaction id in `aborted_claim`, and the
// job runs again at once, alone. The kept claim is judged only if the job
// dies again, a whole run later: reported by then — a lost connection, not
// held against the job; unreported — a crash, one abandoned run. Only when
// one more crash would set the job aside does it wait for the verdict on
// its last claim instead of running again.

/**
 * How long a job waits for the verdict on its last claim when that verdict
 * decides whether it is set aside: long enough for a surviving worker to
 * report a lost connection.
 */
export const VERDICT_DELAY_MS = 2_000;

/** What to do with a claimed job, given its earlier claims. */
export type EarlierClaimsVerdict =
  /** Nothing against it: run it. */
  | { kind: 'run' }
  /** It may have crashed a worker before: run it only in a batch of its own. */
  | { kind: 'run-alone' }
  /**
   * Its last claim (transaction `abortedClaim`) died: keep that claim and
   * leave the job, to run alone next — or, with `delayMs`, only once that
   * claim can be judged. `crashes` (0 or 1) is the verdict on the claim kept
   * before, now judged.
   */
  | { kind: 'claim-died'; abortedClaim: string; crashes: number; delayMs: number | null }
  /** It has crashed workers `maxAbandonedRuns` times: archive it as failed. */
  | { kind: 'set-aside'; abandonedRuns: number };

/** Decides for one claimed job; `batchSize` is how many jobs its claim took. */
export function judgeEarlierClaims(row: ClaimedJobRow, batchSize: number, maxAbandonedRuns: number): EarlierClaimsVerdict {
  // The verdict on the claim the job keeps, if any: unreported, its worker died with it.
  const keptCrash = row.aborted_claim_lost_connection === false ? 1 : 0;
  if (row.aborted_locker !== null) {
    // The job died again: the kept claim is judged, the new one kept.
    const abandonedRuns = row.abandoned_runs + keptCrash;
    if (abandonedRuns >= maxAbandonedRuns) return { kind: 'set-aside', abandonedRuns };
    // Should this death be a crash too, the job must not run again: it waits for the verdict.
    const delayMs = abandonedRuns + 1 >= maxAbandonedRuns ? VERDICT_DELAY_MS : null;
    return { kind: 'claim-died', abortedClaim: row.aborted_locker, crashes: keptCrash, delayMs };
  }
  // Only a job that waited for its verdict comes here with that many crashes.
  if (keptCrash > 0 && row.abandoned_runs + 1 >= maxAbandonedRuns) {
    return { kind: 'set-aside', abandonedRuns: row.abandoned_runs + 1 };
  }
  // A kept claim not yet reported may still be a crash.
  const suspect = row.abandoned_runs > 0 || keptCrash > 0;
  return suspect && batchSize > 1 ? { kind: 'run-alone' } : { kind: 'run' };
}
