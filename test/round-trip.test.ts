import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { databaseUrl } from './helpers/database.js';

// The statements the worker sends ahead of a query in the same round trip
// (BEGIN before a claim, SAVEPOINT before a handler's first query, the
// completion before COMMIT). Internal, so loaded from the build.
interface RoundTripModule {
  queryAfter<R extends pg.QueryResultRow>(
    client: pg.ClientBase,
    leading: readonly { text: string; values?: readonly unknown[] }[],
    query: string | pg.QueryConfig,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> | null;
  queryBetween<R extends pg.QueryResultRow>(
    client: pg.ClientBase,
    leading: readonly { text: string; values?: readonly unknown[] }[],
    query: string | pg.QueryConfig,
    trailing: readonly { text: string; values?: readonly unknown[] }[],
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> | null;
}

describe('statements sent ahead of a query', () => {
  let roundTrip: RoundTripModule;
  let client: pg.Client;
  before(async () => {
    roundTrip = (await import(new URL('../../dist/sql/round-trip.js', import.meta.url).href)) as RoundTripModule;
    client = new pg.Client({ connectionString: databaseUrl() });
    await client.connect();
  });
  after(() => client.end());

  const queryAfter = <R extends pg.QueryResultRow>(
    leading: readonly { text: string; values?: readonly unknown[] }[],
    query: string | pg.QueryConfig,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> => {
    const sent = roundTrip.queryAfter<R>(client, leading, query, values);
    assert.ok(sent, 'a plain pg.Client takes statements ahead');
    return sent;
  };

  it('runs the leading statements first, in order, and resolves with the query result alone', async () => {
    const result = await queryAfter<{ n: number; setting: string }>(
      [{ text: 'BEGIN' }, { text: "SELECT set_config('proletarian.test', $1, true)", values: ['ahead'] }],
      "SELECT $1::int AS n, current_setting('proletarian.test') AS setting",
      [7],
    );
    assert.equal(result.command, 'SELECT');
    assert.deepEqual(result.rows, [{ n: 7, setting: 'ahead' }]);
    // Still in the transaction: its local setting is still there.
    const after = await client.query<{ setting: string }>("SELECT current_setting('proletarian.test') AS setting");
    assert.deepEqual(after.rows, [{ setting: 'ahead' }]);
    const commit = await queryAfter([], 'COMMIT');
    assert.equal(commit.command, 'COMMIT');
  });

  it('counts an empty leading statement as answered', async () => {
    const result = await queryAfter<{ n: number }>([{ text: '' }, { text: 'SELECT 1' }], 'SELECT 5 AS n');
    assert.deepEqual(result.rows, [{ n: 5 }]);
  });

  it('converts leading values as pg does (arrays, null)', async () => {
    const result = await queryAfter<{ v: string }>(
      [
        { text: 'CREATE TEMP TABLE ahead_values (ids int[], note text)' },
        { text: 'INSERT INTO ahead_values VALUES ($1, $2)', values: [[1, 2, 3], null] },
      ],
      "SELECT ids::text || '/' || coalesce(note, 'null') AS v FROM ahead_values",
    );
    assert.deepEqual(result.rows, [{ v: '{1,2,3}/null' }]);
  });

  it('keeps named statements, row mode and type parsers of the query', async () => {
    const query = { name: 'ahead_named', text: 'SELECT $1::int AS n, now() AS at', rowMode: 'array' as const };
    for (const n of [1, 2, 3]) {
      const result = await queryAfter<[number, Date]>([{ text: 'SELECT 1' }], { ...query, values: [n] });
      assert.equal(result.rows[0]![0], n);
      assert.ok(result.rows[0]![1] instanceof Date);
    }
    // pg knows the statement is prepared, and it really is.
    const { rows } = await client.query<{ n: number }>({ name: 'ahead_named', text: query.text, values: [4] });
    assert.equal(rows[0]!.n, 4);
  });

  it('fails the query with the error of a failing leading statement, and the connection goes on', async () => {
    await assert.rejects(
      queryAfter([{ text: 'SELECT 1/0' }], { name: 'ahead_after_error', text: 'SELECT 2 AS n' }),
      /division by zero/,
    );
    // The named query never reached the server's parser: using it later must still prepare it.
    const { rows } = await client.query<{ n: number }>({ name: 'ahead_after_error', text: 'SELECT 2 AS n' });
    assert.equal(rows[0]!.n, 2);
  });

  it('fails a query without parameters too when a leading statement fails, rather than waiting forever', async () => {
    // Sent by the simple protocol, the query would be skipped with the rest up to the Sync.
    await assert.rejects(queryAfter([{ text: 'SELECT 1/0' }], 'SELECT 2 AS n'), /division by zero/);
    const { rows } = await client.query('SELECT 3 AS n');
    assert.deepEqual(rows, [{ n: 3 }]);
  });

  it('refuses several statements in one query text, and the connection goes on', async () => {
    await assert.rejects(
      queryAfter([{ text: 'SELECT 1' }], 'SELECT 1; SELECT 2'),
      /cannot insert multiple commands into a prepared statement/,
    );
    const { rows } = await client.query('SELECT 4 AS n');
    assert.deepEqual(rows, [{ n: 4 }]);
  });

  it('reports the error of the query itself, and what ran ahead stays in the transaction', async () => {
    await client.query('BEGIN');
    await client.query('CREATE TEMP TABLE ahead_kept (n int) ON COMMIT DROP');
    await assert.rejects(
      queryAfter([{ text: 'SAVEPOINT s' }, { text: 'INSERT INTO ahead_kept VALUES (1)' }], 'SELECT no_such_column'),
      /no_such_column/,
    );
    await client.query('ROLLBACK TO SAVEPOINT s');
    const { rows } = await client.query('SELECT count(*)::int AS n FROM ahead_kept');
    assert.deepEqual(rows, [{ n: 0 }]);
    await client.query('ROLLBACK');
  });

  it('rejects a query pg refuses before sending it, after the leading statements ran', async () => {
    await client.query('BEGIN');
    await assert.rejects(
      queryAfter([{ text: 'CREATE TEMP TABLE ahead_refused (n int) ON COMMIT DROP' }], {
        text: 'SELECT 1',
        values: 'not an array' as unknown as unknown[],
      }),
      /Query values must be an array/,
    );
    const { rows } = await client.query("SELECT to_regclass('ahead_refused') IS NOT NULL AS created");
    assert.deepEqual(rows, [{ created: true }]);
    await client.query('ROLLBACK');
  });

  it('declines queries that only client.query handles: pages of rows, a query_timeout, a submittable', () => {
    for (const query of [
      { text: 'SELECT 1', rows: 10 },
      { text: 'SELECT 1', query_timeout: 1_000 },
      new pg.Query('SELECT 1'),
    ]) {
      assert.equal(roundTrip.queryAfter(client, [{ text: 'SELECT 1' }], query as pg.QueryConfig), null);
    }
  });

  it('declines a client in pg pipeline mode, which refuses custom submittables', async (t) => {
    const pipelined = new pg.Client({ connectionString: databaseUrl(), pipeline: true } as pg.ClientConfig);
    await pipelined.connect();
    try {
      // Older pg versions of the supported range have no pipeline mode.
      if ((pipelined as unknown as { pipeline?: boolean }).pipeline !== true) return t.skip('this pg has no pipeline mode');
      assert.equal(roundTrip.queryAfter(pipelined, [{ text: 'SELECT 1' }], 'SELECT 2'), null);
    } finally {
      await pipelined.end();
    }
  });

  describe('with statements after the query', () => {
    const queryBetween = <R extends pg.QueryResultRow>(
      leading: readonly { text: string; values?: readonly unknown[] }[],
      query: string | pg.QueryConfig,
      trailing: readonly { text: string; values?: readonly unknown[] }[],
      values?: unknown[],
    ): Promise<pg.QueryResult<R>> => {
      const sent = roundTrip.queryBetween<R>(client, leading, query, trailing, values);
      assert.ok(sent, 'a plain pg.Client takes statements around a query');
      return sent;
    };
    const setting = async () =>
      (await client.query<{ s: string }>("SELECT current_setting('proletarian.test', true) AS s")).rows[0]!.s;

    it('runs them after the query, resolving with the query result alone', async () => {
      await client.query('BEGIN');
      const result = await queryBetween<{ n: number; seen: string }>(
        [{ text: "SELECT set_config('proletarian.test', 'before', true)" }],
        { name: 'between_named', text: "SELECT $1::int AS n, current_setting('proletarian.test') AS seen" },
        [{ text: "SELECT set_config('proletarian.test', $1, true)", values: ['after'] }, { text: 'SELECT 1, 2' }],
        [3],
      );
      assert.deepEqual(result.rows, [{ n: 3, seen: 'before' }]);
      assert.equal(result.command, 'SELECT');
      assert.equal(await setting(), 'after');
      await client.query('ROLLBACK');
      // The named statement was prepared under its own name, and only once.
      const again = await queryBetween<{ n: number }>([], { name: 'between_named', text: "SELECT $1::int AS n, current_setting('proletarian.test') AS seen" }, [], [4]);
      assert.equal(again.rows[0]!.n, 4);
    });

    it('skips them when the query fails, and fails when one of them does', async () => {
      await client.query('BEGIN');
      await client.query("SELECT set_config('proletarian.test', 'untouched', true)");
      await assert.rejects(
        queryBetween([], 'SELECT 1/0', [{ text: "SELECT set_config('proletarian.test', 'after', true)" }]),
        /division by zero/,
      );
      await client.query('ROLLBACK');
      await assert.rejects(queryBetween([], 'SELECT 1 AS n', [{ text: 'SELECT no_such_column' }]), /no_such_column/);
      assert.equal((await client.query<{ n: number }>('SELECT 2 AS n')).rows[0]!.n, 2, 'the connection still works');
    });
  });
});
