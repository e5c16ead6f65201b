import type { Tables } from '../tables.js';
import type { Queryable } from '../types.js';

// SQL of the migrations bookkeeping table. The migrations themselves live in src/migrations/.

// First key of the two-key advisory lock: 'prol' in ASCII, so the lock is easy
// to spot in pg_locks and unlikely to collide with an app's own.
const MIGRATION_LOCK_KEY = 0x70726f6c;

/**
 * Serializes concurrent migrations until the transaction ends. Keyed on the
 * schema, not the tables: installations sharing a schema also share its
 * `CREATE SCHEMA`.
 */
export async function lockMigrations(client: Queryable, t: Tables): Promise<void> {
  // A row of something, not the function's void, which not every library can read (Prisma).
  await client.query('SELECT 1 AS locked FROM pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK_KEY, t.schema]);
}

export async function ensureMigrationsTable(client: Queryable, t: Tables): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${t.schema}`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${t.migrations} (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
}

/** The installed schema version: 0 when nothing is installed yet. */
export async function currentSchemaVersion(db: Queryable, t: Tables): Promise<number> {
  const result = await db.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${t.migrations}`);
  return result.rows[0]?.version ?? 0;
}

/** Like {@link currentSchemaVersion}, but 0 when the schema or table does not exist yet. */
export async function installedSchemaVersion(db: Queryable, t: Tables): Promise<number> {
  try {
    return await currentSchemaVersion(db, t);
  } catch (error) {
    if (isUndefinedTableOrSchema(error)) return 0;
    throw error;
  }
}

/** 42P01: undefined table; 3F000: undefined schema. */
export function isUndefinedTableOrSchema(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '42P01' || code === '3F000';
}

export async function recordMigration(client: Queryable, t: Tables, version: number, name: string): Promise<void> {
  await client.query(`INSERT INTO ${t.migrations} (version, name) VALUES ($1, $2)`, [version, name]);
}
