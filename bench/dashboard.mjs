#!/usr/bin/env node
// How long each dashboard page's data takes on large tables.
//
//   npm run build && DATABASE_URL=postgres://… node bench/dashboard.mjs [--keep] [--runs 7] [--out file.json]
//
// Seeds a schema of its own (dashboard_bench) with 1,000,000 archived jobs
// (finished over the last 30 days: 2% failed, 0.5% cancelled, 0.2%
// discarded), 100,000 waiting jobs and 10,000 scheduled ones (plus 1,000
// retrying), in 4 queues and 8 job types, 20 schedules and 20 workers; then
// requests every API behind the pages through the dashboard's own handler
// and prints the median and worst time of each (--out also writes them, with
// the machine, as JSON). Drops the schema at the end unless --keep (a second
// run with --keep reuses the data).

import fs from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { migrate } from '../dist/index.js';
import { createDashboard } from '../dist/dashboard/index.js';

const { values } = parseArgs({ options: { keep: { type: 'boolean' }, runs: { type: 'string' }, out: { type: 'string' } } });
const startedAt = Date.now();
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
           f - interval '2 seconds', f - interval '1 second',
           CASE WHEN i % 50 = 0 THEN 'failure' WHEN i % 200 = 1 THEN 'cancelled' WHEN i % 500 = 3 THEN 'discarded' ELSE 'success' END, f,
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
  // 20 schedules, as workers running them leave them; and as many workers.
  await pool.query(`
    INSERT INTO "${schema}".job_schedules (name, cron, timezone, job_type, queue, enqueued_until, last_slot, defined_at)
    SELECT 'schedule-' || i, (ARRAY['*/5 * * * *', '0 3 * * *', '0 6 * * MON', '*/30 * * * * *'])[1 + (i % 4)],
           (ARRAY['UTC', 'Europe/Oslo', 'America/New_York'])[1 + (i % 3)], ${type}, ${queue},
           now(), now() - interval '5 minutes', now() - interval '30 days'
    FROM generate_series(1, 20) i`);
  await pool.query(`
    INSERT INTO "${schema}".job_workers (instance_id, worker_id, queue, host, pid, concurrency, jobs_done)
    SELECT 'instance-' || i, 'worker-' || i, ${queue}, 'host-' || (i % 5), 1000 + i, 8, i * 1000
    FROM generate_series(1, 20) i`);
  // What autovacuum would have done by the time anyone looks.
  await pool.query(`VACUUM ANALYZE "${schema}".archived_job`);
  await pool.query(`VACUUM ANALYZE "${schema}".job`);
  console.log(`seeded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

await seed();
// The seeded workers are online while their heartbeat is recent.
await pool.query(`UPDATE "${schema}".job_workers SET last_seen_at = now()`);
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
// Text no job holds, and text one succeeded job holds (user424242's payload).
const NONE = 'no-such-text';
const RARE = 'user424242%40';
/** The page after the first of `path`: where a search that stopped at its bound goes on. */
const continued = async (path) => {
  const { next } = await get(path);
  return next ? `${path}&after=${next}` : null;
};

const pages = [
  ['Overview', 'api/overview'],
  ['Workers', 'api/workers'],
  ['Filter choices', 'api/names'],
  ['Schedules', 'api/schedules'],
  ['Jobs: waiting', 'api/jobs?state=waiting'],
  ['Jobs: waiting, next page', `api/jobs?state=waiting&after=${deepWaiting.next}`],
  ['Jobs: waiting, one queue, newest first', 'api/jobs?state=waiting&queue=emails&order=desc'],
  ['Jobs: scheduled', 'api/jobs?state=scheduled'],
  ['Jobs: retrying', 'api/jobs?state=retrying'],
  ['Jobs: running', 'api/jobs?state=running'],
  ['Jobs: succeeded', 'api/jobs?state=succeeded'],
  ['Jobs: succeeded, next page', `api/jobs?state=succeeded&after=${deepSucceeded.next}`],
  ['Jobs: succeeded, one queue and type, none match', 'api/jobs?state=succeeded&queue=emails&type=send-email'],
  ['Jobs: succeeded, text search, rare', `api/jobs?state=succeeded&q=${RARE}`],
  ['Jobs: succeeded, text search, none match', `api/jobs?state=succeeded&q=${NONE}`],
  ['Jobs: succeeded, text search, searched on', await continued(`api/jobs?state=succeeded&q=${NONE}`)],
  ['Jobs: failed', 'api/jobs?state=failed'],
  ['Jobs: failed, one queue and type, none match', 'api/jobs?state=failed&queue=emails&type=send-email'],
  ['Jobs: failed, text search', 'api/jobs?state=failed&q=failed%2012'],
  ['Jobs: failed, text search, none match', `api/jobs?state=failed&q=${NONE}`],
  ['Jobs: failed, text search, last day', `api/jobs?state=failed&q=failed%2012&from=${dayAgo}`],
  ['Jobs: cancelled', 'api/jobs?state=cancelled'],
  ['Jobs: discarded', 'api/jobs?state=discarded'],
  ['Jobs: waiting, text search', 'api/jobs?state=waiting&q=user4242%40'],
  ['Count: waiting', 'api/jobs/count?state=waiting'],
  ['Count: waiting, text search', 'api/jobs/count?state=waiting&q=user4242%40'],
  ['Count: succeeded', 'api/jobs/count?state=succeeded'],
  ['Count: succeeded, one queue and type, none match', 'api/jobs/count?state=succeeded&queue=emails&type=send-email'],
  ['Count: succeeded, text search, none match', `api/jobs/count?state=succeeded&q=${NONE}`],
  ['Count: failed', 'api/jobs/count?state=failed'],
  ['Count: failed, text search, none match', `api/jobs/count?state=failed&q=${NONE}`],
  ['Job: archived', `api/jobs/${archivedId}`],
  ['Job: waiting', `api/jobs/${waitingId}`],
];

const results = [];
console.log(`\n${'page'.padEnd(50)} ${'median'.padStart(8)} ${'worst'.padStart(8)}   (${runs} runs each, ms)`);
for (const [name, path] of pages) {
  if (path === null) {
    console.log(`${name.padEnd(50)} ${'—'.padStart(8)} ${'—'.padStart(8)}   (no such page)`);
    results.push({ page: name, path: null, medianMs: null, worstMs: null });
    continue;
  }
  await get(path); // warm
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await get(path);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const worst = times.at(-1);
  console.log(`${name.padEnd(50)} ${median.toFixed(1).padStart(8)} ${worst.toFixed(1).padStart(8)}`);
  results.push({ page: name, path, medianMs: round(median), worstMs: round(worst), timesMs: times.map(round) });
}

server.close();
if (values.out) {
  const { rows: [postgres] } = await pool.query('SELECT version() AS version');
  const report = {
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date().toISOString(),
    runs,
    volumes: { archived: ARCHIVED, waiting: WAITING, scheduled: SCHEDULED, retrying: RETRYING },
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? null,
      memoryBytes: os.totalmem(),
      platform: `${os.platform()} ${os.release()}`,
      node: process.version,
      postgres: postgres.version,
      loadAverage: os.loadavg(),
    },
    pages: results,
  };
  fs.mkdirSync(dirname(values.out), { recursive: true });
  fs.writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${values.out}`);
}
if (!values.keep) await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
await pool.end();

function round(ms) {
  return Math.round(ms * 10) / 10;
}
