#!/usr/bin/env node
// Two builds of proletarian's worker in one process, drain after drain in
// turn: the way to tell a few percent apart on a machine whose speed drifts
// more than that between `npm run bench` runs.
//
//   npm run build && node bench/compare.mjs --a=DIR --b=DIR [--handler=update|noop] [--rounds=12] [--jobs=6000]
//
// DIR is a checkout with a built dist/ (`.` for this repository). Each round
// drains `jobs` jobs with each build, in a schema of its own, the order
// swapped every round; a handler `update` does W5's UPDATE through ctx.db,
// `noop` nothing (W3). Prints each build's median rate and CPU per job (this
// process's, so the worker's and the handlers'), and B ÷ A of the rates.
// Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).

import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import pg from 'pg';

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    handler: { type: 'string', default: 'update' },
    rounds: { type: 'string', default: '12' },
    jobs: { type: 'string', default: '6000' },
  },
});
if (!values.a || !values.b || !['update', 'noop'].includes(values.handler)) {
  console.error('usage: node bench/compare.mjs --a=DIR --b=DIR [--handler=update|noop] [--rounds=12] [--jobs=6000]');
  process.exit(1);
}
const rounds = Number(values.rounds);
const jobs = Number(values.jobs);
const url = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

const load = async (name, dir) => ({
  name,
  dir,
  lib: await import(pathToFileURL(path.resolve(dir, 'dist', 'index.js')).href),
});
const builds = [await load('A', values.a), await load('B', values.b)];

const admin = new pg.Pool({ connectionString: url, max: 2 });
const COUNTERS = 'bench_compare_counter';
await admin.query(
  `DROP TABLE IF EXISTS ${COUNTERS}; CREATE TABLE ${COUNTERS} (id int PRIMARY KEY, n int NOT NULL DEFAULT 0);
   INSERT INTO ${COUNTERS} SELECT g FROM generate_series(0, 999) AS g`,
);

/** One drain of `jobs` jobs by `build`'s worker; its rate and this process's CPU per job. */
async function drain(build, round) {
  const { createWorker, enqueueMany, migrate, silentLogger } = build.lib;
  const schema = `bench_compare_${build.name.toLowerCase()}_${round}`;
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await migrate(admin, { schema });
  for (let i = 0; i < jobs; i += 5_000) {
    const chunk = Array.from({ length: Math.min(5_000, jobs - i) }, (_, k) => ({ jobType: 'job', payload: { i: i + k } }));
    await enqueueMany(admin, chunk, { schema });
  }
  await admin.query(`VACUUM ANALYZE ${schema}.job`);
  const pool = new pg.Pool({ connectionString: url, max: 6 });
  let handled = 0;
  let allHandled;
  const all = new Promise((resolve) => (allHandled = resolve));
  const counted = () => {
    if (++handled === jobs) allHandled();
  };
  const handler =
    values.handler === 'update'
      ? async (payload, ctx) => {
          await ctx.db.query(`UPDATE ${COUNTERS} SET n = n + 1 WHERE id = $1`, [payload.i % 1000]);
          counted();
        }
      : counted;
  const worker = createWorker(pool, { schema, concurrency: 4, batchSize: 500, log: silentLogger, handlers: { job: handler } });
  const cpuAtStart = process.cpuUsage();
  const started = performance.now();
  await worker.start();
  await all;
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  await worker.stop();
  await pool.end();
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  return { rate: jobs / seconds, cpuUsPerJob: (cpu.user + cpu.system) / jobs };
}

const samples = { A: [], B: [] };
try {
  // One round first, unrecorded: it warms up pg's code and this process's for both.
  for (const build of builds) await drain(build, 'warmup');
  for (let round = 0; round < rounds; round++) {
    for (const build of round % 2 === 0 ? builds : [...builds].reverse()) samples[build.name].push(await drain(build, round));
  }
} finally {
  await admin.query(`DROP TABLE IF EXISTS ${COUNTERS}`);
  await admin.end();
}

const median = (xs) => {
  const sorted = [...xs].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)];
};
const rates = {};
for (const build of builds) {
  const own = samples[build.name];
  rates[build.name] = median(own.map((s) => s.rate));
  console.log(
    `${build.name} ${build.dir}: ${Math.round(rates[build.name]).toLocaleString('en-US')} jobs/s, ` +
      `${median(own.map((s) => s.cpuUsPerJob)).toFixed(1)} µs CPU per job (medians of ${own.length})`,
  );
}
console.log(`B ÷ A: ${(rates.B / rates.A).toFixed(2)} (${values.handler} handlers, ${jobs.toLocaleString('en-US')} jobs a drain)`);
