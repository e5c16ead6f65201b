/**
 * How a finished job ended, as the archive records it in `status`:
 * `'success'` (its handler returned) or `'failure'` (it failed for good, or
 * was set aside after its runs kept dying). The one list of them: the SQL
 * that archives and prunes jobs, retention's options and their checks all
 * read it here.
 */
export const ARCHIVE_STATUSES = ['success', 'failure'] as const;

/** A status of the archive; see {@link ARCHIVE_STATUSES}. */
export type ArchiveStatus = (typeof ARCHIVE_STATUSES)[number];

/** The statuses as an SQL list of literals, for statements that must tell archiving from other transitions. */
export const ARCHIVE_STATUSES_SQL = ARCHIVE_STATUSES.map((status) => `'${status}'`).join(', ');
