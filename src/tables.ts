import { InvalidOptionError } from './errors.js';

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
  /** Prefix for index and constraint names, so two installations in one schema don't collide. */
  readonly jobTableName: string;
  readonly archivedJobTableName: string;
}

// Plain lower-case identifiers only: they need no quoting in hand-written SQL,
// fold the same way everywhere, and leave no room for injection.
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
// PostgreSQL truncates identifiers at 63 bytes; index names add a suffix.
const MAX_IDENTIFIER_LENGTH = 40;

const cache = new Map<string, Tables>();

/** Validates and quotes the table options once; the result is cached per combination. */
export function resolveTables(options: TableOptions = {}): Tables {
  const schemaName = identifier('schema', options.schema ?? 'proletarian');
  const jobTableName = identifier('jobTable', options.jobTable ?? 'job');
  const archivedJobTableName = identifier('archivedJobTable', options.archivedJobTable ?? 'archived_job');
  const key = `${schemaName}.${jobTableName}.${archivedJobTableName}`;
  let tables = cache.get(key);
  if (!tables) {
    if (jobTableName === archivedJobTableName) {
      throw new InvalidOptionError(`jobTable and archivedJobTable must differ; both are "${jobTableName}"`);
    }
    for (const table of ['migrations', 'lost_transactions']) {
      if (archivedJobTableName === `${jobTableName}_${table}`) {
        throw new InvalidOptionError(
          `archivedJobTable "${archivedJobTableName}" is taken by the ${table.replace('_', ' ')} table of jobTable "${jobTableName}"`,
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
      jobTableName,
      archivedJobTableName,
    };
    cache.set(key, tables);
  }
  return tables;
}

function identifier(option: string, value: unknown): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value) || value.length > MAX_IDENTIFIER_LENGTH) {
    throw new InvalidOptionError(
      `${option} must be a lower-case SQL identifier (letters a-z, digits and _, not starting with a digit, ` +
        `at most ${MAX_IDENTIFIER_LENGTH} characters); got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** The options that resolve to `tables`, for passing them on. */
export function tableOptionsOf(tables: Tables): Required<TableOptions> {
  return { schema: tables.schemaName, jobTable: tables.jobTableName, archivedJobTable: tables.archivedJobTableName };
}

/** Double-quotes an identifier that has already passed validation. */
export function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
