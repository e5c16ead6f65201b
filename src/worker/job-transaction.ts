import type pg from 'pg';
import { JobFinishedError } from '../errors.js';
import { queryAfter } from '../sql/round-trip.js';
import type { JobDb } from '../types.js';

const SAVEPOINT = 'proletarian_handler';
const SAVEPOINT_STATEMENT = { text: `SAVEPOINT ${SAVEPOINT}` };
const QUERY_CANCELED = '57014';

/**
 * The handler's view of its job's transaction.
 *
 * A failed attempt must undo the handler's writes yet keep the job's lock to
 * record the attempt, so the handler's work runs under a savepoint. The
 * savepoint is created only when the handler first uses `db`: handlers that
 * never touch the database pay no extra round trip.
 */
export class JobTransaction {
  #client: pg.ClientBase;
  #open = true;
  #savepoint = false;
  #inFlight = 0;
  #queryFailed = false;

  readonly db: JobDb;

  constructor(client: pg.ClientBase) {
    this.#client = client;
    const query = (...args: unknown[]): unknown => {
      if (!this.#open) {
        return Promise.reject(
          new JobFinishedError(
            'ctx.db was used after its job finished; run all queries before the handler returns (await them)',
          ),
        );
      }
      const result = this.#savepoint ? this.#send(args) : this.#sendWithSavepoint(args);
      if (result instanceof Promise) {
        this.#inFlight++;
        result.then(
          () => void this.#inFlight--,
          () => {
            this.#inFlight--;
            this.#queryFailed = true;
          },
        );
      }
      return result;
    };
    this.db = { query: query as JobDb['query'] };
  }

  /**
   * The handler's first query, with the savepoint ahead of it in the same
   * round trip; if the savepoint fails, that query fails with it and so does
   * the attempt. A query that cannot carry it gets it as a query of its own,
   * queued first.
   */
  #sendWithSavepoint(args: unknown[]): unknown {
    this.#savepoint = true;
    const [query, values] = args;
    const together =
      args.length <= 2 && carriesSavepoint(query, values)
        ? queryAfter(this.#client, [SAVEPOINT_STATEMENT], query, values as unknown[] | undefined)
        : null;
    if (together) return together;
    this.#client.query(SAVEPOINT_STATEMENT.text).catch(() => {});
    return this.#send(args);
  }

  #send(args: unknown[]): unknown {
    return (this.#client.query as (...a: unknown[]) => unknown).apply(this.#client, args);
  }

  /** Whether the handler wrote (or read) anything through `db`. */
  get used(): boolean {
    return this.#savepoint;
  }

  /** Whether a query the handler sent through `db` is still running. */
  get querying(): boolean {
    return this.#inFlight > 0;
  }

  /** Ends the handler's access; later queries through `db` throw {@link JobFinishedError}. */
  close(): void {
    this.#open = false;
  }

  /**
   * Keeps the handler's work; throws if its part of the transaction failed.
   * The savepoint is left in place when every query succeeded — the commit
   * ends it, and a round trip per job is saved; a later job's savepoint nests
   * inside it, and undoing that job rolls back to its own. After a failed
   * query, RELEASE tells whether the handler recovered (with a savepoint of
   * its own) or left the transaction aborted.
   */
  async keepHandlerWork(): Promise<void> {
    if (this.#savepoint && this.#queryFailed) await this.#client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
  }

  /**
   * Undoes everything the handler did through `db`, keeping the job's lock.
   * The savepoint is released too, so the next job of the batch starts clean.
   */
  async rollbackHandlerWork(): Promise<void> {
    if (!this.#savepoint) return;
    const rollback = `ROLLBACK TO SAVEPOINT ${SAVEPOINT}; RELEASE SAVEPOINT ${SAVEPOINT}`;
    try {
      await this.#client.query(rollback);
    } catch (error) {
      // A cancel request aimed at a timed-out handler's query can land on
      // this statement instead when the query ended just before it arrived.
      if ((error as { code?: string }).code !== QUERY_CANCELED) throw error;
      await this.#client.query(rollback);
    }
  }
}

/**
 * Whether pg would send this query with the extended protocol (it has
 * parameters or a statement name), as {@link queryAfter} sends everything. A
 * text without parameters goes by the simple protocol and may hold several
 * statements, which the extended protocol refuses: it keeps its own way.
 */
function carriesSavepoint(query: unknown, values: unknown): query is string | pg.QueryConfig {
  if (values !== undefined && !Array.isArray(values)) return false; // a callback: pg's own path
  if (typeof query === 'string') return values !== undefined && values.length > 0;
  if (query === null || typeof query !== 'object') return false;
  const config = query as pg.QueryConfig & { queryMode?: string };
  const allValues = values ?? config.values;
  return config.queryMode === 'extended' || typeof config.name === 'string' || (allValues?.length ?? 0) > 0;
}
