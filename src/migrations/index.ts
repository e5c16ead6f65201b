import type { Tables } from '../tables.js';
import { initialSchema } from './001-initial-schema.js';
import { archiveRetentionIndex } from './002-archive-retention-index.js';
import { jobLeases } from './003-job-leases.js';
import { lostConnections } from './004-lost-connections.js';
import { prioritiesAndUniqueKeys } from './005-priorities-and-unique-keys.js';
import { schedulesAndPause } from './006-schedules-and-pause.js';
import { traceContext } from './007-trace-context.js';
import { cancelAndDiscard } from './008-cancel-and-discard.js';
import { workersAndDashboard } from './009-workers-and-dashboard.js';
import { errorHistory } from './010-error-history.js';

/** One step of the schema's history. Never edit a released one: add the next. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: (tables: Tables) => string;
}

/** Every migration, in order; the last one's version is the schema version this library needs. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial schema', sql: initialSchema },
  { version: 2, name: 'archive retention index', sql: archiveRetentionIndex },
  { version: 3, name: 'job leases', sql: jobLeases },
  { version: 4, name: 'lost connections', sql: lostConnections },
  { version: 5, name: 'priorities and unique keys', sql: prioritiesAndUniqueKeys },
  { version: 6, name: 'schedules and paused queues', sql: schedulesAndPause },
  { version: 7, name: 'trace context', sql: traceContext },
  { version: 8, name: 'cancel and discard', sql: cancelAndDiscard },
  { version: 9, name: 'workers and dashboard', sql: workersAndDashboard },
  { version: 10, name: 'error history', sql: errorHistory },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
