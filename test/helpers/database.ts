import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import pg from 'pg';
import { migrate, notifyChannel, schemaSql, type LogData, type LogEvent, type LogFunction, type TableOptions } from 'proletarian';

/** The database under test: the embedded server `npm test` starts, or DATABASE_URL. */
export function databaseUrl(): string {
  const url = process.env['DATABASE_URL'];
  if (!url) {
    throw new Error('DATABASE_URL is not set: run the tests with `npm test`, which starts a PostgreSQL for them');
  }
  return url;
}

/** A pool on the test database, plus a schema of its own with Proletarian installed. */
export interface TestDatabase {
  pool: pg.Pool;
  schema: string;
  /** Pass to every proletarian call so tests running in parallel never meet. */
  tables: TableOptions;
  /** Runs SQL and returns the rows. */
  rows<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<R[]>;
  /** Drops the schema and closes the pool. */
  close(): Promise<void>;
}

/**
 * Creates a fresh, migrated schema for one test file (or one test), so that
 * files running in parallel never see each other's jobs.
 */
export async function createTestDatabase(options: { migrate?: boolean; poolSize?: number } = {}): Promise<TestDatabase> {
  const pool = new pg.Pool({ connectionString: databaseUrl(), max: options.poolSize ?? 10 });
  pool.on('error', () => {}); // tests that kill connections check outcomes, not this event
  const schema = `test_${randomBytes(6).toString('hex')}`;
  const tables: TableOptions = { schema };
  if (options.migrate !== false) await migrate(pool, tables);
  return {
    pool,
    schema,
    tables,
    rows: async (sql, values) => (await pool.query(sql, values)).rows,
    close: async () => {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}

/**
 * Installs the schema as it was at `version`, by running schemaSql() up to
 * that migration's section: the starting point of an upgrade test.
 */
export async function installSchemaVersion(db: pg.Pool | pg.Client, tables: TableOptions, version: number): Promise<void> {
  const sql = schemaSql(tables);
  const next = sql.indexOf(`-- Migration ${version + 1}:`);
  assert.ok(sql.includes(`-- Migration ${version}:`), `schemaSql() has a section for migration ${version}`);
  await db.query(next === -1 ? sql : sql.slice(0, next));
}

/** Names of the tables in `schema`, sorted. */
export async function tablesIn(db: pg.Pool | pg.Client, schema: string): Promise<string[]> {
  const { rows } = await db.query<{ tablename: string }>(
    'SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename',
    [schema],
  );
  return rows.map((row) => row.tablename);
}

/**
 * Adds an app table `effects (job_id, note)` to the test schema: handlers
 * write to it through ctx.db, so a test can see which writes committed (and,
 * by its primary key, that none committed twice).
 */
export async function addEffectsTable(db: TestDatabase): Promise<(jobId: string) => Promise<{ note: string }[]>> {
  await db.pool.query(`CREATE TABLE "${db.schema}".effects (job_id uuid PRIMARY KEY, note text)`);
  return (jobId) => db.rows<{ note: string }>(`SELECT note FROM "${db.schema}".effects WHERE job_id = $1`, [jobId]);
}

/** What {@link useWorkerTestDatabase} gives a test file. */
export interface WorkerTestDatabase {
  /** Filled in before the first test runs. */
  db: TestDatabase;
  /** The notes written to the effects table for a job, by handlers through ctx.db. */
  effects: (jobId: string) => Promise<{ note: string }[]>;
  /** A fresh queue name, so each test sees only its own jobs. */
  newQueue: () => string;
}

/**
 * The usual set-up of a worker test file, registered in the enclosing
 * `describe`: a test database with an effects table before the tests, dropped
 * after them.
 */
export function useWorkerTestDatabase(options: { poolSize?: number } = {}): WorkerTestDatabase {
  const db = {} as TestDatabase;
  let effectsOf: (jobId: string) => Promise<{ note: string }[]>;
  before(async () => {
    Object.assign(db, await createTestDatabase(options));
    effectsOf = await addEffectsTable(db);
  });
  after(() => db.close());
  return {
    db,
    effects: (jobId) => effectsOf(jobId),
    newQueue: () => `q-${Math.random().toString(36).slice(2)}`,
  };
}

/** Starts `worker`, runs `body`, and stops the worker whatever happens. */
export async function whileRunning<T>(worker: { start(): Promise<void>; stop(): Promise<void> }, body: () => Promise<T>): Promise<T> {
  await worker.start();
  try {
    return await body();
  } finally {
    await worker.stop();
  }
}

/** Polls `check` until it returns a truthy value, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  { timeoutMs = 10_000, intervalMs = 20, what = 'condition' }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A logger that records every event, for assertions. */
export function recordingLogger(): LogFunction & { events: { event: LogEvent; data: LogData }[]; names(): LogEvent[] } {
  const events: { event: LogEvent; data: LogData }[] = [];
  const log: LogFunction = (event, data) => void events.push({ event, data });
  return Object.assign(log, { events, names: () => events.map((e) => e.event) });
}

/** A promise with its resolve and reject exposed, to decide from a test when a handler finishes. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Waits until a worker's listening connection for `tables` has run its
 * LISTEN: a notification sent before that is not heard (the worker finds
 * new jobs and cancel requests by other ways, later).
 */
export async function untilListening(db: TestDatabase): Promise<void> {
  const channel = notifyChannel(db.tables);
  await waitFor(
    async () =>
      (
        await db.rows(`SELECT 1 FROM pg_stat_activity WHERE starts_with(query, $1) AND state = 'idle'`, [`LISTEN ${channel}`])
      ).length > 0,
    { what: 'a worker listening' },
  );
}
