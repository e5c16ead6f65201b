import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createTestDatabase, databaseUrl, type TestDatabase } from './helpers/database.js';

// The claim must stay one index scan in claim order that stops after the
// batch, whatever the table's statistics say: never gathered, gathered while
// the table was empty, or made stale by mass deletes. These tests take the
// plan the server actually ran for the worker's own claim calls (through
// auto_explain, reported to the session as a notice) and the buffers it
// read. The claim SQL is internal, so it is loaded from the build.

interface ClaimPosition {
  priority: number;
  dueMs: number | null;
}
interface ClaimRequest {
  claim: pg.QueryConfig;
  queue: string;
  jobTypes: readonly string[] | null;
  limit: number;
  claimFrom: ClaimPosition | null;
}
interface ClaimModule {
  batchClaimStatement(t: unknown, filter: 'all' | 'only' | 'except'): pg.QueryConfig;
  leaseClaimStatement(t: unknown): pg.QueryConfig;
  beginAndClaimJobs(
    client: pg.ClientBase,
    request: ClaimRequest,
  ): Promise<{ jobs: { job_id: string; process_at: Date; priority: number }[] }>;
  leaseNextJob(
    pool: pg.Pool,
    request: Omit<ClaimRequest, 'limit' | 'jobTypes'> & { jobTypes: readonly string[]; holder: string; leaseMs: number },
  ): Promise<{ job_id: string; due_ms: number } | null>;
}
interface TablesModule {
  resolveTables(options: { schema: string }): unknown;
}

/** One node of an EXPLAIN (FORMAT JSON) plan. */
interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

const QUEUE = 'claimed';
const JOBS = 100_000;
const BATCH = 50;
// A claim of 50 jobs touches their heap pages and a few index pages: far
// fewer than this, and far fewer than the thousands a scan over the
// backlog or over 100,000 dead entries reads.
const MAX_BUFFERS = 200;

describe('the claim plan', () => {
  let db: TestDatabase;
  let claims: ClaimModule;
  let tables: unknown;
  let pool: pg.Pool;
  before(async () => {
    db = await createTestDatabase({ migrate: false });
    claims = (await import(new URL('../../dist/sql/claim.js', import.meta.url).href)) as ClaimModule;
    const tablesModule = (await import(new URL('../../dist/tables.js', import.meta.url).href)) as TablesModule;
    tables = tablesModule.resolveTables({ schema: db.schema });
    // Each session that claims reports the plans of its statements; the
    // pool's 'connect' runs before any claim is sent on a new connection.
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
    pool.on('connect', (client) => {
      client.on('notice', (notice) => plansSeen.push(notice.message ?? ''));
      void client.query(EXPLAIN_EVERY_STATEMENT);
    });
  });
  after(async () => {
    await pool.end();
    await db.close();
  });

  const plansSeen: string[] = [];
  const EXPLAIN_EVERY_STATEMENT = `LOAD 'auto_explain';
    SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on; SET auto_explain.log_buffers = on;
    SET auto_explain.log_timing = off; SET auto_explain.log_format = json; SET auto_explain.log_level = notice`;

  /** Recreates the tables, in the state `prepare` leaves them, with autovacuum kept away. */
  async function freshTables(prepare: (job: string) => Promise<void>): Promise<void> {
    const { migrate } = await import('proletarian');
    await db.pool.query(`DROP SCHEMA IF EXISTS "${db.schema}" CASCADE`);
    await migrate(db.pool, db.tables);
    const job = `"${db.schema}".job`;
    await db.pool.query(`ALTER TABLE ${job} SET (autovacuum_enabled = false)`);
    await prepare(job);
  }

  /** `count` due jobs of `queue` (a millisecond apart in the past, oldest first), of alternating types. */
  async function insertDueJobs(job: string, queue: string, count: number, priority = 0): Promise<void> {
    await db.pool.query(
      `INSERT INTO ${job} (job_id, queue, job_type, payload, enqueued_at, process_at, priority)
       SELECT gen_random_uuid(), $1, CASE WHEN i % 2 = 0 THEN 'even' ELSE 'odd' END, '{"n": 1}',
              now() - interval '1 day', now() - interval '1 day' + i * interval '1 ms', $3
       FROM generate_series(1, $2::int) AS i`,
      [queue, count, priority],
    );
  }

  /** The plan of the claim statement `run` sends, with what it read. */
  async function claimPlan<T>(run: () => Promise<T>): Promise<{ result: T; plan: PlanNode }> {
    plansSeen.length = 0;
    const result = await run();
    const claims = plansSeen.filter((message) => message.includes('FOR UPDATE SKIP LOCKED'));
    assert.equal(claims.length, 1, `one claim statement explained; saw: ${plansSeen.join('\n---\n')}`);
    const json = claims[0]!.slice(claims[0]!.indexOf('{'));
    return { result, plan: (JSON.parse(json) as { Plan: PlanNode }).Plan };
  }

  async function batchClaim(claimFrom: ClaimPosition | null, jobTypes: readonly string[] | null = null) {
    const client = await pool.connect();
    try {
      return await claimPlan(async () => {
        const filter = jobTypes ? 'only' : 'all';
        const claim = claims.batchClaimStatement(tables, filter);
        const { jobs } = await claims.beginAndClaimJobs(client, { claim, queue: QUEUE, jobTypes, limit: BATCH, claimFrom });
        await client.query('COMMIT');
        return jobs;
      });
    } finally {
      client.release();
    }
  }

  function leaseClaim(claimFrom: ClaimPosition | null) {
    return claimPlan(() =>
      claims.leaseNextJob(pool, {
        claim: claims.leaseClaimStatement(tables),
        queue: QUEUE,
        jobTypes: ['even', 'odd'],
        holder: 'plan-test',
        leaseMs: 60_000,
        claimFrom,
      }),
    );
  }

  function assertIndexScanInClaimOrder(plan: PlanNode): void {
    const nodes = flatten(plan);
    const types = nodes.map((node) => node['Node Type']);
    const lockRows = nodes.find((node) => node['Node Type'] === 'LockRows');
    assert.ok(lockRows, `a LockRows node in ${types.join(', ')}`);
    const below = flatten(lockRows).slice(1);
    assert.deepEqual(
      below.map((node) => [node['Node Type'], node['Index Name']]),
      [['Index Scan', 'job_claim_order_idx']],
      'the rows to lock come straight from the claim index, in its order, with nothing sorted',
    );
    for (const kind of ['Seq Scan', 'Bitmap Heap Scan', 'Bitmap Index Scan']) {
      assert.ok(!types.includes(kind), `no ${kind} in ${types.join(', ')}`);
    }
  }

  function buffersRead(plan: PlanNode): number {
    return (plan['Shared Hit Blocks'] ?? 0) + (plan['Shared Read Blocks'] ?? 0);
  }

  it('is an index scan on a table never analyzed, with 100,000 due jobs and other queues', async () => {
    await freshTables(async (job) => {
      await insertDueJobs(job, QUEUE, JOBS);
      await insertDueJobs(job, 'other', 20_000);
    });
    const [stats] = await db.rows<{ analyzed: boolean }>(
      `SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL AS analyzed
       FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'job'`,
      [db.schema],
    );
    assert.equal(stats?.analyzed, false);

    for (const jobTypes of [null, ['odd']]) {
      const { result, plan } = await batchClaim(null, jobTypes);
      assert.equal(result.length, BATCH);
      assertIndexScanInClaimOrder(plan);
      assert.ok(buffersRead(plan) < MAX_BUFFERS, `read ${buffersRead(plan)} buffers`);
    }
    const { result: leased, plan } = await leaseClaim(null);
    assert.ok(leased);
    assertIndexScanInClaimOrder(plan);
    assert.ok(buffersRead(plan) < MAX_BUFFERS, `read ${buffersRead(plan)} buffers`);
  });

  it('is an index scan on a table analyzed while empty, then filled', async () => {
    await freshTables(async (job) => {
      await db.pool.query(`ANALYZE ${job}`);
      await insertDueJobs(job, QUEUE, JOBS);
    });
    const { result, plan } = await batchClaim(null);
    assert.equal(result.length, BATCH);
    assertIndexScanInClaimOrder(plan);
    assert.ok(buffersRead(plan) < MAX_BUFFERS, `read ${buffersRead(plan)} buffers`);
    const lease = await leaseClaim(null);
    assertIndexScanInClaimOrder(lease.plan);
  });

  it('reads a bounded number of buffers past 90,000 dead jobs that an old snapshot keeps from cleanup', async () => {
    await freshTables(async (job) => {
      await insertDueJobs(job, QUEUE, JOBS);
      await db.pool.query(`ANALYZE ${job}`);
    });
    // A session idle in a transaction holds back cleanup of every row that
    // was live when its snapshot was taken.
    const holder = new pg.Client({ connectionString: databaseUrl() });
    await holder.connect();
    try {
      await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await holder.query(`SELECT count(*) FROM "${db.schema}".job`);
      // What 90,000 finished jobs leave behind.
      await db.pool.query(
        `DELETE FROM "${db.schema}".job WHERE job_id IN (
           SELECT job_id FROM "${db.schema}".job ORDER BY process_at LIMIT 90000)`,
      );

      // A claim from the queue's start steps over every dead entry...
      const fromStart = await batchClaim(null);
      assert.equal(fromStart.result.length, BATCH);
      assertIndexScanInClaimOrder(fromStart.plan);
      assert.ok(buffersRead(fromStart.plan) > 1_000, `from the start: read ${buffersRead(fromStart.plan)} buffers`);

      // ...one from where the last claim found its oldest job steps over none of them.
      const claimFrom = { priority: 0, dueMs: fromStart.result[0]!.process_at.getTime() };
      for (let i = 0; i < 3; i++) {
        const next = await batchClaim(claimFrom);
        assert.equal(next.result.length, BATCH);
        assertIndexScanInClaimOrder(next.plan);
        assert.ok(buffersRead(next.plan) < MAX_BUFFERS, `from the last oldest job: read ${buffersRead(next.plan)} buffers`);
      }
      const lease = await leaseClaim(claimFrom);
      assertIndexScanInClaimOrder(lease.plan);
      assert.ok(buffersRead(lease.plan) < MAX_BUFFERS, `lease: read ${buffersRead(lease.plan)} buffers`);
    } finally {
      await holder.end();
    }
  });

  it('never takes a job due before its starting point, and takes every one after it', async () => {
    await freshTables(async (job) => insertDueJobs(job, QUEUE, 200));
    const all = await db.rows<{ job_id: string; due_ms: number }>(
      `SELECT job_id, floor(date_part('epoch', process_at) * 1000) AS due_ms
       FROM "${db.schema}".job ORDER BY process_at, job_id`,
    );
    const from = Number(all[100]!.due_ms);
    const { result } = await batchClaim({ priority: 0, dueMs: from });
    assert.deepEqual(
      result.map((row) => row.job_id),
      all.filter((row) => Number(row.due_ms) >= from).slice(0, BATCH).map((row) => row.job_id),
    );
  });

  it('takes the most urgent priority first, and from a position, the rest of its priority and then the less urgent', async () => {
    await freshTables(async (job) => {
      await insertDueJobs(job, QUEUE, 40_000, 5);
      await insertDueJobs(job, QUEUE, 40_000, 0);
      await insertDueJobs(job, QUEUE, 30, -3);
      await insertDueJobs(job, 'other', 10_000, -10);
    });
    const inOrder = await db.rows<{ job_id: string; priority: number; due_ms: number }>(
      `SELECT job_id, priority, floor(date_part('epoch', process_at) * 1000) AS due_ms
       FROM "${db.schema}".job WHERE queue = $1 ORDER BY priority, process_at, job_id`,
      [QUEUE],
    );
    const fromStart = await batchClaim(null);
    assertIndexScanInClaimOrder(fromStart.plan);
    assert.ok(buffersRead(fromStart.plan) < MAX_BUFFERS, `read ${buffersRead(fromStart.plan)} buffers`);
    assert.deepEqual(
      fromStart.result.map((row) => [row.priority, row.job_id]),
      inOrder.slice(0, BATCH).map((row) => [row.priority, row.job_id]),
      'the 30 jobs of priority -3 first, then the oldest of priority 0',
    );

    // From the last job of priority 0: that one, then the first of priority 5.
    const lastOfZero = inOrder.findLastIndex((row) => row.priority === 0);
    const from = { priority: 0, dueMs: Number(inOrder[lastOfZero]!.due_ms) };
    const next = await batchClaim(from);
    assertIndexScanInClaimOrder(next.plan);
    assert.ok(buffersRead(next.plan) < MAX_BUFFERS, `read ${buffersRead(next.plan)} buffers`);
    const expected = inOrder.filter((row) => row.priority > 0 || (row.priority === 0 && Number(row.due_ms) >= from.dueMs));
    assert.deepEqual(
      next.result.map((row) => row.job_id),
      expected.slice(0, BATCH).map((row) => row.job_id),
    );
    assert.deepEqual(
      [...new Set(next.result.map((row) => row.priority))],
      [0, 5],
    );
    const lease = await leaseClaim({ priority: 5, dueMs: null });
    assertIndexScanInClaimOrder(lease.plan);
  });
});

function flatten(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(flatten)];
}
