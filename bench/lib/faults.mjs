// W8's troubles, each started and ended by the runner: a session idle in
// transaction that holds back the xmin horizon, and a loop that terminates
// the backends of a trial's processes.

import pg from 'pg';
import { databaseUrl } from './env.mjs';

/**
 * Opens a session that takes a transaction id and then sits idle in its
 * transaction: no VACUUM in the database can remove rows deleted after it
 * began, until it ends. Returns { xid, close() }. As a safety net should the
 * runner hang, the server ends the session itself after `holdMs` + 60 s
 * (idle_in_transaction_session_timeout, set for this session only).
 */
export async function holdHorizon(holdMs) {
  const client = new pg.Client({ connectionString: databaseUrl(), application_name: 'bench-w8-horizon' });
  client.on('error', () => {}); // ended by the server's timeout: nothing to do
  await client.connect();
  try {
    await client.query(`SET idle_in_transaction_session_timeout = ${Math.ceil(holdMs + 60_000)}`);
    await client.query('BEGIN');
    const { rows } = await client.query('SELECT txid_current()::text AS xid');
    let closed = false;
    return {
      xid: rows[0].xid,
      async close() {
        if (closed) return;
        closed = true;
        await client.query('ROLLBACK').catch(() => {});
        await client.end().catch(() => {});
      },
    };
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
}

/**
 * Every `everyMs`, terminates every backend of this database whose
 * application_name is `appName` — the trial's worker and producer processes
 * name their connections so — with `db` (the runner's own connections are
 * named otherwise and survive). Returns { stop() } resolving to
 * { rounds, terminated, errors }.
 */
export function killBackends(db, appName, everyMs) {
  const stats = { rounds: 0, terminated: 0, errors: 0 };
  let stopping = false;
  let wake = () => {};
  const loop = (async () => {
    while (!stopping) {
      const started = Date.now();
      try {
        const { rows } = await db.query(
          `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n
           FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()`,
          [appName],
        );
        stats.terminated += rows[0].n;
      } catch {
        stats.errors += 1;
      }
      stats.rounds += 1;
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, everyMs - (Date.now() - started)));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();
  return {
    async stop() {
      stopping = true;
      wake();
      await loop;
      return stats;
    },
  };
}
