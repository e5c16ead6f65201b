// graphile-worker: jobs in its own schema, handlers from a task list.
// Settings follow its performance documentation: a local queue (jobs fetched
// and locked in batches) and batched completion.

import { SYSTEMS } from '../config.mjs';
import { databaseUrl, packageInfo } from '../lib/env.mjs';
import { ident, newPool } from '../lib/pg.mjs';

const cfg = SYSTEMS['graphile-worker'];
const TASK = 'noop';

const lib = () => import('graphile-worker');

async function silentLogger() {
  const { Logger } = await lib();
  return new Logger(() => () => {});
}

async function utilsFor(ns) {
  const { makeWorkerUtils } = await lib();
  return makeWorkerUtils({ connectionString: databaseUrl(), schema: ns, logger: await silentLogger() });
}

async function addJobsChunks(utils, n) {
  const size = Math.min(n, cfg.addJobsChunk);
  let calls = 0;
  for (let from = 0; from < n; from += size) {
    const specs = [];
    for (let i = from; i < Math.min(n, from + size); i++) specs.push({ identifier: TASK, payload: { i } });
    await utils.addJobs(specs);
    calls += 1;
  }
  return { calls, jobsPerCall: size };
}

export default {
  name: 'graphile-worker',
  packages: () => ({ 'graphile-worker': packageInfo('graphile-worker') }),
  settings: () => cfg,

  async available() {
    try {
      await lib();
      return true;
    } catch (error) {
      return `cannot load graphile-worker (${error.message})`;
    }
  },

  async admin(ns) {
    const utils = await utilsFor(ns);
    const pool = newPool(1);
    return {
      install: () => utils.migrate(),
      seed: (n) => addJobsChunks(utils, n),
      async pending() {
        // Completed jobs are deleted; failed ones would stay, but no-ops do not fail.
        const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${ident(ns)}._private_jobs`);
        return rows[0].n;
      },
      completed: async () => null,
      async close() {
        await utils.release();
        await pool.end();
      },
    };
  },

  async producer(ns) {
    const utils = await utilsFor(ns);
    await utils.withPgClient((client) => client.query('SELECT 1'));
    return {
      info: { addJobsChunk: cfg.addJobsChunk },
      enqueueBulk: (n) => addJobsChunks(utils, n),
      enqueueOne: (i) => utils.addJob(TASK, { i }),
      close: () => utils.release(),
    };
  },

  async worker(ns, handle) {
    const { run } = await lib();
    const logger = await silentLogger();
    let runner;
    return {
      info: {},
      async start() {
        runner = await run({
          connectionString: databaseUrl(),
          schema: ns,
          logger,
          concurrency: cfg.concurrency,
          maxPoolSize: cfg.maxPoolSize,
          noHandleSignals: true,
          taskList: { [TASK]: (payload) => handle(payload.i) },
          preset: {
            worker: {
              localQueue: { size: cfg.localQueueSize },
              completeJobBatchDelay: cfg.completeJobBatchDelay,
              failJobBatchDelay: cfg.failJobBatchDelay,
            },
          },
        });
      },
      async stop() {
        await runner?.stop();
      },
    };
  },
};
