import { InvalidOptionError } from './errors.js';
import { queryableOf } from './db/adapt.js';
import type { DbClient } from './db/shapes.js';
import { deleteJobRow } from './sql/delete.js';
import { resolveTableOptions, type TableOptions } from './tables.js';

/** What {@link deleteJob} did: deleted it, left it because it runs now, or found no such job. */
export type DeleteJobResult = 'deleted' | 'running' | 'not-found';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Deletes a job that is not running — waiting, scheduled, retrying, or
 * archived — for good. A running job is left alone (`'running'`): it would
 * only come back with its batch's commit.
 */
export async function deleteJob(dbClient: DbClient, jobId: string, options: TableOptions = {}): Promise<DeleteJobResult> {
  const db = queryableOf(dbClient);
  if (typeof jobId !== 'string' || !UUID.test(jobId)) {
    throw new InvalidOptionError(`deleteJob: jobId must be a job id (a UUID); got ${JSON.stringify(jobId)}`);
  }
  const { deleted, present } = await deleteJobRow(db, resolveTableOptions(options, 'deleteJob'), jobId);
  if (deleted > 0) return 'deleted';
  return present ? 'running' : 'not-found';
}
