import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  createWorker,
  DatabaseSetupError,
  enqueue,
  InvalidOptionError,
  migrate,
  MigrationError,
  queueStats,
  SchemaNotReadyError,
  type WorkerOptions,
} from 'proletarian';
import {
  createTestDatabase,
  databaseUrl,
  installSchemaVersion,
  recordingLogger,
  waitFor,
  whileRunning,
  type TestDatabase,
} from './helpers/database.js';

// Internal, so loaded from the build; its types come from the build's declarations.
type DatabaseErrorsModule = typeof import('../dist/database-errors.js');
const { setupProblem } = (await import(
  new URL('../../dist/database-errors.js', import.meta.url).href
)) as DatabaseErrorsModule;

// Every error here comes from a real server: the test database, or (for
// passwords, which the test database does not ask for) a PostgreSQL of this
// file's own that requires one.

interface EmbeddedServer {
  url: string;
  stop(): Promise<void>;
}

const PASSWORD = 'the-right-password';

/** The test database's URL with another user, password or database. */
function urlWith(base: string, change: { user?: string; password?: string; database?: string }): string {
  const url = new URL(base);
  if (change.user !== undefined) url.username = change.user;
  if (change.password !== undefined) url.password = change.password;
  if (change.database !== undefined) url.pathname = `/${change.database}`;
  return url.toString();
}

function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

describe('setup errors', () => {
  let db: TestDatabase;
  const pools: pg.Pool[] = [];
  const roles: string[] = [];

  const poolFor = (connection: string | pg.PoolConfig): pg.Pool => {
    const pool = new pg.Pool(typeof connection === 'string' ? { connectionString: connection } : connection);
    pool.on('error', () => {});
    pools.push(pool);
    return pool;
  };
  const workerOptions = (log = recordingLogger()): WorkerOptions => ({
    ...db.tables,
    handlers: { x: async () => {} },
    log,
    pollInterval: 20,
  });
  /** A role of this file's own, dropped at the end. */
  const createRole = async (attributes: string): Promise<string> => {
    const role = uniqueName('test_setup');
    await db.pool.query(`CREATE ROLE ${role} ${attributes}`);
    roles.push(role);
    return role;
  };
  /** A pool whose sessions run as `role`, the way roles.test.ts does it. */
  const poolAsRole = (role: string) =>
    poolFor({ connectionString: databaseUrl(), options: `-c role=${role}`, max: 4 });
  /** The grants of database/roles.sql, for `role`, on the test schema. */
  const grantWorkerPrivileges = async (role: string) => {
    const s = `"${db.schema}"`;
    await db.pool.query(`GRANT USAGE ON SCHEMA ${s} TO ${role};
      GRANT SELECT, INSERT, UPDATE, DELETE ON ${s}.job TO ${role};
      GRANT SELECT, INSERT ON ${s}.archived_job TO ${role};
      GRANT SELECT ON ${s}.job_migrations TO ${role};
      GRANT SELECT, INSERT, DELETE ON ${s}.job_lost_transactions TO ${role};
      GRANT SELECT, INSERT, UPDATE ON ${s}.job_schedules TO ${role};
      GRANT SELECT, INSERT, UPDATE ON ${s}.job_queue_states TO ${role};
      GRANT SELECT, INSERT, UPDATE, DELETE ON ${s}.job_cancel_requests TO ${role};
      GRANT SELECT, INSERT, UPDATE, DELETE ON ${s}.job_workers TO ${role};`);
  };

  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await Promise.all(pools.map((p) => p.end()));
    try {
      for (const role of roles) {
        await db.pool.query(`DROP OWNED BY ${role}`);
        await db.pool.query(`DROP ROLE ${role}`);
      }
    } finally {
      await db.close();
    }
  });

  describe('worker.start() fails at once for a setup that cannot recover', () => {
    describe('against a server that requires a password', () => {
      let server: EmbeddedServer;
      before(async () => {
        const scriptPath = new URL('../../scripts/with-postgres.mjs', import.meta.url).href;
        const { startEmbeddedPostgres } = (await import(scriptPath)) as {
          startEmbeddedPostgres(options: object): Promise<EmbeddedServer>;
        };
        server = await startEmbeddedPostgres({ password: PASSWORD });
      });
      after(() => server?.stop());

      it('a wrong password: DatabaseSetupError naming the password, not a polling-error every 2 s', async () => {
        const log = recordingLogger();
        const pool = poolFor(urlWith(server.url, { password: 'wrong' }));
        const worker = createWorker(pool, { handlers: { x: async () => {} }, log });
        await assert.rejects(worker.start(), (error: unknown) => {
          assert.ok(error instanceof DatabaseSetupError, String(error));
          assert.equal(error.kind, 'authentication');
          assert.equal(error.code, '28P01');
          assert.match(error.message, /^the worker cannot start: password authentication failed for user "postgres"/);
          assert.match(error.message, /check the user name and password/);
          assert.equal((error.cause as { code?: string }).code, '28P01');
          return true;
        });
        assert.equal(worker.state, 'idle');
        assert.deepEqual(log.names(), [], 'nothing was started, so nothing to log');
      });

      it('no password at all: the same, from the driver', async () => {
        const pool = poolFor({ host: new URL(server.url).hostname, port: Number(new URL(server.url).port), user: 'postgres', database: 'postgres' });
        const worker = createWorker(pool, { handlers: { x: async () => {} }, log: recordingLogger() });
        await assert.rejects(worker.start(), (error: unknown) => {
          assert.ok(error instanceof DatabaseSetupError, String(error));
          assert.equal(error.kind, 'authentication');
          assert.equal(error.code, undefined);
          assert.match(error.message, /password/);
          return true;
        });
      });

      it('migrate with a wrong password: MigrationError with the cause, as the README says', async () => {
        const pool = poolFor(urlWith(server.url, { password: 'wrong' }));
        await assert.rejects(migrate(pool), (error: unknown) => {
          assert.ok(error instanceof MigrationError, String(error));
          assert.match(error.message, /password authentication failed.*28P01.*check the user name and password/);
          assert.equal((error.cause as { code?: string }).code, '28P01');
          return true;
        });
        // A connected pg.Client cannot fail to log in here; its connect() does, as the app's own call.
      });

      it('with the right password, the worker starts', async () => {
        const pool = poolFor(server.url);
        await migrate(pool);
        const worker = createWorker(pool, { handlers: { x: async () => {} }, log: recordingLogger() });
        await whileRunning(worker, async () => assert.equal(worker.state, 'running'));
      });
    });

    it('a database that does not exist', async () => {
      const pool = poolFor(urlWith(databaseUrl(), { database: uniqueName('no_such_db') }));
      const worker = createWorker(pool, workerOptions());
      await assert.rejects(worker.start(), (error: unknown) => {
        assert.ok(error instanceof DatabaseSetupError, String(error));
        assert.equal(error.kind, 'database-missing');
        assert.equal(error.code, '3D000');
        assert.match(error.message, /database "no_such_db_\w+" does not exist.*create the database/);
        return true;
      });
    });

    it('a role that does not exist, and one without LOGIN', async () => {
      for (const user of [uniqueName('no_such_role'), await createRole('NOLOGIN')]) {
        const worker = createWorker(poolFor(urlWith(databaseUrl(), { user })), workerOptions());
        await assert.rejects(worker.start(), (error: unknown) => {
          assert.ok(error instanceof DatabaseSetupError, String(error));
          assert.equal(error.kind, 'authentication');
          assert.equal(error.code, '28000');
          assert.match(error.message, /may log in \(LOGIN\)/);
          return true;
        });
      }
    });

    it('a role without access to the schema', async () => {
      const role = await createRole('NOLOGIN');
      const worker = createWorker(poolAsRole(role), workerOptions());
      await assert.rejects(worker.start(), (error: unknown) => {
        assert.ok(error instanceof DatabaseSetupError, String(error));
        assert.equal(error.kind, 'permission-denied');
        assert.equal(error.code, '42501');
        assert.match(error.message, /permission denied for schema .*database\/roles\.sql/);
        return true;
      });
    });

    it('a role that can read the version but lacks a privilege the loops need', async () => {
      const role = await createRole('NOLOGIN');
      await grantWorkerPrivileges(role);
      await db.pool.query(`REVOKE DELETE ON "${db.schema}".job FROM ${role}`);
      const worker = createWorker(poolAsRole(role), workerOptions());
      await assert.rejects(worker.start(), (error: unknown) => {
        assert.ok(error instanceof DatabaseSetupError, String(error));
        assert.equal(error.kind, 'permission-denied');
        assert.equal(
          error.message,
          `the worker cannot start: role "${role}" lacks DELETE on "${db.schema}"."job"; ` +
            "grant the privileges listed in database/roles.sql, or connect as the schema's owner",
        );
        return true;
      });
      // The least-privilege role itself starts a worker; with retention, it lacks what pruning needs.
      await grantWorkerPrivileges(role);
      const fine = createWorker(poolAsRole(role), workerOptions());
      await whileRunning(fine, async () => assert.equal(fine.state, 'running'));
      const pruning = createWorker(poolAsRole(role), { ...workerOptions(), retention: { olderThan: 1000 } });
      await assert.rejects(pruning.start(), /lacks DELETE on "test_\w+"."archived_job"/);
    });

    it('a schema never migrated, or older than the library: SchemaNotReadyError saying to run migrate', async () => {
      const missing = createWorker(db.pool, { ...workerOptions(), schema: uniqueName('never_migrated') });
      await assert.rejects(missing.start(), (error: unknown) => {
        assert.ok(error instanceof SchemaNotReadyError, String(error));
        assert.match(error.message, /not installed.*run `await migrate\(pool\)` or `npx proletarian migrate`/);
        return true;
      });
      const old = uniqueName('old_schema');
      await installSchemaVersion(db.pool, { schema: old }, 1);
      try {
        const worker = createWorker(db.pool, { ...workerOptions(), schema: old });
        await assert.rejects(worker.start(), (error: unknown) => {
          assert.ok(error instanceof SchemaNotReadyError, String(error));
          assert.match(error.message, /at version 1 but this version of proletarian needs \d+; run .*migrate/);
          return true;
        });
      } finally {
        await db.pool.query(`DROP SCHEMA "${old}" CASCADE`);
      }
    });

    it('the version table without the job table: SchemaNotReadyError, not the raw "relation does not exist"', async () => {
      const schema = uniqueName('half');
      await migrate(db.pool, { schema });
      await db.pool.query(`DROP TABLE "${schema}".job`);
      try {
        const worker = createWorker(db.pool, { ...workerOptions(), schema });
        await assert.rejects(worker.start(), (error: unknown) => {
          assert.ok(error instanceof SchemaNotReadyError, String(error));
          assert.match(error.message, /^the worker cannot start: relation .*job" does not exist .*42P01.*migrate/);
          return true;
        });
      } finally {
        await db.pool.query(`DROP SCHEMA "${schema}" CASCADE`);
      }
    });
  });

  describe('what can recover is retried', () => {
    it('a server out of connections (for the role): start resolves, the loops retry, and work resumes', async () => {
      const role = await createRole('NOLOGIN');
      await grantWorkerPrivileges(role);
      // A login role whose sessions act as the least-privilege one, allowed no connections yet.
      const login = await createRole(`LOGIN CONNECTION LIMIT 0 IN ROLE ${role}`);
      const log = recordingLogger();
      const pool = poolFor({ connectionString: urlWith(databaseUrl(), { user: login }), options: `-c role=${role}` });
      const worker = createWorker(pool, workerOptions(log));
      await whileRunning(worker, async () => {
        assert.equal(worker.state, 'running');
        const startError = log.events.find((e) => e.event === 'polling-error' && e.data['during'] === 'start');
        assert.match(String((startError?.data['error'] as { message?: string } | undefined)?.message), /too many connections/);
        await waitFor(() => log.names().filter((name) => name === 'polling-error').length >= 3, {
          what: 'the loops to keep retrying',
        });
        assert.ok(!log.names().includes('setup-error'), 'too many connections is not a setup problem');
        await db.pool.query(`ALTER ROLE ${login} CONNECTION LIMIT -1`);
        const jobId = await enqueue(db.pool, 'x', {}, db.tables);
        await waitFor(async () => (await db.rows(`SELECT 1 FROM "${db.schema}".archived_job WHERE job_id = $1`, [jobId])).length > 0, {
          what: 'the job to run once connections are allowed',
        });
        assert.ok(log.names().includes('polling-recovered'));
      });
    });

    it('a server that is not listening: start resolves and logs a polling-error', async () => {
      // A port nothing listens on: connection refused, as while the server restarts.
      const log = recordingLogger();
      const worker = createWorker(poolFor({ host: '127.0.0.1', port: 1, user: 'postgres', connectionTimeoutMillis: 1000 }), workerOptions(log));
      await whileRunning(worker, async () => {
        assert.equal(worker.state, 'running');
        await waitFor(() => log.names().filter((name) => name === 'polling-error').length >= 3, {
          what: 'the loops to keep retrying',
        });
        assert.ok(!log.names().includes('setup-error'));
      });
    });
  });

  it('a running worker that meets a setup problem logs setup-error with what to do, keeps retrying, and resumes once fixed', async () => {
    const role = await createRole('NOLOGIN');
    await grantWorkerPrivileges(role);
    const log = recordingLogger();
    const worker = createWorker(poolAsRole(role), workerOptions(log));
    await whileRunning(worker, async () => {
      await db.pool.query(`REVOKE UPDATE ON "${db.schema}".job FROM ${role}`);
      const event = await waitFor(() => log.events.find((e) => e.event === 'setup-error'), { what: 'a setup-error' });
      assert.equal(event.data['problem'], 'permission-denied');
      assert.equal(event.data['code'], '42501');
      assert.match(String(event.data['hint']), /database\/roles\.sql/);
      assert.equal(event.data['level'], 'error');
      await db.pool.query(`GRANT UPDATE ON "${db.schema}".job TO ${role}`);
      const jobId = await enqueue(db.pool, 'x', {}, db.tables);
      await waitFor(async () => (await db.rows(`SELECT 1 FROM "${db.schema}".archived_job WHERE job_id = $1`, [jobId])).length > 0, {
        what: 'the job to run once the privilege is back',
      });
    });
  });

  describe('createWorker refuses what is not a pg.Pool, also from JavaScript', () => {
    it('a pg.Client', () => {
      const client = new pg.Client({ connectionString: databaseUrl() });
      assert.throws(
        () => createWorker(client as unknown as pg.Pool, workerOptions()),
        (error: unknown) => {
          assert.ok(error instanceof InvalidOptionError);
          assert.match(error.message, /^createWorker needs a pg.Pool as its first argument .*; got a pg.Client\. Pass `new pg.Pool/);
          return true;
        },
      );
    });

    it('a pg.PoolClient, a query function, nothing', async () => {
      const client = await db.pool.connect();
      try {
        assert.throws(() => createWorker(client as unknown as pg.Pool, workerOptions()), /got a pg.PoolClient/);
      } finally {
        client.release();
      }
      assert.throws(
        () => createWorker({ query: async () => ({ rows: [] }) } as unknown as pg.Pool, workerOptions()),
        /got an object that is not a pg.Pool/,
      );
      assert.throws(() => createWorker(undefined as unknown as pg.Pool, workerOptions()), /got nothing/);
    });
  });

  it('queueStats on a missing schema: SchemaNotReadyError', async () => {
    await assert.rejects(queueStats(db.pool, { schema: uniqueName('never_migrated') }), (error: unknown) => {
      assert.ok(error instanceof SchemaNotReadyError, String(error));
      assert.match(error.message, /does not exist; run `await migrate\(pool\)` or `npx proletarian migrate` first/);
      return true;
    });
  });

  it('migrate into a database that does not exist, or as a role that may not create: MigrationError saying what to change', async () => {
    const pool = poolFor(urlWith(databaseUrl(), { database: uniqueName('no_such_db') }));
    await assert.rejects(migrate(pool), (error: unknown) => {
      assert.ok(error instanceof MigrationError, String(error));
      assert.match(error.message, /does not exist \(SQLSTATE 3D000\); create the database/);
      return true;
    });
    const role = await createRole('NOLOGIN');
    await assert.rejects(migrate(poolAsRole(role), { schema: uniqueName('not_allowed') }), (error: unknown) => {
      assert.ok(error instanceof MigrationError, String(error));
      assert.match(error.message, /permission denied .*42501.*run migrate as the schema's owner/);
      return true;
    });
  });
});

describe('setupProblem: what cannot recover, by SQLSTATE', () => {
  const withCode = (code: string) => Object.assign(new Error('x'), { code });
  it('classifies the setup problems', () => {
    for (const [code, kind] of [
      ['28P01', 'authentication'],
      ['28000', 'authentication'],
      ['3D000', 'database-missing'],
      ['42501', 'permission-denied'],
      ['42P01', 'schema-not-ready'],
      ['3F000', 'schema-not-ready'],
      ['42703', 'schema-not-ready'],
    ] as const) {
      assert.equal(setupProblem(withCode(code))?.kind, kind, code);
    }
    assert.equal(setupProblem(new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'))?.kind, 'authentication');
  });

  it('counts everything else as recoverable', () => {
    // Down, starting, shutting down, out of connections, network errors, deadlocks, unknown errors.
    for (const code of ['57P01', '57P02', '57P03', '53300', '08006', '08001', '40P01', '40001', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT']) {
      assert.equal(setupProblem(withCode(code)), null, code);
    }
    assert.equal(setupProblem(new Error('Connection terminated unexpectedly')), null);
    assert.equal(setupProblem('not an error'), null);
    assert.equal(setupProblem(null), null);
  });
});
