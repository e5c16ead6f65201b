// Without a JobPayloads declaration in this program any job type and payload
// would be accepted; this file lives beside typed-payloads.ts, so here we only
// check the shapes that do not depend on the map.
import type pg from 'pg';
import { createWorker, exponentialBackoff, type JobContext, type Queryable } from 'proletarian';

declare const pool: pg.Pool;
declare const client: pg.Client;

// Every pg connection type is a Queryable.
export const queryables: Queryable[] = [pool, client];

export const worker = createWorker(pool, {
  concurrency: 4,
  pollInterval: 500,
  retryStrategy: exponentialBackoff({ retries: 3 }),
  onFailedJob: (job, error, ctx: JobContext) => {
    void job.jobId;
    void error.message;
    void ctx.db;
  },
  // @ts-expect-error options are checked
  concurency: 2,
  handlers: {},
});
