import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type pg from 'pg';
import { enqueueMany } from 'proletarian';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';

// A batch's completion deletes its jobs by where the claim found their rows
// (a TID scan), not by id: `job_id = ANY(...)` can be served by any index
// holding job_id, the claim index too, and on a churning table's statistics
// the planner has chosen to read that whole index, dead entries and all,
// for each batch. Here the statement a worker sends is taken as it is and
// run under EXPLAIN ANALYZE on a table that churned and was analyzed. The
// statement is internal, so it is loaded from the build.

interface JobsModule {
  completeJobs(
    client: { query(config: pg.QueryConfig): Promise<unknown> },
    t: unknown,
    completions: ({ jobId: string; status: 'success' } | { jobId: string; status: 'claim-died'; abortedClaim: string; crashes: number; delayMs: null })[],
    claimed?: { at: readonly string[]; movable: boolean },
  ): Promise<void>;
}
interface TablesModule {
  resolveTables(options: { schema: string }): unknown;
}
interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];

let db: TestDatabase;
let jobs: JobsModule;
let tables: unknown;

before(async () => {
  db = await createTestDatabase();
  jobs = (await import(new URL('../../dist/sql/jobs.js', import.meta.url).href)) as JobsModule;
  const tablesModule = (await import(new URL('../../dist/tables.js', import.meta.url).href)) as TablesModule;
  tables = tablesModule.resolveTables({ schema: db.schema });
  // A table that churned: 30,000 jobs enqueued, all but 2,000 gone, then analyzed.
  for (let i = 0; i < 3; i++) {
    await enqueueMany(db.pool, Array.from({ length: 10_000 }, (_, k) => ({ jobType: 'job', payload: { k } })), db.tables);
  }
  await db.pool.query(`DELETE FROM "${db.schema}".job WHERE job_id NOT IN (SELECT job_id FROM "${db.schema}".job ORDER BY job_id DESC LIMIT 2000)`);
  await db.pool.query(`ANALYZE "${db.schema}".job`);
});

after(async () => {
  await db.close();
});

/** The completion statement for these jobs' success, as the worker would send it. */
async function completionOf(
  rows: { job_id: string; row_id: string }[],
  movable = false,
  notRun = 0,
): Promise<pg.QueryConfig> {
  let sent: pg.QueryConfig | undefined;
  const capture = { query: async (config: pg.QueryConfig) => void (sent = config) };
  // The first `notRun` jobs were not run (their last claim died), the others succeeded.
  const completions = rows.map((row, i) =>
    i < notRun
      ? { jobId: row.job_id, status: 'claim-died' as const, abortedClaim: '1', crashes: 0, delayMs: null }
      : { jobId: row.job_id, status: 'success' as const },
  );
  await jobs.completeJobs(capture, tables, completions, { at: rows.map((row) => row.row_id), movable });
  assert.ok(sent, 'a statement was sent');
  return sent;
}

/** Runs `statement` under EXPLAIN ANALYZE in a transaction rolled back after; returns its plan's nodes and the jobs archived. */
async function explained(statement: pg.QueryConfig, before = ''): Promise<{ nodes: PlanNode[]; archived: number }> {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    if (before) await client.query(before);
    const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>({
      text: `EXPLAIN (ANALYZE, FORMAT JSON) ${statement.text}`,
      values: statement.values,
    });
    const archived = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${db.schema}".archived_job`);
    return { nodes: nodesOf(rows[0]!['QUERY PLAN'][0].Plan), archived: archived.rows[0]!.n };
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

const claimedRows = (n: number) =>
  db.rows<{ job_id: string; row_id: string }>(
    `SELECT job_id, ctid::text AS row_id FROM "${db.schema}".job ORDER BY random() LIMIT ${n}`,
  );

for (const movable of [false, true]) {
  it(`deletes a batch's jobs by a TID scan, reading no index of the job table${movable ? ', when its handlers wrote' : ''}`, async () => {
    const { nodes, archived } = await explained(await completionOf(await claimedRows(40), movable));
    assert.equal(archived, 40);
    const onJobs = nodes.filter((node) => node['Relation Name'] === 'job' && node['Node Type'] !== 'ModifyTable');
    const ran = onJobs.filter((node) => (node['Actual Loops'] ?? 0) > 0).map((node) => node['Node Type']);
    assert.deepEqual(ran, ['Tid Scan'], JSON.stringify(onJobs));
  });
}

it("carries out a batch of mixed outcomes by a TID scan too, reading no index of the job table", async () => {
  const { nodes, archived } = await explained(await completionOf(await claimedRows(40), false, 5));
  assert.equal(archived, 35);
  const onJobs = nodes.filter((node) => node['Relation Name'] === 'job' && node['Node Type'] !== 'ModifyTable');
  const ran = new Set(onJobs.filter((node) => (node['Actual Loops'] ?? 0) > 0).map((node) => node['Node Type']));
  assert.deepEqual([...ran], ['Tid Scan'], JSON.stringify(onJobs));
});

it('finds by id the rows that moved since their claim, and archives each job once', async () => {
  const rows = await claimedRows(40);
  const moved = rows.slice(0, 5).map((row) => `'${row.job_id}'`).join(',');
  const { archived } = await explained(
    await completionOf(rows, true),
    `UPDATE "${db.schema}".job SET payload = payload WHERE job_id IN (${moved})`,
  );
  assert.equal(archived, 40);
});
