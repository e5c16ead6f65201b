import type pg from 'pg';
import { setupProblem, sqlState } from './database-errors.js';
import { MigrationError, SchemaNotReadyError } from './errors.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from './migrations/index.js';
import {
  currentSchemaVersion,
  ensureMigrationsTable,
  installedSchemaVersion,
  isUndefinedTableOrSchema,
  lockMigrations,
  recordMigration,
} from './sql/migrations.js';
import { resolveTableOptions, type TableOptions, type Tables } from './tables.js';
import { adaptDb } from './db/adapt.js';
import type { DbClient } from './db/shapes.js';
import type { Queryable } from './types.js';

/** What {@link migrate} found and did. */
export interface MigrateResult {
  /** Schema version before the call (0: nothing was installed). */
  readonly fromVersion: number;
  /** Schema version after the call. */
  readonly toVersion: number;
  /** Versions applied by this call, in order; empty when already up to date. */
  readonly applied: readonly number[];
}

/**
 * Installs or upgrades Proletarian's tables. Every pending migration runs in
 * one transaction under an advisory lock, so several processes may call it at
 * start-up at once: one upgrades, the others wait and then find nothing to do.
 *
 * @param db a `pg.Pool` (a connection is taken for the duration) or a
 *   connected `pg.Client` that is not inside a transaction; or the instance
 *   of Kysely, Drizzle, knex, postgres.js or Prisma (the migrations run in a
 *   transaction it begins), or a transaction of theirs (they run in it, and
 *   commit with it).
 */
export async function migrate(db: DbClient, options: TableOptions = {}): Promise<MigrateResult> {
  const tables = resolveTableOptions(options, 'migrate');
  const adapted = adaptDb(db);
  if (adapted.library === 'pg') return migrateWithPg(db as pg.Pool | pg.Client, tables);
  try {
    const { queryable, transaction } = adapted;
    // A failed statement would abort the caller's transaction: the quick
    // look, which fails when nothing is installed yet, is for instances only.
    if (transaction === null) return await applyPending(queryable, tables);
    const installed = await installedSchemaVersion(queryable, tables);
    if (installed >= LATEST_SCHEMA_VERSION) return { fromVersion: installed, toVersion: installed, applied: [] };
    return await transaction((tx) => applyPending(tx, tables));
  } catch (error) {
    throw migrationFailed(tables, error);
  }
}

async function migrateWithPg(db: pg.Pool | pg.Client, tables: Tables): Promise<MigrateResult> {
  const pooled = isPool(db);
  let client: pg.ClientBase;
  try {
    client = pooled ? await db.connect() : db;
  } catch (error) {
    throw migrationFailed(tables, error);
  }
  // A pooled client whose connection dies emits 'error', which would crash
  // the process unheard; the failing query reports it to us anyway.
  const ignore = () => {};
  if (pooled) client.on('error', ignore);
  let failed = false;
  try {
    // Up to date is the common case at start-up: answer it with one read, which
    // also lets a role without CREATE privileges call migrate() harmlessly.
    const installed = await installedSchemaVersion(client, tables);
    if (installed >= LATEST_SCHEMA_VERSION) return { fromVersion: installed, toVersion: installed, applied: [] };
    await client.query('BEGIN');
    try {
      const result = await applyPending(client, tables);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  } catch (error) {
    failed = true;
    throw migrationFailed(tables, error);
  } finally {
    if (pooled) {
      client.off('error', ignore);
      (client as pg.PoolClient).release(failed);
    }
  }
}

/** Applies the pending migrations, in the transaction `db` is in. */
async function applyPending(db: Queryable, tables: Tables): Promise<MigrateResult> {
  await lockMigrations(db, tables);
  await ensureMigrationsTable(db, tables);
  const fromVersion = await currentSchemaVersion(db, tables);
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    if (migration.version <= fromVersion) continue;
    try {
      await db.query(migration.sql(tables));
    } catch (error) {
      throw new MigrationError(
        `migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}; nothing was changed`,
        { cause: error },
      );
    }
    await recordMigration(db, tables, migration.version, migration.name);
    applied.push(migration.version);
  }
  return { fromVersion, toVersion: Math.max(fromVersion, LATEST_SCHEMA_VERSION), applied };
}

/** `error` as a MigrationError; a setup problem's message says what to change. */
function migrationFailed(tables: Tables, error: unknown): MigrationError {
  if (error instanceof MigrationError) return error;
  const problem = setupProblem(error);
  // Missing tables are what migrate creates: only the other problems get a hint.
  const hint =
    problem?.kind === 'permission-denied'
      ? "; run migrate as the schema's owner, or as a role that may create schemas and tables"
      : problem && problem.kind !== 'schema-not-ready'
        ? `; ${problem.hint}`
        : '';
  const code = sqlState(error);
  return new MigrationError(
    `migrating ${tables.schema} failed: ${error instanceof Error ? error.message : String(error)}` +
      `${code ? ` (SQLSTATE ${code})` : ''}${hint}`,
    { cause: error },
  );
}

/**
 * Checks that the schema is installed and recent enough for this library.
 * Returns the installed version, which may be newer (a rolling deploy).
 */
export async function checkSchema(db: Queryable, tables: Tables): Promise<number> {
  let version: number;
  try {
    version = await currentSchemaVersion(db, tables);
  } catch (error) {
    if (isUndefinedTableOrSchema(error)) {
      throw new SchemaNotReadyError(
        `Proletarian's tables are not installed in schema ${tables.schema}; ` +
          'run `await migrate(pool)` or `npx proletarian migrate` first',
        { cause: error },
      );
    }
    throw error;
  }
  if (version < LATEST_SCHEMA_VERSION) {
    throw new SchemaNotReadyError(
      `schema ${tables.schema} is at version ${version} but this version of proletarian needs ${LATEST_SCHEMA_VERSION}; ` +
        'run `await migrate(pool)` or `npx proletarian migrate` to upgrade',
    );
  }
  return version;
}

/** Every migration as SQL, for users who manage their schema with another tool. */
export function schemaSql(options: TableOptions = {}): string {
  const tables = resolveTableOptions(options, 'schemaSql');
  const header = `CREATE SCHEMA IF NOT EXISTS ${tables.schema};

CREATE TABLE IF NOT EXISTS ${tables.migrations} (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
`;
  const steps = MIGRATIONS.map(
    (m) =>
      `-- Migration ${m.version}: ${m.name}\n${m.sql(tables).trim()}\n\nINSERT INTO ${tables.migrations} (version, name) VALUES (${m.version}, '${m.name.replaceAll("'", "''")}');\n`,
  );
  return [header, ...steps].join('\n');
}

function isPool(db: pg.Pool | pg.Client): db is pg.Pool {
  // pg.Pool and pg.Client both have connect(); only a pool counts its clients.
  return 'totalCount' in db;
}
