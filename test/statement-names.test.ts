import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import pg from 'pg';
import { createWorker, enqueue, migrate, silentLogger } from 'proletarian';
import { databaseUrl, deferred, waitFor } from './helpers/database.js';

// PostgreSQL truncates a prepared statement's name past 63 characters, so
// two statements whose names share their first 63 would collide on one
// connection. pg warns of such a name on stderr: with the longest schema and
// table names allowed, a worker's statements (claim, completion, heartbeat,
// enqueue) must not draw that warning.

const longest = (prefix: string) => `${prefix}${randomBytes(20).toString('hex')}`.slice(0, 40);
const tables = { schema: longest('test_'), jobTable: longest('jobs_') };
const pool = new pg.Pool({ connectionString: databaseUrl(), max: 6 });

before(async () => {
  await migrate(pool, tables);
});

after(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS "${tables.schema}" CASCADE`);
  await pool.end();
});

it('names every statement of a worker within 63 characters, with the longest schema and table names', async (t) => {
  const warnings: string[] = [];
  const write = console.error;
  t.after(() => (console.error = write));
  console.error = (...args: unknown[]) => {
    warnings.push(args.map(String).join(' '));
  };
  const ran = deferred();
  const worker = createWorker(pool, {
    ...tables,
    log: silentLogger,
    handlers: { 'statement-names': () => ran.resolve() },
  });
  await worker.start();
  try {
    await enqueue(pool, 'statement-names', {}, tables);
    await ran.promise;
    const workers = `"${tables.schema}"."${tables.jobTable}_workers"`;
    await waitFor(async () => (await pool.query(`SELECT 1 FROM ${workers}`)).rowCount, { what: 'the first heartbeat' });
  } finally {
    await worker.stop();
  }
  assert.deepEqual(warnings.filter((w) => w.includes('63 characters')), []);
});
