// proletarian/testing under Vitest: the README's Vitest example, character
// for character below these lines (test/readme-vitest.test.ts checks); run
// by test/vitest.test.ts.
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { enqueue, migrate } from 'proletarian';
import { assertJobEnqueued, runJobs } from 'proletarian/testing';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
// The test file's own schema, so that test files running at once never meet.
const schema = `test_vitest_${Math.random().toString(36).slice(2, 10)}`;

beforeAll(() => migrate(pool, { schema }));
afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
});

test('signing up enqueues the confirmation email, which runs', async () => {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Your code under test, on the test's client: signUp(client, 'ada@example.com').
    await enqueue(client, 'confirmation-email', { email: 'ada@example.com' }, { schema });
    await assertJobEnqueued(client, 'confirmation-email', { email: 'ada@example.com' }, { schema });
    const sent: string[] = [];
    const runs = await runJobs(client, {
      schema,
      handlers: { 'confirmation-email': (payload) => void sent.push((payload as { email: string }).email) },
    });
    expect(runs.map((run) => run.outcome)).toEqual(['succeeded']);
    expect(sent).toEqual(['ada@example.com']);
    // It ran: no such job waits any more.
    await expect(assertJobEnqueued(client, 'confirmation-email', undefined, { schema })).rejects.toThrow(/found none/);
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
});
