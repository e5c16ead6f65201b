// A worker process of the chaos run. Env: DATABASE_URL, SCHEMA, CONCURRENCY.
// Each job writes one effect row through ctx.db, then does a little random
// work; a few fail once or twice and succeed on retry. Lease-mode jobs run
// outside a transaction, so their write is idempotent (a rerun after a crash
// finds it done).
import pg from 'pg';
import { createWorker, silentLogger } from 'proletarian';

const schema = process.env['SCHEMA']!;
const concurrency = Number(process.env['CONCURRENCY'] ?? '2');
const pool = new pg.Pool({
  connectionString: process.env['DATABASE_URL'],
  max: concurrency + 2,
  application_name: 'chaos-worker',
  connectionTimeoutMillis: 5_000,
});

const worker = createWorker(pool, {
  schema,
  concurrency,
  pollInterval: 100,
  handleSignals: true,
  log: silentLogger,
  retryStrategy: { retries: 20, delays: [10, 50, 200] },
  // Every injected fault aborts the runs in flight, and each such run counts
  // as abandoned; a job unlucky enough to be caught by three faults is no
  // poison job, so the limit here sits far above what a run can reach
  // (poison jobs have tests of their own).
  maxAbandonedRuns: 50,
  handlers: {
    effect: async (payload, ctx) => {
      await ctx.db.query(`INSERT INTO "${schema}".effects (job_id, pid) VALUES ($1, $2)`, [ctx.jobId, process.pid]);
      const { failFirst } = payload as { failFirst: number };
      if (ctx.attempt <= failFirst) throw new Error(`planned failure ${ctx.attempt} of ${failFirst}`);
      const roll = Math.random();
      // Mostly quick jobs; some slow enough that a fault lands mid-job.
      const work = roll < 0.9 ? roll * 2 : 20 + roll * 30;
      await new Promise((resolve) => setTimeout(resolve, work));
    },
    'lease-effect': {
      mode: 'lease',
      leaseDuration: 1_000,
      handler: async (payload, ctx) => {
        const { failFirst } = payload as { failFirst: number };
        await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 400));
        if (ctx.attempt <= failFirst) throw new Error(`planned failure ${ctx.attempt} of ${failFirst}`);
        await ctx.db.query(
          `INSERT INTO "${schema}".lease_effects (job_id, pid) VALUES ($1, $2) ON CONFLICT (job_id) DO NOTHING`,
          [ctx.jobId, process.pid],
        );
      },
    },
  },
});

await worker.start();
process.stdout.write('ready\n');
