// Compiled, never run: checks that declaring JobPayloads makes the compiler
// check job types and payloads everywhere. Each @ts-expect-error must fail to
// compile, or tsc reports the directive as unused.
import type pg from 'pg';
import { createWorker, enqueue, enqueueMany, exponentialBackoff } from 'proletarian';

declare module 'proletarian' {
  interface JobPayloads {
    'confirmation-email': { email: string };
    'reindex-user': { userId: number };
  }
}

declare const pool: pg.Pool;
declare const client: pg.PoolClient;

export async function checks(): Promise<void> {
  await enqueue(client, 'confirmation-email', { email: 'a@example.com' });
  await enqueue(pool, 'reindex-user', { userId: 1 }, { queue: 'search', processIn: 1000 });
  
  // @ts-expect-error unknown job type
  await enqueue(pool, 'confirmation-emial', { email: 'a@example.com' });
  // @ts-expect-error wrong payload shape
  await enqueue(pool, 'reindex-user', { userId: '1' });
  // @ts-expect-error missing payload field
  await enqueue(pool, 'confirmation-email', {});

  await enqueueMany(pool, [
    { jobType: 'confirmation-email', payload: { email: 'b@example.com' } },
    { jobType: 'reindex-user', payload: { userId: 2 }, queue: 'search' },
  ]);
  await enqueue(pool, 'reindex-user', { userId: 3 }, { priority: -1, uniqueKey: 'user:3', onConflict: 'replace' });
  // @ts-expect-error onConflict is 'keep' or 'replace'
  await enqueue(pool, 'reindex-user', { userId: 3 }, { uniqueKey: 'user:3', onConflict: 'update' });
  // @ts-expect-error priority is a number
  await enqueue(pool, 'reindex-user', { userId: 3 }, { priority: 'high' });
  await enqueueMany(pool, [{ jobType: 'reindex-user', payload: { userId: 4 }, priority: 2, uniqueKey: 'user:4' }]);

  await enqueueMany(pool, [
    // @ts-expect-error payload of another job type
    { jobType: 'reindex-user', payload: { email: 'c@example.com' } },
  ]);

  createWorker(pool, {
    handlers: {
      'confirmation-email': async (payload, ctx) => {
        const email: string = payload.email;
        await ctx.db.query('SELECT $1::text', [email]);
        // @ts-expect-error no such field
        void payload.userId;
      },
      'reindex-user': {
        handler: (payload) => {
          const id: number = payload.userId;
          void id;
        },
        retryStrategy: { retries: 3, delays: [1000] },
      },
    },
  });

  // A job type's own retry strategy sees that type's payload.
  createWorker(pool, {
    handlers: {
      'reindex-user': {
        handler: () => {},
        retryStrategy: (job, error) => {
          const id: number = job.payload.userId;
          // @ts-expect-error no such field on this type's payload
          void job.payload.email;
          return id > 0 && error.name !== 'ValidationError' ? { retries: 2 } : null;
        },
      },
      'confirmation-email': { handler: () => {}, retryStrategy: exponentialBackoff({ retries: 3 }) },
    },
  });

  // The worker-wide hooks see a job of any declared type: its jobType narrows its payload.
  createWorker(pool, {
    handlers: { 'confirmation-email': () => {}, 'reindex-user': () => {} },
    retryStrategy: (job) => {
      if (job.jobType === 'reindex-user') {
        const id: number = job.payload.userId;
        // @ts-expect-error narrowed to this type's payload
        void job.payload.email;
        return id > 0 ? { retries: 1 } : null;
      }
      if (job.jobType === 'confirmation-email') return job.payload.email.endsWith('.test') ? null : { retries: 5 };
      return null;
    },
    onFailedJob: async (job, error, ctx) => {
      if (job.jobType === 'confirmation-email') {
        await ctx.db.query('SELECT $1::text, $2::text', [job.payload.email, error.message]);
      } else if (job.jobType === 'reindex-user') {
        const id: number = job.payload.userId;
        void id;
      }
      // @ts-expect-error not every job type's payload has this field
      void job.payload.email;
    },
  });
  createWorker(pool, { handlers: {}, retryStrategy: exponentialBackoff({ retries: 2 }) });

  createWorker(pool, {
    handlers: {
      // @ts-expect-error handler for an undeclared job type
      'no-such-job': () => {},
    },
  });
}
