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
      let result: unknown = null;
      if (!this.#savepoint) {
        this.#savepoint = true;
        // The savepoint goes ahead of the handler's first query, in the same
        // round trip; if it fails, that query fails with it and so does the
        // attempt. Queries pg would handle specially (callbacks, cursors,
        // timeouts) get the savepoint as a query of its own, queued first.
        result = carriesSavepoint(args) ? queryAfter(this.#client, [SAVEPOINT_STATEMENT], args[0], args[1]) : null;
        if (!result) this.#client.query(SAVEPOINT_STATEMENT.text).catch(() => {});
      }
      result ??= (this.#client.query as (...a: unknown[]) => unknown).apply(this.#client, args);
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
 * Arguments of the common shape — text or a config object, then values —
 * that pg would send with the extended protocol (parameters or a statement
 * name), which {@link queryAfter} runs just as `client.query` would. A text
 * without parameters goes by the simple protocol and may hold several
 * statements, which the extended protocol refuses: it is left to pg.
 */
function carriesSavepoint(args: unknown[]): args is [string | pg.QueryConfig, unknown[] | undefined] {
  const [query, values] = args;
  if (args.length > 2 || (values !== undefined && !Array.isArray(values))) return false;
  if (typeof query === 'string') return values !== undefined && values.length > 0;
  if (query === null || typeof query !== 'object') return false;
  const config = query as Record<string, unknown>;
  const configValues = values ?? config['values'];
  const extended =
    config['queryMode'] === 'extended' ||
    typeof config['name'] === 'string' ||
    (Array.isArray(configValues) && configValues.length > 0);
  return (
    extended &&
    typeof config['submit'] !== 'function' &&
    config['callback'] === undefined &&
    config['query_timeout'] === undefined &&
    config['rows'] === undefined
  );
}
