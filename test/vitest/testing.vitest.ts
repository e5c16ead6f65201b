// proletarian/testing under Vitest, as in the README; run by test/vitest.test.ts.
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { enqueue, migrate } from 'proletarian';
import { assertJobEnqueued, runJobs } from 'proletarian/testing';

const pool = new pg.Pool({ connectionString: process.env['DATABASE_URL'] });
const schema = `test_vitest_${Math.random().toString(36).slice(2, 10)}`;

beforeAll(() => migrate(pool, { schema }));
afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

test('a sign-up enqueues its welcome email, which runs', async () => {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await enqueue(client, 'welcome-email', { email: 'ada@example.com' }, { schema });
    await assertJobEnqueued(client, 'welcome-email', { email: 'ada@example.com' }, { schema });
    const sent: string[] = [];
    const runs = await runJobs(client, {
      schema,
      handlers: { 'welcome-email': (payload) => void sent.push((payload as { email: string }).email) },
    });
    expect(runs.map((run) => run.outcome)).toEqual(['succeeded']);
    expect(sent).toEqual(['ada@example.com']);
    await expect(assertJobEnqueued(client, 'welcome-email', undefined, { schema })).rejects.toThrow(/found none/);
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
});
