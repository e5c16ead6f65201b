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

// Silent too, but counts warnings and errors by their first words, for the
// worker's report (W8: what it logged while its connections were killed).
async function countingLogger() {
  const { Logger } = await lib();
  const logged = {};
  let firstProblem = null;
  const logger = new Logger(() => (level, message) => {
    if (level !== 'warning' && level !== 'error') return;
    const event = `${level}: ${String(message).split(/[:;(]/)[0].slice(0, 60).trim()}`;
    logged[event] = (logged[event] ?? 0) + 1;
    firstProblem ??= `${level}: ${String(message).slice(0, 300)}`;
  });
  return { logger, report: () => (firstProblem ? { logged, firstProblem } : null) };
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
      // W8: due jobs not finished, locked ones (fetched into a worker's local
      // queue or running) included; failed-for-good ones excluded.
      async due() {
        const { rows } = await pool.query(
          `SELECT count(*)::int AS n FROM ${ident(ns)}._private_jobs WHERE run_at <= now() AND attempts < max_attempts`,
        );
        return rows[0].n;
      },
      // W8: failed for good (attempts used up) and waiting for a retry; and
      // jobs locked, which after the final drain means stuck (a lock expires after 4 hours).
      async failures() {
        const { rows } = await pool.query(
          `SELECT count(*) FILTER (WHERE attempts >= max_attempts)::int AS failed,
                  count(*) FILTER (WHERE attempts > 0 AND attempts < max_attempts)::int AS retrying,
                  count(*) FILTER (WHERE locked_at IS NOT NULL)::int AS locked
           FROM ${ident(ns)}._private_jobs`,
        );
        return rows[0];
      },
      jobTables: ['_private_jobs'],
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
      enqueuePayloads: (payloads) => utils.addJobs(payloads.map((payload) => ({ identifier: TASK, payload }))),
      close: () => utils.release(),
    };
  },

  async worker(ns, handle, opts = {}) {
    const { run } = await lib();
    const { logger, report } = await countingLogger();
    const concurrency = opts.concurrency ?? cfg.concurrency;
    // At least one connection per job running, plus one for fetching.
    const maxPoolSize = Math.max(cfg.maxPoolSize, concurrency + 1);
    let runner;
    let fatal = null;
    let stopping = false;
    return {
      info: { concurrency, maxPoolSize, localQueueSize: cfg.localQueueSize },
      report: () => {
        const r = report();
        if (!fatal) return r;
        return { logged: { ...r?.logged, [`runner stopped: ${fatal.message.slice(0, 60)}`]: 1 }, firstProblem: r?.firstProblem ?? `runner stopped: ${fatal.message}` };
      },
      async start() {
        runner = await run({
          connectionString: databaseUrl(),
          schema: ns,
          logger,
          concurrency,
          maxPoolSize,
          noHandleSignals: true,
          taskList: { [TASK]: (payload) => handle(payload.i, undefined, payload) },
          preset: {
            worker: {
              localQueue: { size: cfg.localQueueSize },
              completeJobBatchDelay: cfg.completeJobBatchDelay,
              failJobBatchDelay: cfg.failJobBatchDelay,
            },
          },
        });
        // Settles when the runner stops, which it also does by itself after
        // errors it cannot get past; an app awaiting it would exit then. Kept
        // for the report instead, so that the stall shows.
        runner.promise.then(
          () => {
            if (!stopping) fatal ??= new Error('the runner stopped by itself');
          },
          (error) => {
            fatal ??= error;
          },
        );
      },
      async stop() {
        stopping = true;
        await runner?.stop();
      },
    };
  },
};
