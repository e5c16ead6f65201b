/**
 * How a finished job ended, as the archive records it in `status`:
 *
 * - `'success'`: its handler returned.
 * - `'failure'`: it failed for good — its retries were used up, or it was
 *   set aside after its runs kept dying.
 * - `'cancelled'`: `cancelJob` ended it, while it waited or while it ran.
 * - `'discarded'`: its handler threw a `DiscardJobError`: it can never
 *   succeed, and no retry was tried.
 *
 * The one list of them: the SQL that archives, prunes and retries jobs,
 * retention's options, the command line and their checks all read it here.
 */
export const ARCHIVE_STATUSES = ['success', 'failure', 'cancelled', 'discarded'] as const;

/** A status of the archive; see {@link ARCHIVE_STATUSES}. */
export type ArchiveStatus = (typeof ARCHIVE_STATUSES)[number];

/** The statuses of jobs that did not succeed, which `retryJob` and `retryJobs` put back on their queue. */
export const RETRYABLE_STATUSES = ['failure', 'cancelled', 'discarded'] as const satisfies readonly ArchiveStatus[];

/** A status `retryJob` takes a job back from; see {@link RETRYABLE_STATUSES}. */
export type RetryableStatus = (typeof RETRYABLE_STATUSES)[number];

/** The statuses as an SQL list of literals, for statements that must tell archiving from other transitions. */
export const ARCHIVE_STATUSES_SQL = sqlList(ARCHIVE_STATUSES);

/** `statuses` as an SQL list of literals; they are fixed words, never input. */
export function sqlList(statuses: readonly ArchiveStatus[]): string {
  return statuses.map((status) => `'${status}'`).join(', ');
}
