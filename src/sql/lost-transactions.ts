import type { Tables } from '../tables.js';
import type { Queryable } from '../types.js';

// Reports of transactions that died with their connection while their worker
// lived on (see migration 4). A claim that finds a job whose earlier claim
// died looks its transaction up here: reported means the database ended the
// connection (killed, restarted) and the job is not to blame; unreported
// means the worker died with it.

/** How long reports are kept: a job is judged when next claimed, which a long backlog can delay. */
const KEEP_REPORTS = '1 day';

/** Records that these transactions (xid8 text) died with their connection, not with their worker. */
export async function reportLostTransactions(db: Queryable, t: Tables, xids: readonly string[]): Promise<void> {
  await db.query(
    `WITH expired AS (DELETE FROM ${t.lostTransactions} WHERE reported_at < now() - interval '${KEEP_REPORTS}')
     INSERT INTO ${t.lostTransactions} (xid) SELECT unnest($1::text[]::xid8[])
     ON CONFLICT (xid) DO NOTHING`,
    [xids],
  );
}
