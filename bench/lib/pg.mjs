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

/**
 * W8: per table of `schema` named in `tables`, its dead and live tuples (as
 * the statistics system last heard), its size with indexes and TOAST, and how
 * often autovacuum and autoanalyze have processed it. A partitioned table's
 * numbers are the sum of its partitions'.
 */
export async function tableStats(db, schema, tables) {
  if (tables.length === 0) return {};
  const { rows } = await db.query(
    `SELECT t.name,
            sum(s.n_dead_tup)::float8 AS dead_tuples,
            sum(s.n_live_tup)::float8 AS live_tuples,
            sum(pg_total_relation_size(p.relid))::float8 AS bytes,
            sum(s.autovacuum_count)::int AS autovacuums,
            sum(s.autoanalyze_count)::int AS autoanalyzes
     FROM unnest($2::text[]) AS t(name)
     CROSS JOIN LATERAL (SELECT format('%I.%I', $1::text, t.name)::regclass AS r) AS c
     -- pg_partition_tree() has no rows for a table that is not partitioned
     CROSS JOIN LATERAL (
       SELECT relid FROM pg_partition_tree(c.r) WHERE isleaf
       UNION ALL SELECT c.r WHERE NOT EXISTS (SELECT FROM pg_partition_tree(c.r))
     ) AS p
     JOIN pg_stat_user_tables s ON s.relid = p.relid
     GROUP BY t.name`,
    [schema, tables],
  );
  return Object.fromEntries(
    rows.map((r) => [
      r.name,
      { deadTuples: r.dead_tuples, liveTuples: r.live_tuples, bytes: r.bytes, autovacuums: r.autovacuums, autoanalyzes: r.autoanalyzes },
    ]),
  );
}
