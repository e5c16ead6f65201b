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
  const boss = new PgBoss({ connectionString: databaseUrl(), schema: ns, ...options });
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
      close: () => boss.stop({ graceful: false, close: true, timeout: 1_000 }),
    };
  },

  async worker(ns, handle) {
    const boss = await newBoss(ns, { useListenNotify: cfg.useListenNotify, max: cfg.max });
    await boss.start();
    return {
      info: {},
      async start() {
        await boss.work(
          QUEUE,
          {
            localConcurrency: cfg.localConcurrency,
            batchSize: cfg.batchSize,
            burstWhenBatchFull: cfg.burstWhenBatchFull,
            pollingIntervalSeconds: cfg.pollingIntervalSeconds,
          },
          async (jobs) => {
            await Promise.all(jobs.map((job) => handle(job.data.i)));
          },
        );
      },
      async stop() {
        await boss.stop({ graceful: true, close: true, timeout: 10_000 });
        if (boss.errors.length) throw boss.errors[0];
      },
    };
  },
};
