#!/usr/bin/env node
// How long each dashboard page's data takes on large tables.
//
//   npm run build && DATABASE_URL=postgres://… node bench/dashboard.mjs [--keep] [--runs 7]
//
// Seeds a schema of its own (dashboard_bench) with 1,000,000 archived jobs
// (finished over the last 30 days, 2% failed), 100,000 waiting jobs and
// 10,000 scheduled ones (plus 1,000 retrying), in 4 queues and 8 job types;
// then requests every API behind the pages through the dashboard's own
// handler and prints the median and worst time of each. Drops the schema at
// the end unless --keep (a second run with --keep reuses the data).

import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { migrate } from '../dist/index.js';
import { createDashboard } from '../dist/dashboard/index.js';

const { values } = parseArgs({ options: { keep: { type: 'boolean' }, runs: { type: 'string' } } });
const runs = Number(values.runs ?? 7);
const url = process.env.DATABASE_URL;
if (!url) {
  console.error('set DATABASE_URL');
  process.exit(1);
}
const schema = 'dashboard_bench';
const tables = { schema };
const pool = new pg.Pool({ connectionString: url, max: 4 });

const ARCHIVED = 1_000_000;
const WAITING = 100_000;
const SCHEDULED = 10_000;
const RETRYING = 1_000;

async function seed() {
  const { rows } = await pool.query(`SELECT to_regclass('"${schema}".archived_job') AS t`);
  if (rows[0].t) {
    const { rows: [{ n }] } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".archived_job`);
    if (n === ARCHIVED) return console.log(`reusing the seeded schema ${schema}`);
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
  }
  await migrate(pool, tables);
  const started = Date.now();
  const queue = `(ARRAY['default','emails','reports','webhooks'])[1 + (i % 4)]`;
  const type = `(ARRAY['send-email','render-pdf','sync-user','charge-card','reindex','notify','import-row','cleanup'])[1 + (i % 8)]`;
  const payload = `jsonb_build_object('userId', i, 'email', 'user' || i || '@example.com', 'note', md5(i::text))`;
  await pool.query(`
    INSERT INTO "${schema}".archived_job (job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status, finished_at, last_error, priority)
    SELECT gen_random_uuid(), ${queue}, ${type}, ${payload}, CASE WHEN i % 50 = 0 THEN 3 ELSE 1 END,
           f - interval '2 seconds', f - interval '1 second', CASE WHEN i % 50 = 0 THEN 'failure' ELSE 'success' END, f,
           CASE WHEN i % 50 = 0 THEN jsonb_build_object('name', 'Error', 'message', 'failed ' || i, 'stack', 'Error: failed\n    at handler', 'attempt', 3) END,
           0
    FROM (SELECT i, now() - random() * interval '30 days' AS f FROM generate_series(1, ${ARCHIVED}) i) s
    ORDER BY f`); // archived in the order jobs finish, as workers do
  await pool.query(`
    INSERT INTO "${schema}".job (job_id, queue, job_type, payload, enqueued_at, process_at)
    SELECT gen_random_uuid(), ${queue}, ${type}, ${payload}, d, d
    FROM (SELECT i, now() - random() * interval '1 hour' AS d FROM generate_series(1, ${WAITING}) i) s`);
  await pool.query(`
    INSERT INTO "${schema}".job (job_id, queue, job_type, payload, process_at)
    SELECT gen_random_uuid(), ${queue}, ${type}, ${payload}, now() + random() * interval '1 day'
    FROM generate_series(1, ${SCHEDULED}) i`);
  await pool.query(`
    INSERT INTO "${schema}".job (job_id, queue, job_type, payload, attempts, process_at, last_error)
    SELECT gen_random_uuid(), ${queue}, ${type}, ${payload}, 1, now() + random() * interval '1 hour',
           jsonb_build_object('name', 'Error', 'message', 'retry me ' || i, 'attempt', 1)
    FROM generate_series(1, ${RETRYING}) i`);
  // What autovacuum would have done by the time anyone looks.
  await pool.query(`VACUUM ANALYZE "${schema}".archived_job`);
  await pool.query(`VACUUM ANALYZE "${schema}".job`);
  console.log(`seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

await seed();
const handler = createDashboard(pool, tables);
const server = createServer((req, res) => handler(req, res));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}/`;
const get = async (path) => {
  const response = await fetch(base + path);
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
};

const archivedId = (await pool.query(`SELECT job_id FROM "${schema}".archived_job WHERE status = 'failure' LIMIT 1`)).rows[0].job_id;
const waitingId = (await pool.query(`SELECT job_id FROM "${schema}".job LIMIT 1`)).rows[0].job_id;
const deepSucceeded = await get('api/jobs?state=succeeded');
const deepWaiting = await get('api/jobs?state=waiting');
const dayAgo = new Date(Date.now() - 86_400_000).toISOString();

const pages = [
  ['Overview', 'api/overview'],
  ['Workers', 'api/workers'],
  ['Filter choices', 'api/names'],
  ['Jobs: waiting', 'api/jobs?state=waiting'],
  ['Jobs: waiting, next page', `api/jobs?state=waiting&after=${deepWaiting.next}`],
  ['Jobs: waiting, one queue, newest first', 'api/jobs?state=waiting&queue=emails&order=desc'],
  ['Jobs: scheduled', 'api/jobs?state=scheduled'],
  ['Jobs: retrying', 'api/jobs?state=retrying'],
  ['Jobs: running', 'api/jobs?state=running'],
  ['Jobs: succeeded', 'api/jobs?state=succeeded'],
  ['Jobs: succeeded, next page', `api/jobs?state=succeeded&after=${deepSucceeded.next}`],
  ['Jobs: failed', 'api/jobs?state=failed'],
  ['Jobs: failed, one queue and type', 'api/jobs?state=failed&queue=emails&type=send-email'],
  ['Jobs: failed, text search, last day', `api/jobs?state=failed&q=failed%2012&from=${dayAgo}`],
  ['Jobs: waiting, text search', 'api/jobs?state=waiting&q=user4242%40'],
  ['Job: archived', `api/jobs/${archivedId}`],
  ['Job: waiting', `api/jobs/${waitingId}`],
];

console.log(`\n${'page'.padEnd(42)} ${'median'.padStart(8)} ${'worst'.padStart(8)}   (${runs} runs each, ms)`);
for (const [name, path] of pages) {
  await get(path); // warm
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await get(path);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  console.log(`${name.padEnd(42)} ${times[Math.floor(times.length / 2)].toFixed(1).padStart(8)} ${times.at(-1).toFixed(1).padStart(8)}`);
}

server.close();
if (!values.keep) await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
await pool.end();
