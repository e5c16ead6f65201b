import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { enqueueMany, migrate } from 'proletarian';

/** A fault the chaos run injects. */
export type FaultKind =
  | 'kill-9'
  | 'sigterm'
  | 'sigstop'
  | 'terminate-connections'
  | 'terminate-listener'
  | 'restart-fast'
  | 'restart-immediate';

export const ALL_FAULTS: readonly FaultKind[] = [
  'kill-9',
  'sigterm',
  'sigstop',
  'terminate-connections',
  'terminate-listener',
  'restart-fast',
  'restart-immediate',
];

export interface ChaosOptions {
  databaseUrl: string;
  /** Restarts the PostgreSQL server; without it, restart faults are left out. */
  restartDatabase?: (mode: 'fast' | 'immediate') => Promise<void>;
  /** Jobs to enqueue (committed and rolled back together). */
  jobs: number;
  /** Faults to inject while jobs are produced and worked. */
  faults: number;
  workers?: number;
  concurrency?: number;
  /** Fraction of producer transactions that roll back. */
  rollbackRate?: number;
  kinds?: readonly FaultKind[];
  /** Longest the queue may take to drain after the last fault. */
  drainTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface FaultRecord {
  kind: FaultKind;
  /** Milliseconds from the end of the fault until a job was archived again; null if the queue was already empty. */
  resumedInMs: number | null;
}

export interface ChaosReport {
  ok: boolean;
  violations: string[];
  committedJobs: number;
  rolledBackJobs: number;
  uncertainJobs: number;
  faults: FaultRecord[];
  durationMs: number;
}

const workerScript = fileURLToPath(new URL('./worker-process.js', import.meta.url));

/**
 * Runs worker processes against a queue while a producer keeps enqueueing
 * (some transactions rolled back) and faults are injected at random, then
 * checks that nothing was lost or done twice: every committed job archived
 * once as success with exactly one effect row, nothing of a rolled-back
 * transaction anywhere, and the job table empty.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const schema = `chaos_${randomBytes(5).toString('hex')}`;
  const workerCount = options.workers ?? 3;
  const concurrency = options.concurrency ?? 2;
  const kinds = (options.kinds ?? ALL_FAULTS).filter(
    (kind) => options.restartDatabase || !kind.startsWith('restart-'),
  );
  const adminPool = new pg.Pool({ connectionString: options.databaseUrl, max: 4, application_name: 'chaos-admin' });
  adminPool.on('error', () => {});
  // The observer's own connections die in database restarts too: retry.
  const admin = {
    async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
      for (let attempt = 1; ; attempt++) {
        try {
          return await adminPool.query<R>(text, values);
        } catch (error) {
          if (attempt >= 50) throw error;
          await sleep(200);
        }
      }
    },
  };
  await migrate(adminPool, { schema });
  // No primary key on purpose: a job whose writes committed twice must show up, not fail.
  await admin.query(`CREATE TABLE "${schema}".effects (job_id uuid NOT NULL, pid int NOT NULL)`);
  await admin.query(`CREATE TABLE "${schema}".lease_effects (job_id uuid PRIMARY KEY, pid int NOT NULL)`);

  const workers: (ChildWorker | null)[] = Array.from({ length: workerCount }, () =>
    startWorker(options.databaseUrl, schema, concurrency),
  );
  // Should this process die mid-run, its workers must not live on.
  const killWorkers = () => workers.forEach((w) => w?.child.kill('SIGKILL'));
  process.once('exit', killWorkers);
  // Paced so that production lasts about as long as the faults do: jobs keep
  // arriving under fire. Transactions hold 10.5 jobs on average.
  const expectedFaultsMs = options.faults * 700;
  const pauseMs = Math.max(0, expectedFaultsMs / (options.jobs / 10.5) - 3);
  const producer = startProducer(options.databaseUrl, schema, options.jobs, options.rollbackRate ?? 0.2, pauseMs);
  const faults: FaultRecord[] = [];
  try {
    await Promise.all(workers.map((w) => w!.ready));
    // Faults spread over the production, which is paced to last about as long.
    for (let i = 0; i < options.faults; i++) {
      await sleep(100 + Math.random() * 300);
      const kind = kinds[Math.floor(Math.random() * kinds.length)]!;
      await injectFault(kind);
      faults.push({ kind, resumedInMs: await resumeTime() });
      log(`fault ${i + 1}/${options.faults}: ${kind}, resumed in ${faults.at(-1)!.resumedInMs ?? '-'} ms`);
    }
    await producer.done;
    await waitForEmptyQueue(options.drainTimeoutMs ?? 60_000);
  } finally {
    producer.stop();
    await producer.done.catch(() => {});
    await Promise.all(workers.map((w) => w?.stop()));
    process.off('exit', killWorkers);
  }

  const violations = await verify(producer);
  await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
  await adminPool.end();
  return {
    ok: violations.length === 0,
    violations,
    committedJobs: producer.committed.size,
    rolledBackJobs: producer.rolledBack.size,
    uncertainJobs: producer.uncertain.size,
    faults,
    durationMs: Date.now() - started,
  };

  async function injectFault(kind: FaultKind): Promise<void> {
    const index = Math.floor(Math.random() * workers.length);
    const target = workers[index]!;
    switch (kind) {
      case 'kill-9':
        target.child.kill('SIGKILL');
        await target.exited;
        workers[index] = startWorker(options.databaseUrl, schema, concurrency);
        await workers[index]!.ready;
        return;
      case 'sigterm':
        await target.stop();
        workers[index] = startWorker(options.databaseUrl, schema, concurrency);
        await workers[index]!.ready;
        return;
      case 'sigstop':
        target.child.kill('SIGSTOP');
        await sleep(300 + Math.random() * 700); // longer than the poll interval
        target.child.kill('SIGCONT');
        return;
      case 'terminate-connections':
        await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE application_name = 'chaos-worker' AND random() < 0.5`,
        );
        return;
      case 'terminate-listener':
        await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE application_name = 'chaos-worker' AND query LIKE 'LISTEN %'`,
        );
        return;
      case 'restart-fast':
      case 'restart-immediate':
        await options.restartDatabase!(kind === 'restart-fast' ? 'fast' : 'immediate');
        return;
    }
  }

  /** Time until another job is archived; null when nothing is left to do. */
  async function resumeTime(): Promise<number | null> {
    const from = Date.now();
    const deadline = from + 30_000;
    let before: number | null = null;
    while (Date.now() < deadline) {
      try {
        const { rows } = await adminPool.query<{ archived: string; queued: string }>(
          `SELECT (SELECT count(*) FROM "${schema}".archived_job) AS archived,
                  (SELECT count(*) FROM "${schema}".job WHERE process_at <= now()) AS queued`,
        );
        const archived = Number(rows[0]!.archived);
        if (before === null) {
          if (Number(rows[0]!.queued) === 0) return null;
          before = archived;
        } else if (archived > before) {
          return Date.now() - from;
        }
      } catch {
        // the database may still be coming back
      }
      await sleep(20);
    }
    return Date.now() - from;
  }

  async function waitForEmptyQueue(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".job`);
      if (Number(rows[0]!.n) === 0) return;
      await sleep(100);
    }
  }

  async function verify(produced: Producer): Promise<string[]> {
    const problems: string[] = [];
    // Lease-mode jobs write to their own table (idempotently); count both.
    const allEffects = `(SELECT job_id FROM "${schema}".effects UNION ALL SELECT job_id FROM "${schema}".lease_effects) AS all_effects`;
    const ids = (set: Set<string>) => [...set];
    const left = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".job`);
    if (Number(left.rows[0]!.n) !== 0) problems.push(`${left.rows[0]!.n} jobs still queued`);

    const committed = await admin.query<{ archived: string; successes: string; effects: string; distinct_effects: string }>(
      `SELECT (SELECT count(*) FROM "${schema}".archived_job WHERE job_id = ANY($1::uuid[])) AS archived,
              (SELECT count(*) FROM "${schema}".archived_job WHERE job_id = ANY($1::uuid[]) AND status = 'success') AS successes,
              (SELECT count(*) FROM ${allEffects} WHERE job_id = ANY($1::uuid[])) AS effects,
              (SELECT count(DISTINCT job_id) FROM ${allEffects} WHERE job_id = ANY($1::uuid[])) AS distinct_effects`,
      [ids(produced.committed)],
    );
    const c = committed.rows[0]!;
    const n = produced.committed.size;
    if (Number(c.archived) !== n) problems.push(`${n} committed jobs, but ${c.archived} archived`);
    if (Number(c.successes) !== n) {
      const failures = await admin.query<{ error: string }>(
        `SELECT last_error->>'name' || ': ' || (last_error->>'message') AS error FROM "${schema}".archived_job
         WHERE job_id = ANY($1::uuid[]) AND status <> 'success' LIMIT 3`,
        [ids(produced.committed)],
      );
      problems.push(
        `${n} committed jobs, but ${c.successes} archived as success (${failures.rows.map((r) => r.error).join('; ')})`,
      );
    }
    if (Number(c.distinct_effects) !== n) problems.push(`${n} committed jobs, but ${c.distinct_effects} with effects`);
    if (Number(c.effects) !== Number(c.distinct_effects)) {
      problems.push(`${Number(c.effects) - Number(c.distinct_effects)} effects committed twice`);
    }

    const ghosts = await admin.query<{ n: string }>(
      `SELECT (SELECT count(*) FROM "${schema}".job WHERE job_id = ANY($1::uuid[]))
            + (SELECT count(*) FROM "${schema}".archived_job WHERE job_id = ANY($1::uuid[]))
            + (SELECT count(*) FROM ${allEffects} WHERE job_id = ANY($1::uuid[])) AS n`,
      [ids(produced.rolledBack)],
    );
    if (Number(ghosts.rows[0]!.n) !== 0) problems.push(`${ghosts.rows[0]!.n} traces of rolled-back jobs`);

    // A commit whose answer was lost to a fault may or may not have happened,
    // but either way its jobs must be all there, once, or not at all.
    const uncertain = await admin.query<{ archived: string; effects: string; distinct_effects: string }>(
      `SELECT (SELECT count(*) FROM "${schema}".archived_job WHERE job_id = ANY($1::uuid[]) AND status = 'success') AS archived,
              (SELECT count(*) FROM ${allEffects} WHERE job_id = ANY($1::uuid[])) AS effects,
              (SELECT count(DISTINCT job_id) FROM ${allEffects} WHERE job_id = ANY($1::uuid[])) AS distinct_effects`,
      [ids(produced.uncertain)],
    );
    const u = uncertain.rows[0]!;
    if (Number(u.archived) !== Number(u.distinct_effects) || Number(u.effects) !== Number(u.distinct_effects)) {
      problems.push(`uncertain commits inconsistent: ${u.archived} archived, ${u.effects} effects`);
    }

    const total = await admin.query<{ archived: string; effects: string }>(
      `SELECT (SELECT count(*) FROM "${schema}".archived_job) AS archived, (SELECT count(*) FROM ${allEffects}) AS effects`,
    );
    const known = n + Number(u.archived);
    if (Number(total.rows[0]!.archived) !== known) problems.push(`${total.rows[0]!.archived} archived jobs in all, expected ${known}`);
    if (Number(total.rows[0]!.effects) !== known) problems.push(`${total.rows[0]!.effects} effects in all, expected ${known}`);
    return problems;
  }
}

interface ChildWorker {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<void>;
  stop(): Promise<void>;
}

function startWorker(databaseUrl: string, schema: string, concurrency: number): ChildWorker {
  const child = spawn(process.execPath, [workerScript], {
    env: { ...process.env, DATABASE_URL: databaseUrl, SCHEMA: schema, CONCURRENCY: String(concurrency) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      if (chunk.includes('ready')) resolve();
    });
    void exited.then(() => reject(new Error('a chaos worker exited before it was ready')));
  });
  ready.catch(() => {});
  return {
    child,
    ready,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

interface Producer {
  committed: Set<string>;
  rolledBack: Set<string>;
  uncertain: Set<string>;
  done: Promise<void>;
  stop(): void;
}

/** Enqueues `total` jobs in small transactions of its own; some roll back on purpose. */
function startProducer(
  databaseUrl: string,
  schema: string,
  total: number,
  rollbackRate: number,
  pauseMs: number,
): Producer {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2, application_name: 'chaos-producer' });
  pool.on('error', () => {});
  const committed = new Set<string>();
  const rolledBack = new Set<string>();
  const uncertain = new Set<string>();
  let stopped = false;
  const done = (async () => {
    let produced = 0;
    while (produced < total && !stopped) {
      const size = Math.min(total - produced, 1 + Math.floor(Math.random() * 20));
      const rollback = Math.random() < rollbackRate;
      let client: pg.PoolClient | undefined;
      let ids: string[] = [];
      let committing = false;
      try {
        client = await pool.connect();
        // A checked-out client whose connection dies emits 'error'; the
        // failing query tells us, so the event only needs a listener.
        if (client.listenerCount('error') === 0) client.on('error', () => {});
        await client.query('BEGIN');
        ids = await enqueueMany(
          client,
          Array.from({ length: size }, () => ({
            // Mostly transaction mode; one job in ten under a lease.
            jobType: Math.random() < 0.1 ? 'lease-effect' : 'effect',
            payload: { failFirst: Math.random() < 0.05 ? 1 + Math.floor(Math.random() * 2) : 0 },
          })),
          { schema },
        );
        if (rollback) {
          await client.query('ROLLBACK');
          ids.forEach((id) => rolledBack.add(id));
        } else {
          committing = true;
          await client.query('COMMIT');
          ids.forEach((id) => committed.add(id));
        }
        produced += size;
        client.release();
      } catch {
        // Lost in a fault: before COMMIT was sent nothing was written; during
        // it, the outcome is unknown until we look.
        const outcome = committing ? uncertain : rolledBack;
        for (const id of ids) outcome.add(id);
        client?.release(true);
        if (committing) produced += size;
        await sleep(50);
      }
      await sleep(Math.random() * 2 * pauseMs);
    }
    await pool.end();
  })();
  return {
    committed,
    rolledBack,
    uncertain,
    done,
    stop: () => {
      stopped = true;
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
