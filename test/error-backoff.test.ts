import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { databaseUrl } from './helpers/database.js';

// How long a worker's loop waits after each polling error: at once after the
// first; at once after errors of lent connections that had ended (the pool
// may lend others that ended with them), as many in a row as the pool has
// connections; otherwise backing off from the poll interval, doubling, up to
// 2 s. Which errors say a connection ended is checked on pg's own errors,
// from a real server. Internal, so loaded from the build.
type BackoffModule = typeof import('../dist/worker/error-backoff.js');
type DatabaseErrorsModule = typeof import('../dist/database-errors.js');

const { ErrorBackoff } = (await import(new URL('../../dist/worker/error-backoff.js', import.meta.url).href)) as BackoffModule;
const { connectionEnded, sessionTerminated } = (await import(new URL('../../dist/database-errors.js', import.meta.url).href)) as DatabaseErrorsModule;

/** The errors pg gives for a query in flight on a connection the server terminates, and for the next query on it. */
async function errorsOfTerminatedConnection(admin: pg.Client): Promise<{ inFlight: unknown; next: unknown }> {
  const client = new pg.Client({ connectionString: databaseUrl() });
  client.on('error', () => {}); // the same error reaches the query
  await client.connect();
  const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const running = client.query('SELECT pg_sleep(30)').then(
    () => assert.fail('the query should have failed'),
    (error: unknown) => error,
  );
  await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  const inFlight = await running;
  const next = await client.query('SELECT 1').then(
    () => assert.fail('the query should have failed'),
    (error: unknown) => error,
  );
  await client.end().catch(() => {});
  return { inFlight, next };
}

/** The error of connecting to a port nothing listens on. */
async function refusedConnectionError(): Promise<unknown> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres' });
  return client.connect().then(
    () => assert.fail('nothing listens there'),
    (error: unknown) => error,
  );
}

describe('ErrorBackoff', () => {
  const admin = new pg.Client({ connectionString: databaseUrl() });
  let ended: { inFlight: unknown; next: unknown };
  let refused: unknown;

  before(async () => {
    await admin.connect();
    ended = await errorsOfTerminatedConnection(admin);
    refused = await refusedConnectionError();
  });
  after(() => admin.end());

  it("recognises pg's errors for a connection the server ended, and not a refused connection", () => {
    assert.equal(connectionEnded(ended.inFlight), true, String(ended.inFlight));
    assert.equal(connectionEnded(ended.next), true, String(ended.next));
    assert.equal(connectionEnded(refused), false, String(refused));
    assert.equal(connectionEnded(new Error('deadlock detected')), false);
    // Only the server's own word says it ended that very session, wherever the error surfaced.
    assert.equal(sessionTerminated(ended.inFlight), true, String(ended.inFlight));
    assert.equal(sessionTerminated(ended.next), false);
    assert.equal(sessionTerminated(refused), false);
  });

  it('retries the first error at once, then backs off from the poll interval, doubling, up to 2 s', () => {
    const backoff = new ErrorBackoff(250, 4);
    const waits = Array.from({ length: 7 }, () => backoff.failed(false));
    assert.deepEqual(waits, [0, 250, 500, 1_000, 2_000, 2_000, 2_000]);
    assert.equal(backoff.consecutiveErrors, 7);
  });

  it('retries ended connections at once, as many in a row as the pool has, then backs off', () => {
    const backoff = new ErrorBackoff(250, 3);
    const waits = [true, true, true, true, true, false].map((ended) => backoff.failed(ended));
    assert.deepEqual(waits, [0, 0, 0, 0, 250, 500]);
  });

  it('starts afresh once a turn goes through', () => {
    const backoff = new ErrorBackoff(250, 1);
    assert.deepEqual([backoff.failed(false), backoff.failed(true), backoff.failed(true)], [0, 0, 250]);
    backoff.recovered();
    assert.equal(backoff.consecutiveErrors, 0);
    assert.deepEqual([backoff.failed(true), backoff.failed(true), backoff.failed(false)], [0, 0, 250]);
  });
});
