import type pg from 'pg';
import { reportLostTransactions } from '../sql/lost-transactions.js';
import type { Tables } from '../tables.js';

/**
 * The transactions this worker lost with their connections (killed by the
 * database, a restart, a network fault) or rolled back itself, waiting to be
 * reported. Reporting them keeps their jobs from counting as abandoned runs:
 * the worker survived, so the jobs did not kill it. The loops report before
 * they claim again; a report that fails stays pending for the next try.
 */
export class LostTransactions {
  #pending = new Set<string>();
  #reporting: Promise<void> | null = null;

  add(xid: string): void {
    this.#pending.add(xid);
  }

  get pending(): boolean {
    return this.#pending.size > 0;
  }

  /** Reports every pending transaction; one report at a time, shared by the loops that ask. */
  report(pool: pg.Pool, tables: Tables): Promise<void> {
    this.#reporting ??= this.#send(pool, tables).finally(() => (this.#reporting = null));
    return this.#reporting;
  }

  async #send(pool: pg.Pool, tables: Tables): Promise<void> {
    const xids = [...this.#pending];
    if (xids.length === 0) return;
    await reportLostTransactions(pool, tables, xids);
    for (const xid of xids) this.#pending.delete(xid);
  }
}
