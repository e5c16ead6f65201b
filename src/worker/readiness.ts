import type pg from 'pg';
import { explainSetupError } from '../database-errors.js';
import { DatabaseSetupError } from '../errors.js';
import { checkSchema } from '../migrate.js';
import { missingPrivileges, type TablePrivilege } from '../sql/privileges.js';
import type { Tables } from '../tables.js';
import type { ResolvedWorkerOptions } from './options.js';

/**
 * What `start()` checks before any loop runs: the connection works, the
 * schema is installed and recent enough, and the role holds every privilege
 * a worker uses. Returns the schema's version (newer than the library's
 * during a rolling deploy). A setup problem rejects with
 * `SchemaNotReadyError` or `DatabaseSetupError`; any other error (the server
 * is down or restarting) is thrown as it came, for the caller to retry.
 */
export async function checkWorkerReady(pool: pg.Pool, options: ResolvedWorkerOptions): Promise<number> {
  try {
    const version = await checkSchema(pool, options.tables);
    const { role, missing } = await missingPrivileges(pool, privilegesNeeded(options.tables, options.retention !== null, options.schedules.length > 0));
    if (missing.length > 0) {
      const list = missing.map((m) => `${m.privilege} on ${m.table}`).join(', ');
      throw new DatabaseSetupError(
        `the worker cannot start: role "${role}" lacks ${list}; ` +
          "grant the privileges listed in database/roles.sql, or connect as the schema's owner",
        { kind: 'permission-denied', code: '42501' },
      );
    }
    return version;
  } catch (error) {
    throw explainSetupError(error, 'the worker cannot start');
  }
}

// What database/roles.sql lists under "needs" for a worker; pruning adds the
// archive's, schedules their table's.
function privilegesNeeded(t: Tables, prunes: boolean, schedules: boolean): TablePrivilege[] {
  const needed: [string, TablePrivilege['privilege'][]][] = [
    [t.job, ['SELECT', 'UPDATE', 'DELETE']],
    [t.archivedJob, prunes ? ['SELECT', 'INSERT', 'DELETE'] : ['INSERT']],
    [t.lostTransactions, ['SELECT', 'INSERT', 'DELETE']],
    [t.queueStates, ['SELECT']],
    [t.cancelRequests, ['SELECT', 'DELETE']],
    [t.workers, ['INSERT', 'UPDATE', 'DELETE']],
  ];
  if (schedules) needed.push([t.schedules, ['SELECT', 'INSERT', 'UPDATE']]);
  return needed.flatMap(([table, privileges]) => privileges.map((privilege) => ({ table, privilege })));
}
