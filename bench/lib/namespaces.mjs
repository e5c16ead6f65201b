// Every trial works in a namespace of its own: a PostgreSQL schema and, for
// BullMQ, a Redis key prefix of the same name, `bench_<runner pid>_<n>_<system>`.
// The runner drops each one after its trial; names of runs that died (their
// pid is gone) are cleaned up at the start of the next run.

import { ident } from './pg.mjs';

let counter = 0;

export function newNamespace(system) {
  counter += 1;
  const short = system.replace(/[^a-z0-9]+/g, '').slice(0, 12);
  return `bench_${process.pid}_${counter}_${short}`;
}

const NAME = /^bench_(\d+)_\d+_[a-z0-9]+$/;

function ownerAlive(name) {
  const pid = Number(NAME.exec(name)?.[1]);
  if (!pid) return true;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/** Drops schemas left by benchmark runs that are no longer running. Returns their names. */
export async function dropStaleSchemas(db) {
  const { rows } = await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\\_%'`);
  const stale = rows.map((r) => r.nspname).filter((name) => NAME.test(name) && !ownerAlive(name));
  for (const name of stale) await db.query(`DROP SCHEMA IF EXISTS ${ident(name)} CASCADE`);
  return stale;
}

/** Deletes Redis keys left by benchmark runs that are no longer running. Returns how many. */
export async function deleteStaleRedisKeys(redis) {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', 'bench_*', 'COUNT', 1000);
    cursor = next;
    const stale = keys.filter((key) => {
      const prefix = key.split(':')[0];
      return NAME.test(prefix) && !ownerAlive(prefix);
    });
    if (stale.length) deleted += await redis.del(...stale);
  } while (cursor !== '0');
  return deleted;
}

/** Deletes every Redis key under a prefix. */
export async function deleteRedisPrefix(redis, prefix) {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}
