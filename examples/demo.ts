// The story from the original Proletarian README, run against a real database.
//
// (a) A user signs up: the user row and the job that sends the confirmation
//     email commit together, and the handler marks the email as sent in the
//     job's own transaction.
// (b) A call to a flaky external service fails twice and succeeds on its third
//     attempt, under a retry strategy of its own.
// (c) A sign-up that rolls back takes its job with it: that job never runs.
//
//   npm run demo      (uses DATABASE_URL, or starts a throwaway PostgreSQL)
import pg from 'pg';
import { createWorker, enqueue, migrate, type LogFunction, type Worker } from 'proletarian';

// Typed payloads: from here on the compiler checks every enqueue() and every
// handler against these types; an unknown job type is a compile error.
declare module 'proletarian' {
  interface JobPayloads {
    'confirmation-email': { email: string };
    'crm-sync': { email: string };
  }
}

const SCHEMA = 'proletarian_demo';
const USERS = `${SCHEMA}.demo_users`;
const tables = { schema: SCHEMA };
const startedAt = Date.now();
const problems: string[] = [];

function say(who: 'app' | 'worker', text: string): void {
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(2).padStart(5);
  console.log(`${seconds}s  ${who.padEnd(6)}  ${text}`);
}

// Print the retries as they are scheduled. Any other event at warn or error
// level means something went wrong.
const log: LogFunction = (event, data) => {
  if (event === 'job-retry-scheduled') {
    const { message } = data['error'] as Error;
    say('worker', `  attempt ${String(data['attempt'])} failed (${message}); retry in ${String(data['delayMs'])} ms`);
  } else if (data.level === 'warn' || data.level === 'error') {
    problems.push(event);
    say('worker', `unexpected ${event}: ${JSON.stringify(data)}`);
  }
};

async function main(): Promise<void> {
  const connectionString = process.env['DATABASE_URL'];
  if (!connectionString) throw new Error('set DATABASE_URL, or run `npm run demo`');
  // Two worker loops hold a connection each while they work; one more for the app.
  const pool = new pg.Pool({ connectionString, max: 3 });
  let worker: Worker | undefined;
  try {
    await pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    const { toVersion } = await migrate(pool, tables);
    await pool.query(`CREATE TABLE ${USERS} (
      id serial PRIMARY KEY, email text UNIQUE NOT NULL, confirmation_sent boolean NOT NULL DEFAULT false)`);
    say('app', `installed the job tables (schema version ${toVersion}) and ${USERS} in schema ${SCHEMA}`);

    worker = createWorker(pool, {
      ...tables,
      concurrency: 2,
      log,
      handlers: {
        'confirmation-email': async ({ email }, ctx) => {
          say('worker', `sending the confirmation email to ${email}`);
          // ctx.db is the job's transaction: this commits with the job's removal, or not at all.
          await ctx.db.query(`UPDATE ${USERS} SET confirmation_sent = true WHERE email = $1`, [email]);
        },
        'crm-sync': {
          handler: async ({ email }, ctx) => {
            say('worker', `pushing ${email} to the CRM, attempt ${ctx.attempt}`);
            if (ctx.attempt < 3) throw new Error('CRM answered 503');
            say('worker', `  the CRM accepted ${email}`);
          },
          // Up to 3 retries: 200 ms after the first failure, 400 ms after each later one.
          retryStrategy: { retries: 3, delays: [200, 400] },
        },
      },
    });
    await worker.start();

    await signUp(pool, 'ann@example.com'); // (a)
    await signUp(pool, 'bob@example.com'); // (a)
    const lostJobId = await signUp(pool, 'ann@example.com'); // (c): duplicate email
    await enqueue(pool, 'crm-sync', { email: 'ann@example.com' }, tables); // (b): on the pool, committed at once
    say('app', 'enqueued crm-sync for ann@example.com');

    while ((await count(pool, `SELECT count(*) FROM ${SCHEMA}.job`)) > 0) await sleep(50);
    say('app', 'the queue is empty');

    const traces =
      (await count(pool, `SELECT count(*) FROM ${SCHEMA}.job WHERE job_id = $1`, [lostJobId])) +
      (await count(pool, `SELECT count(*) FROM ${SCHEMA}.archived_job WHERE job_id = $1`, [lostJobId]));
    say('app', `job ${lostJobId} of the rolled-back sign-up: ${traces} rows in job or archived_job`);
    if (traces !== 0) problems.push('the rolled-back job exists');

    const users = await pool.query<{ email: string; confirmation_sent: boolean }>(
      `SELECT email, confirmation_sent FROM ${USERS} ORDER BY id`);
    const jobs = await pool.query<{ job_type: string; payload: unknown; status: string; attempts: number }>(
      `SELECT job_type, payload, status, attempts FROM ${SCHEMA}.archived_job ORDER BY finished_at`);
    console.log('\ndemo_users:');
    for (const u of users.rows) console.log(`  ${u.email.padEnd(18)} confirmation_sent = ${u.confirmation_sent}`);
    console.log('archived_job:');
    for (const j of jobs.rows) {
      console.log(`  ${j.job_type.padEnd(18)} ${JSON.stringify(j.payload).padEnd(28)} ${j.status}, ${j.attempts} run(s)`);
    }

    const found = JSON.stringify([users.rows, jobs.rows.map((j) => [j.job_type, j.status, j.attempts])]);
    const expected = JSON.stringify([
      [{ email: 'ann@example.com', confirmation_sent: true }, { email: 'bob@example.com', confirmation_sent: true }],
      [['confirmation-email', 'success', 1], ['confirmation-email', 'success', 1], ['crm-sync', 'success', 3]],
    ]);
    if (found !== expected) problems.push(`the tables hold ${found}`);
  } finally {
    await worker?.stop();
    await pool.end();
  }
}

/** A sign-up: one transaction inserts the user and enqueues the email. Returns the job's id. */
async function signUp(pool: pg.Pool, email: string): Promise<string> {
  const client = await pool.connect();
  let jobId = '';
  try {
    await client.query('BEGIN');
    // The order inside the transaction does not matter: nothing is visible before COMMIT.
    jobId = await enqueue(client, 'confirmation-email', { email }, tables);
    await client.query(`INSERT INTO ${USERS} (email) VALUES ($1)`, [email]);
    await client.query('COMMIT');
    say('app', `${email} signed up: committed the user and job ${jobId}`);
  } catch (error) {
    await client.query('ROLLBACK');
    if ((error as { code?: string }).code !== '23505') throw error; // 23505: unique violation
    say('app', `${email} signed up again: duplicate email, rolled back, and job ${jobId} with it`);
  } finally {
    client.release();
  }
  return jobId;
}

async function count(pool: pg.Pool, sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await pool.query<{ count: string }>(sql, values);
  return Number(rows[0]?.count);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// A demo that hangs is a failed demo. (unref: this timer alone keeps nothing alive.)
setTimeout(() => {
  console.error('\ndemo failed: still running after 20 s');
  process.exit(1);
}, 20_000).unref();

main().then(
  () => {
    if (problems.length === 0) {
      console.log('\ndone: every committed job ran as told, and the rolled-back one never existed');
    } else {
      console.error(`\ndemo failed: ${problems.join('; ')}`);
      process.exitCode = 1;
    }
  },
  (error: unknown) => {
    console.error('\ndemo failed:', error);
    process.exitCode = 1;
  },
);
