// Which database errors can clear by themselves, and which need someone to
// change the setup. A worker that meets the first kind retries; the second
// kind makes start() fail at once, since retrying would only fill the logs.
//
// The classification goes by SQLSTATE (https://www.postgresql.org/docs/current/errcodes-appendix.html).
// Anything not listed as a setup problem counts as recoverable: a server that
// is down, starting up or shutting down (57P0x), out of connections (53300),
// a network error, a deadlock. Retrying those is what brings work back.

import { DatabaseSetupError, ProletarianError, SchemaNotReadyError } from './errors.js';

/** What kind of setup problem a database error reveals. */
export type SetupProblemKind = 'authentication' | 'database-missing' | 'permission-denied' | 'schema-not-ready';

/** A database error that will not clear until someone changes the setup, with what to change. */
export interface SetupProblem {
  readonly kind: SetupProblemKind;
  /** The SQLSTATE, when the server sent one. */
  readonly code: string | undefined;
  /** What to do about it, as the end of a sentence. */
  readonly hint: string;
}

const HINTS: Record<SetupProblemKind, string> = {
  authentication:
    'check the user name and password of the connection settings, that the role exists and may log in (LOGIN), ' +
    'and that pg_hba.conf admits it',
  'database-missing': 'create the database, or fix the database name in the connection settings',
  'permission-denied':
    "grant the role the privileges listed in database/roles.sql, or connect as the schema's owner",
  'schema-not-ready': 'run `await migrate(pool)` or `npx proletarian migrate`',
};

/** The setup problem `error` reveals, or null when it may clear by itself (or is not a database error). */
export function setupProblem(error: unknown): SetupProblem | null {
  const code = sqlState(error);
  const kind = code === undefined ? clientSideKind(error) : kindOf(code);
  return kind === null ? null : { kind, code, hint: HINTS[kind] };
}

/** The SQLSTATE of a server error (five characters), if `error` is one. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  // Node's own errors (ECONNREFUSED, ...) have codes too; SQLSTATEs are five digits or capitals.
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

function kindOf(code: string): SetupProblemKind | null {
  // Class 28: invalid authorization (wrong password, unknown role, NOLOGIN, no pg_hba.conf entry).
  if (code.startsWith('28')) return 'authentication';
  switch (code) {
    case '3D000': // invalid_catalog_name: the database does not exist
      return 'database-missing';
    case '42501': // insufficient_privilege
      return 'permission-denied';
    case '42P01': // undefined_table
    case '3F000': // invalid_schema_name
    case '42703': // undefined_column: tables older than the library
      return 'schema-not-ready';
    default:
      return null;
  }
}

// pg reports a password the server asks for but the settings lack as a plain
// Error, before any SQLSTATE could exist: it can never succeed either.
function clientSideKind(error: unknown): SetupProblemKind | null {
  const message = error instanceof Error ? error.message : '';
  return /^SASL: (.*client password must be|Only mechanism|Mechanism \S+ requires)/.test(message)
    ? 'authentication'
    : null;
}

/**
 * Whether the server ended the session `error` came from: terminated it
 * (`pg_terminate_backend`, or a shutdown) or, after another backend crashed,
 * reset it.
 */
export function sessionTerminated(error: unknown): boolean {
  const code = sqlState(error);
  return code === '57P01' || code === '57P02'; // admin_shutdown, crash_shutdown
}

/**
 * Whether `error` says that the connection it came from is gone — the
 * server ended the session, or the network dropped it. pg's own errors for
 * a connection that ended carry no code, only words.
 */
export function connectionEnded(error: unknown): boolean {
  if (sessionTerminated(error)) return true;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ECONNRESET' || code === 'EPIPE') return true;
  const message = error instanceof Error ? error.message : '';
  return /^Connection terminated( unexpectedly)?$|and is not queryable$/.test(message);
}

/**
 * The error to report for `error`: when it reveals a setup problem, a
 * {@link SchemaNotReadyError} or {@link DatabaseSetupError} whose message
 * begins with `context` and ends with what to do; otherwise `error` itself.
 */
export function explainSetupError(error: unknown, context: string): unknown {
  if (error instanceof ProletarianError) return error;
  const problem = setupProblem(error);
  if (!problem) return error;
  const message = `${context}: ${error instanceof Error ? error.message : String(error)}` +
    `${problem.code ? ` (SQLSTATE ${problem.code})` : ''}; ${problem.hint}`;
  if (problem.kind === 'schema-not-ready') return new SchemaNotReadyError(message, { cause: error });
  return new DatabaseSetupError(message, { kind: problem.kind, code: problem.code, cause: error });
}
