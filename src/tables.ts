import { InvalidOptionError } from './errors.js';
import { rejectUnknownKeys, requireObject, sqlIdentifier } from './validate.js';

/**
 * Where Proletarian keeps its tables. Every function that touches the
 * database accepts these options, so one database can hold several
 * independent installations (a schema each), or live beside an app's own
 * tables under names of your choosing.
 */
export interface TableOptions {
  /** PostgreSQL schema holding the tables. @defaultValue `'proletarian'` */
  schema?: string;
  /** Table of queued jobs. @defaultValue `'job'` */
  jobTable?: string;
  /** Table of finished jobs (succeeded or failed for good). @defaultValue `'archived_job'` */
  archivedJobTable?: string;
}

/** Fully quoted, validated identifiers, ready to paste into SQL. */
export interface Tables {
  readonly schemaName: string;
  readonly schema: string;
  readonly job: string;
  readonly archivedJob: string;
  readonly migrations: string;
  /** Transactions whose connection was lost while their worker lived on. */
  readonly lostTransactions: string;
  /** Recurring schedules: per name, its expression and the slots enqueued so far. */
  readonly schedules: string;
  /** Per queue, whether it is paused. */
  readonly queueStates: string;
  /** Requests to cancel jobs that were running when `cancelJob` was called. */
  readonly cancelRequests: string;
  /** Running workers and their heartbeats, for the dashboard. */
  readonly workers: string;
  /** Prefix for index and constraint names, so two installations in one schema don't collide. */
  readonly jobTableName: string;
  readonly archivedJobTableName: string;
}

/** The keys of {@link TableOptions}, for the option checks of every function that takes them. */
export const TABLE_OPTION_KEYS: readonly (keyof TableOptions)[] = ['schema', 'jobTable', 'archivedJobTable'];
const TABLE_OPTIONS = new Set<string>(TABLE_OPTION_KEYS);

// PostgreSQL truncates identifiers at 63 bytes; index names add a suffix.
const MAX_IDENTIFIER_LENGTH = 40;

const cache = new Map<string, Tables>();

/**
 * {@link resolveTables} for a function whose options are table options and
 * nothing else; `caller` names it in the error about an unknown option.
 */
export function resolveTableOptions(options: TableOptions, caller: string): Tables {
  requireObject(options, `${caller}: options must be an object { schema?, jobTable?, archivedJobTable? }`);
  rejectUnknownKeys(options, TABLE_OPTIONS, `unknown ${caller} option`);
  return resolveTables(options);
}

/** Validates and quotes the table options once; the result is cached per combination. */
export function resolveTables(options: TableOptions = {}): Tables {
  const schemaName = sqlIdentifier('schema', options.schema ?? 'proletarian', MAX_IDENTIFIER_LENGTH);
  const jobTableName = sqlIdentifier('jobTable', options.jobTable ?? 'job', MAX_IDENTIFIER_LENGTH);
  const archivedJobTableName = sqlIdentifier(
    'archivedJobTable',
    options.archivedJobTable ?? 'archived_job',
    MAX_IDENTIFIER_LENGTH,
  );
  const key = `${schemaName}.${jobTableName}.${archivedJobTableName}`;
  let tables = cache.get(key);
  if (!tables) {
    if (jobTableName === archivedJobTableName) {
      throw new InvalidOptionError(`jobTable and archivedJobTable must differ; both are "${jobTableName}"`);
    }
    for (const table of ['migrations', 'lost_transactions', 'schedules', 'queue_states', 'cancel_requests', 'workers']) {
      if (archivedJobTableName === `${jobTableName}_${table}`) {
        throw new InvalidOptionError(
          `archivedJobTable "${archivedJobTableName}" is taken by the ${table.replaceAll('_', ' ')} table of jobTable "${jobTableName}"`,
        );
      }
    }
    const schema = quote(schemaName);
    tables = {
      schemaName,
      schema,
      job: `${schema}.${quote(jobTableName)}`,
      archivedJob: `${schema}.${quote(archivedJobTableName)}`,
      migrations: `${schema}.${quote(`${jobTableName}_migrations`)}`,
      lostTransactions: `${schema}.${quote(`${jobTableName}_lost_transactions`)}`,
      schedules: `${schema}.${quote(`${jobTableName}_schedules`)}`,
      queueStates: `${schema}.${quote(`${jobTableName}_queue_states`)}`,
      cancelRequests: `${schema}.${quote(`${jobTableName}_cancel_requests`)}`,
      workers: `${schema}.${quote(`${jobTableName}_workers`)}`,
      jobTableName,
      archivedJobTableName,
    };
    cache.set(key, tables);
  }
  return tables;
}

/** The options that resolve to `tables`, for passing them on. */
export function tableOptionsOf(tables: Tables): Required<TableOptions> {
  return { schema: tables.schemaName, jobTable: tables.jobTableName, archivedJobTable: tables.archivedJobTableName };
}

/** Double-quotes an identifier that has already passed validation. */
export function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
