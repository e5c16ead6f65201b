// pg-boss: jobs in its own schema. Workers fetch jobs in batches
// (batchSize), several polling workers per process (localConcurrency), fetch
// again at once while batches come back full (burstWhenBatchFull), and are
// woken by LISTEN/NOTIFY (useListenNotify + the queue's notify option).

import { SYSTEMS } from '../config.mjs';
import { databaseUrl, packageInfo } from '../lib/env.mjs';
import { ident, newPool } from '../lib/pg.mjs';

const cfg = SYSTEMS['pg-boss'];
const QUEUE = 'noop';

async function newBoss(ns, options) {
  const { PgBoss } = await import('pg-boss');
  // pg-boss names its connections 'pgboss…' unless told otherwise; a trial
  // process names them after its namespace (PGAPPNAME), which W8's kills match.
  const named = process.env.PGAPPNAME ? { application_name: process.env.PGAPPNAME } : {};
  const boss = new PgBoss({ connectionString: databaseUrl(), schema: ns, ...named, ...options });
  boss.errors = [];
  // Without a listener, an 'error' event would end the process.
  boss.on('error', (error) => boss.errors.push(error));
  return boss;
}

// A producer or admin instance: no maintenance, no cron.
const client = (ns, max) => newBoss(ns, { supervise: false, schedule: false, max });

async function insertChunks(boss, n) {
  const size = Math.min(n, cfg.insertChunk);
  let calls = 0;
  for (let from = 0; from < n; from += size) {
    const jobs = [];
    for (let i = from; i < Math.min(n, from + size); i++) jobs.push({ data: { i } });
    await boss.insert(QUEUE, jobs);
    calls += 1;
  }
  return { calls, jobsPerCall: size };
}

export default {
  name: 'pg-boss',
  packages: () => ({ 'pg-boss': packageInfo('pg-boss') }),
  settings: () => cfg,

  async available() {
    try {
      await import('pg-boss');
      return true;
    } catch (error) {
      return `cannot load pg-boss (${error.message})`;
    }
  },

  async admin(ns) {
    const boss = await client(ns, 2);
    const pool = newPool(1);
    return {
      async install() {
        await boss.start();
        await boss.createQueue(QUEUE, { notify: cfg.notify });
      },
      seed: (n) => insertChunks(boss, n),
      async pending() {
        const { rows } = await pool.query(
          `SELECT count(*)::int AS n FROM ${ident(ns)}.job WHERE name = $1 AND state IN ('created', 'retry', 'active')`,
          [QUEUE],
        );
        return rows[0].n;
      },
      async completed() {
        const { rows } = await pool.query(
          `SELECT count(*)::int AS n FROM ${ident(ns)}.job WHERE name = $1 AND state = 'completed'`,
          [QUEUE],
        );
        return rows[0].n;
      },
      // W8: due jobs not finished: waiting, waiting for a retry, or active.
      async due() {
        const { rows } = await pool.query(
          `SELECT count(*)::int AS n FROM ${ident(ns)}.job
           WHERE name = $1 AND state IN ('created', 'retry', 'active') AND start_after <= now()`,
          [QUEUE],
        );
        return rows[0].n;
      },
      // W8: failed for good, waiting for a retry, and active — which after the
      // final drain means stuck until the job expires (15 minutes by default).
      async failures() {
        const { rows } = await pool.query(
          `SELECT count(*) FILTER (WHERE state = 'failed')::int AS failed,
                  count(*) FILTER (WHERE state = 'retry')::int AS retrying,
                  count(*) FILTER (WHERE state = 'active')::int AS active
           FROM ${ident(ns)}.job WHERE name = $1 AND state IN ('failed', 'retry', 'active')`,
          [QUEUE],
        );
        return rows[0];
      },
      jobTables: ['job'],
      async close() {
        await boss.stop({ graceful: false, close: true, timeout: 1_000 });
        await pool.end();
      },
    };
  },

  async producer(ns) {
    const boss = await client(ns, 2);
    await boss.start();
    return {
      info: { insertChunk: cfg.insertChunk },
      enqueueBulk: (n) => insertChunks(boss, n),
      enqueueOne: (i) => boss.send(QUEUE, { i }),
      enqueuePayloads: (payloads) => boss.insert(QUEUE, payloads.map((data) => ({ data }))),
      close: () => boss.stop({ graceful: false, close: true, timeout: 1_000 }),
    };
  },

  // opts.concurrency (W8): that many polling workers, each running its
  // batch's handlers one after another, so that at most `concurrency` run at
  // once — as in proletarian's loops. Without it, every handler of a batch
  // runs at once. opts.settings overrides settings of bench/config.mjs.
  async worker(ns, handle, opts = {}) {
    const c = { ...cfg, ...opts.settings };
    const sequential = opts.concurrency !== undefined;
    const localConcurrency = opts.concurrency ?? c.localConcurrency;
    // One connection per polling worker, plus what the instance needs itself.
    const max = sequential ? localConcurrency + (c.max - c.localConcurrency) : c.max;
    const boss = await newBoss(ns, { useListenNotify: c.useListenNotify, max });
    await boss.start();
    return {
      info: { localConcurrency, batchSize: c.batchSize, max, sequential },
      report: () =>
        boss.errors.length
          ? { logged: countBy(boss.errors, (e) => `error: ${e.message.split(' (')[0].slice(0, 60)}`), firstProblem: boss.errors[0].message }
          : null,
      async start() {
        await boss.work(
          QUEUE,
          {
            localConcurrency,
            batchSize: c.batchSize,
            burstWhenBatchFull: c.burstWhenBatchFull,
            pollingIntervalSeconds: c.pollingIntervalSeconds,
          },
          sequential
            ? async (jobs) => {
                for (const job of jobs) await handle(job.data.i, undefined, job.data);
              }
            : async (jobs) => {
                await Promise.all(jobs.map((job) => handle(job.data.i, undefined, job.data)));
              },
        );
      },
      async stop({ tolerateErrors = false } = {}) {
        await boss.stop({ graceful: true, close: true, timeout: 10_000 });
        if (boss.errors.length && !tolerateErrors) throw boss.errors[0];
      },
    };
  },
};

function countBy(list, key) {
  const counts = {};
  for (const item of list) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}
