// PostgreSQL helpers shared by the runner and the system adapters.

import pg from 'pg';
import { databaseUrl } from './env.mjs';

export function newPool(max = 4, extra = {}) {
  const pool = new pg.Pool({ connectionString: databaseUrl(), max, ...extra });
  // An idle connection that dies must not crash the benchmark.
  pool.on('error', () => {});
  return pool;
}

/** Double-quotes an identifier the benchmark made itself (lower-case letters, digits, _). */
export function ident(name) {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad identifier ${name}`);
  return `"${name}"`;
}

export async function dropSchema(db, schema) {
  await db.query(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE`);
}

/**
 * VACUUM (ANALYZE) every table of a schema, then CHECKPOINT: run before each
 * timed phase that follows a bulk load, so that no system pays for
 * autovacuum, stale statistics or a checkpoint the load caused.
 */
export async function settle(db, schema) {
  const { rows } = await db.query(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'm')`,
    [schema],
  );
  for (const { relname } of rows) {
    await db.query(`VACUUM (ANALYZE) ${ident(schema)}.${ident(relname)}`);
  }
  try {
    await db.query('CHECKPOINT');
  } catch {
    // needs superuser (or pg_checkpoint); harmless without it
  }
}

/** Server version and the settings that matter for a queue's throughput. */
export async function serverInfo(db) {
  const names = ['server_version', 'max_connections', 'shared_buffers', 'synchronous_commit', 'fsync', 'wal_level', 'checkpoint_timeout', 'max_wal_size'];
  const info = {};
  for (const name of names) {
    try {
      info[name] = (await db.query(`SHOW ${name}`)).rows[0][name];
    } catch {
      info[name] = null;
    }
  }
  return info;
}
