// The systems under test. Each adapter module exports an object with:
//
//   name                      as shown in tables and accepted by --systems
//   packages()                { package: version or build info }, for the results
//   settings()                what the benchmark configures, for the results
//   available()               resolves true, or a string saying why it is skipped
//   admin(ns)                 runner side, one namespace (schema / key prefix):
//     install()                 create the namespace and the system's tables
//     seed(n)                   enqueue n no-op jobs, payload { i } (not timed)
//     pending()                 jobs of the benchmark queue not yet completed
//                               (0 only once the last completion has committed)
//     completed()               jobs completed (for the sanity check), or null
//     diagnose()                optional: what went wrong (jobs left, retried,
//                               failed), or null
//     due()                     W8: jobs due and not finished, waiting or in
//                               flight (fetched, locked, active)
//     failures()                W8: { failed, retrying, ... }: jobs failed for
//                               good or set aside, jobs waiting for a retry,
//                               and what else the system can say (stuck ones)
//     jobTables                 W8: the job table(s) in the schema, for their
//                               dead tuples and size ([] outside PostgreSQL)
//     close()                   release connections; drop Redis keys (schemas are
//                               dropped by the runner)
//   producer(ns)              trial side: { enqueueBulk(n), enqueueOne(i),
//                               enqueuePayloads(payloads) (one batched call, W8),
//                               close(), info? }
//   worker(ns, handle, opts)  trial side: { start(), stop(opts?), info?, report? }; calls
//                               handle(i, db, payload) for each job, where i is the
//                               job's payload index and db its transaction if the
//                               system runs handlers in one (else undefined);
//                               opts.concurrency (W8) sets how many handlers run
//                               at once, opts.settings overrides config settings;
//                               stop({ tolerateErrors: true }) does not throw for
//                               errors the worker saw while running (W8's kills);
//                               report() may return what the worker logged
//                               that a clean run should not (else null)

import bullmq from './bullmq.mjs';
import graphileWorker from './graphile-worker.mjs';
import pgBoss from './pg-boss.mjs';
import proletarian from './proletarian.mjs';
import rawSql from './raw-sql.mjs';

/** The systems compared side by side, in table order. */
export const SYSTEMS = [proletarian, graphileWorker, pgBoss, bullmq];

/** Every adapter by name, including the W7 raw-SQL loop. */
const ALL = new Map([...SYSTEMS, rawSql].map((system) => [system.name, system]));

export function getSystem(name) {
  const system = ALL.get(name);
  if (!system) throw new Error(`unknown system ${name}`);
  return system;
}
