// proletarian: the build under test (this repository's dist/, or --proletarian=DIR).

import { SYSTEMS } from '../config.mjs';
import { loadProletarian, proletarianBuildInfo } from '../lib/env.mjs';
import { ident, newPool } from '../lib/pg.mjs';

const cfg = SYSTEMS.proletarian;
export const QUEUE = 'default';
const JOB_TYPE = 'noop';

/**
 * enqueueMany in calls of `chunk` jobs (Infinity: one call), payloads
 * { i: start … start+n-1 }; `placement(i)` adds options to job i (W9's priorities).
 */
export async function enqueueChunks(db, schema, n, chunk = cfg.enqueueChunk, start = 0, placement = () => ({})) {
  const { enqueueMany } = await loadProletarian();
  const size = Math.min(n, chunk);
  let calls = 0;
  for (let from = 0; from < n; from += size) {
    const specs = [];
    for (let i = from; i < Math.min(n, from + size); i++) {
      specs.push({ jobType: JOB_TYPE, payload: { i: start + i }, ...placement(start + i) });
    }
    await enqueueMany(db, specs, { schema });
    calls += 1;
  }
  return { calls, jobsPerCall: size };
}

/** Runner-side handle on one schema; shared with the raw-SQL loop of W7. */
export async function proletarianAdmin(ns) {
  const { migrate } = await loadProletarian();
  const pool = newPool(2);
  const s = ident(ns);
  return {
    pool,
    async install() {
      await migrate(pool, { schema: ns });
    },
    async seed(n) {
      await enqueueChunks(pool, ns, n);
    },
    // W9: n due jobs whose priorities cycle through `priorities` values
    // around 0, enqueued through enqueueMany like W3's; beside them, `future`
    // jobs of the same priorities due a day later and `keyed` jobs with
    // unique keys, also due a day later (due ones would be drained too).
    async seedLifecycleMix({ jobs, priorities, future, keyed }) {
      const priorityOf = (i) => (i % priorities) - Math.floor(priorities / 2);
      await enqueueChunks(pool, ns, jobs, cfg.enqueueChunk, 0, (i) => ({ priority: priorityOf(i) }));
      const later = new Date(Date.now() + 24 * 3600_000);
      await enqueueChunks(pool, ns, future, cfg.enqueueChunk, jobs, (i) => ({ priority: priorityOf(i), processAt: later }));
      await enqueueChunks(pool, ns, keyed, cfg.enqueueChunk, jobs + future, (i) => ({ uniqueKey: `key-${i}`, processAt: later }));
    },
    // Jobs of the queue not yet archived: due ones, and any whose process_at
    // moved a little ahead (a retry's delay, a lease) — but not W6's jobs
    // scheduled a day ahead. Served by the claim index.
    async pending() {
      const { rows } = await pool.query(
        `SELECT count(*)::int AS n FROM ${s}.job WHERE queue = $1 AND process_at < now() + interval '12 hours'`,
        [QUEUE],
      );
      return rows[0].n;
    },
    // What went wrong, if anything: jobs left, jobs that needed more than one
    // attempt or failed. Null when nothing did.
    async diagnose() {
      const { rows } = await pool.query(
        `SELECT
           (SELECT count(*)::int FROM ${s}.job WHERE queue = $1 AND process_at < now() + interval '12 hours') AS queued,
           (SELECT count(*)::int FROM ${s}.job WHERE queue = $1 AND attempts > 0) AS retrying,
           (SELECT count(*)::int FROM ${s}.archived_job WHERE queue = $1 AND finished_at > now() - interval '1 day' AND (attempts > 1 OR status <> 'success')) AS retried_or_failed,
           (SELECT last_error::text FROM ${s}.archived_job WHERE queue = $1 AND last_error IS NOT NULL
              UNION ALL SELECT last_error::text FROM ${s}.job WHERE queue = $1 AND last_error IS NOT NULL LIMIT 1) AS last_error`,
        [QUEUE],
      );
      const d = rows[0];
      if (!d.queued && !d.retrying && !d.retried_or_failed) return null;
      return (
        `${d.queued} jobs still queued, ${d.retrying} waiting for a retry, ${d.retried_or_failed} archived after more than one attempt or failed` +
        (d.last_error ? `; an error: ${d.last_error.slice(0, 300)}` : '')
      );
    },
    async completed() {
      const { rows } = await pool.query(
        `SELECT count(*)::int AS n FROM ${s}.archived_job WHERE queue = $1 AND status = 'success' AND job_type = $2`,
        [QUEUE, JOB_TYPE],
      );
      return rows[0].n;
    },
    // W8: due jobs not finished — waiting, or claimed by a batch that has not
    // committed yet (their rows stay until it does). Served by the claim index.
    async due() {
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${s}.job WHERE queue = $1 AND process_at <= now()`, [QUEUE]);
      return rows[0].n;
    },
    // W8: jobs archived as failed (a set-aside job's last_error is an
    // AbandonedJobError), by error name, and jobs waiting for a retry.
    async failures() {
      const { rows } = await pool.query(
        `SELECT coalesce(last_error->>'name', 'none') AS name, count(*)::int AS n
         FROM ${s}.archived_job WHERE queue = $1 AND status = 'failure' GROUP BY 1`,
        [QUEUE],
      );
      const retrying = (await pool.query(`SELECT count(*)::int AS n FROM ${s}.job WHERE queue = $1 AND attempts > 0`, [QUEUE])).rows[0].n;
      const byError = Object.fromEntries(rows.map((r) => [r.name, r.n]));
      return { failed: rows.reduce((sum, r) => sum + r.n, 0), retrying, byError };
    },
    jobTables: ['job'],
    // W6: the large-table case, filled with plain SQL: finished jobs in the
    // archive, jobs scheduled for later in the same queue, and due jobs of
    // another queue (which this worker must pass over).
    async seedLargeTables({ archived, future, otherQueue }) {
      await pool.query(
        `INSERT INTO ${s}.archived_job (job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status, finished_at)
         SELECT gen_random_uuid(), $1, $2, jsonb_build_object('i', g), 1,
                now() - interval '2 days', now() - interval '2 days', 'success', now() - interval '2 days' + g * interval '1 ms'
         FROM generate_series(1, $3::int) AS g`,
        [QUEUE, JOB_TYPE, archived],
      );
      await pool.query(
        `INSERT INTO ${s}.job (job_id, queue, job_type, payload, enqueued_at, process_at)
         SELECT gen_random_uuid(), $1, $2, jsonb_build_object('i', g), now(), now() + interval '1 day' + g * interval '1 ms'
         FROM generate_series(1, $3::int) AS g`,
        [QUEUE, JOB_TYPE, future],
      );
      await pool.query(
        `INSERT INTO ${s}.job (job_id, queue, job_type, payload, enqueued_at, process_at)
         SELECT gen_random_uuid(), 'other', $1, jsonb_build_object('i', g), now(), now()
         FROM generate_series(1, $2::int) AS g`,
        [JOB_TYPE, otherQueue],
      );
    },
    async close() {
      await pool.end();
    },
  };
}

export default {
  name: 'proletarian',
  packages: () => ({ proletarian: proletarianBuildInfo() }),
  settings: () => cfg,

  async available() {
    try {
      await loadProletarian();
      return true;
    } catch (error) {
      return `cannot load the proletarian build (${error.message}); run \`npm run build\``;
    }
  },

  admin: proletarianAdmin,

  async producer(ns) {
    const { enqueue, enqueueMany } = await loadProletarian();
    const pool = newPool(1);
    await pool.query('SELECT 1');
    return {
      info: { enqueueChunk: cfg.enqueueChunk },
      enqueueBulk: (n) => enqueueChunks(pool, ns, n),
      enqueueOne: (i) => enqueue(pool, JOB_TYPE, { i }, { schema: ns }),
      enqueuePayloads: (payloads) => enqueueMany(pool, payloads.map((payload) => ({ jobType: JOB_TYPE, payload })), { schema: ns }),
      close: () => pool.end(),
    };
  },

  async worker(ns, handle, opts = {}) {
    const { createWorker, InvalidOptionError } = await loadProletarian();
    const concurrency = opts.concurrency ?? cfg.concurrency;
    const pool = newPool(concurrency + 2);
    // Silent, but counts warnings and errors (polling errors, retries…), which
    // a benchmark run should not have; builds that know isLevelEnabled do not
    // even build the other events.
    const logged = {};
    let firstProblem = null;
    const log = Object.assign(
      (event, data) => {
        if (data?.level !== 'warn' && data?.level !== 'error') return;
        logged[event] = (logged[event] ?? 0) + 1;
        firstProblem ??= `${event}: ${data.error?.message ?? data.message ?? JSON.stringify(data).slice(0, 200)}`;
      },
      { isLevelEnabled: (level) => level === 'warn' || level === 'error' },
    );
    const options = {
      schema: ns,
      queue: QUEUE,
      concurrency,
      log,
      shutdownTimeout: 5_000,
      handlers: { [JOB_TYPE]: (payload, ctx) => handle(payload.i, ctx.db, payload) },
    };
    if (cfg.pollInterval !== undefined) options.pollInterval = cfg.pollInterval;
    // Options of newer builds: pass each only if this build accepts it.
    const optional = { ...cfg.optional };
    const unsupported = [];
    let worker;
    for (;;) {
      try {
        worker = createWorker(pool, { ...options, ...optional });
        break;
      } catch (error) {
        const key = error instanceof InvalidOptionError && Object.keys(optional).find((k) => namesOption(error.message, k));
        if (!key) throw error;
        unsupported.push(key);
        delete optional[key];
      }
    }
    return {
      info: { applied: optional, unsupported, concurrency, poolMax: concurrency + 2 },
      report: () => (firstProblem ? { logged, firstProblem } : null),
      start: () => worker.start(),
      async stop() {
        await worker.stop();
        await pool.end();
      },
    };
  },
};

// True when an InvalidOptionError is about `key`: "unknown worker option "batchSize";
// known options: …" or "batchSize must be …" (the list after ";" does not count).
function namesOption(message, key) {
  const head = message.split(';')[0];
  return head.includes(`"${key}"`) || head.startsWith(`${key} `);
}
