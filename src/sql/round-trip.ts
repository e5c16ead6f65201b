import type pg from 'pg';
import {
  newDrivenQuery,
  prepareValue,
  protocolConnectionOf,
  type DrivenQuery,
  type ProtocolConnection,
} from '../db/pg-driver.js';

// Statements sent with a query, in the same round trip.
//
// A round trip to PostgreSQL costs far more than the statements the worker
// sends (on virtual machines above all: every wake-up of the other side is
// expensive). BEGIN before a claim, SAVEPOINT before a handler's first query
// and the completion before COMMIT return nothing anyone reads, so they are
// written to the socket together with the query that follows them, before
// one Sync: the server runs them in order and answers once. If one fails,
// the server skips the rest up to the Sync, and the query fails with that
// error — as it would have, one round trip later, on the aborted transaction.
// Statements can follow the query the same way (the claim restores the
// planner settings it pinned, a lease's claim commits): the server runs them
// only if the query succeeded.
//
// This rides on pg's submittable interface (what pg-cursor and
// pg-query-stream use) and the connection's message writers, reached through
// ../db/pg-driver.ts. Where those are not there — pg-native, or a client in
// pg's own pipeline mode, which refuses submittables — `queryAfter` returns
// null and callers send the statements one by one instead.

/** A statement sent with a query: unnamed, so parsed each time; values as pg takes them. */
export interface SideStatement {
  text: string;
  values?: readonly unknown[];
}

/**
 * Runs `leading` and then `query` on `client` in one round trip, resolving
 * with `query`'s result; null when this client cannot (see above), or when
 * `query` asks pg for something it handles itself — a callback, a cursor-like
 * submittable, a `query_timeout`, pages of `rows` — and must go through
 * `client.query`. `query` is one statement: it is sent with the extended
 * protocol, which takes no more.
 */
export function queryAfter<R extends pg.QueryResultRow = pg.QueryResultRow>(
  client: pg.ClientBase,
  leading: readonly SideStatement[],
  query: string | pg.QueryConfig,
  values?: unknown[],
): Promise<pg.QueryResult<R>> | null {
  return queryBetween<R>(client, leading, query, [], values);
}

/**
 * {@link queryAfter}, with `trailing` run after `query` in the same round
 * trip — only when `query` succeeds. A failing trailing statement fails the
 * whole call.
 */
export function queryBetween<R extends pg.QueryResultRow = pg.QueryResultRow>(
  client: pg.ClientBase,
  leading: readonly SideStatement[],
  query: string | pg.QueryConfig,
  trailing: readonly SideStatement[],
  values?: unknown[],
): Promise<pg.QueryResult<R>> | null {
  if (protocolConnectionOf(client) === null || !plainConfig(query)) return null;
  // The query must use the extended protocol too: after a failed statement
  // the server skips every message up to the next Sync, a simple-protocol
  // Query message included, and would never answer.
  const config: pg.QueryConfig & { queryMode: 'extended' } =
    typeof query === 'string' ? { text: query, queryMode: 'extended' } : { ...query, queryMode: 'extended' };
  return new Promise<pg.QueryResult<R>>((resolve, reject) => {
    const inner = newDrivenQuery(config, values, (error, result) =>
      error ? reject(error) : resolve(result as pg.QueryResult<R>),
    );
    client.query(new SurroundedQuery(leading, inner, trailing) as unknown as pg.Submittable);
  }).catch((error: unknown) => {
    // As pg does: a stack that leads back to the caller, not to the socket's read loop.
    if (error instanceof Error) Error.captureStackTrace(error);
    throw error;
  });
}

/** A text, or a config object with nothing that only `client.query` itself handles. */
function plainConfig(query: unknown): query is string | pg.QueryConfig {
  if (typeof query === 'string') return true;
  if (query === null || typeof query !== 'object') return false;
  const config = query as Record<string, unknown>;
  return (
    typeof config['submit'] !== 'function' &&
    config['callback'] === undefined &&
    config['query_timeout'] === undefined &&
    config['rows'] === undefined
  );
}

/**
 * The submittable: writes the leading statements, the query's own messages,
 * then the trailing statements; passes the query every answer but those of
 * the statements around it.
 */
class SurroundedQuery {
  readonly #leading: readonly SideStatement[];
  readonly #inner: DrivenQuery;
  readonly #trailing: readonly SideStatement[];
  /** Leading statements whose CommandComplete has not come yet. */
  #pending: number;
  /** The query's own CommandComplete has come: what follows answers the trailing statements. */
  #innerDone = false;
  #innerError: Error | null = null;

  constructor(leading: readonly SideStatement[], inner: DrivenQuery, trailing: readonly SideStatement[]) {
    this.#leading = leading;
    this.#inner = inner;
    this.#trailing = trailing;
    this.#pending = leading.length;
  }

  // The client records a prepared statement under the active query's name
  // when a ParseComplete arrives; the other statements' ParseCompletes must
  // not count for the query's statement.
  get name(): string | undefined {
    return this.#pending === 0 && !this.#innerDone ? this.#inner.name : undefined;
  }
  get text(): string | undefined {
    return this.#inner.text;
  }
  // The client hands its type parsers and binary setting to the query here.
  get _result(): unknown {
    return this.#inner._result;
  }
  get binary(): boolean | undefined {
    return this.#inner.binary;
  }
  set binary(value: boolean | undefined) {
    this.#inner.binary = value;
  }

  submit(connection: ProtocolConnection): null {
    connection.stream.cork?.();
    try {
      writeStatements(connection, this.#leading);
      const error = this.#submitInner(connection);
      if (error) {
        // The query wrote nothing; the leading statements still need their
        // Sync, and the query its error once they are answered.
        this.#innerError = error;
        connection.sync();
      }
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  /** The query's own messages, with the trailing statements slipped in ahead of its Sync. */
  #submitInner(connection: ProtocolConnection): Error | null | void {
    if (this.#trailing.length === 0) return this.#inner.submit(connection);
    const trailing = this.#trailing;
    const { sync } = connection;
    const ownSync = Object.hasOwn(connection, 'sync');
    // submit() is synchronous: the stand-in lives only while it runs.
    connection.sync = () => {
      writeStatements(connection, trailing);
      sync.call(connection);
    };
    try {
      return this.#inner.submit(connection);
    } finally {
      if (ownSync) connection.sync = sync;
      else delete (connection as Partial<ProtocolConnection>).sync;
    }
  }

  handleCommandComplete(message: unknown, connection: unknown): void {
    if (this.#pending > 0) this.#pending--;
    else if (!this.#innerDone) {
      this.#innerDone = true;
      this.#inner.handleCommandComplete(message, connection);
    }
  }
  handleDataRow(message: unknown): void {
    if (this.#pending === 0 && !this.#innerDone) this.#inner.handleDataRow(message);
  }
  handleError(error: Error, connection: unknown): void {
    if (this.#pending > 0 && this.#inner.name) {
      // The server skipped the query's Parse: its statement was never prepared.
      const submitted = (connection as ProtocolConnection).submittedNamedStatements;
      if (submitted) delete submitted[this.#inner.name];
    }
    this.#inner.handleError(error, connection);
  }
  handleReadyForQuery(connection: unknown): void {
    if (this.#innerError) this.#inner.handleError(this.#innerError, connection);
    else this.#inner.handleReadyForQuery(connection);
  }
  handleRowDescription(message: unknown): void {
    this.#inner.handleRowDescription(message);
  }
  handlePortalSuspended(connection: unknown): void {
    this.#inner.handlePortalSuspended(connection);
  }
  handleEmptyQuery(connection: unknown): void {
    // An empty statement answers EmptyQueryResponse in place of CommandComplete.
    if (this.#pending > 0) this.#pending--;
    else if (!this.#innerDone) {
      this.#innerDone = true;
      this.#inner.handleEmptyQuery(connection);
    }
  }
  handleCopyInResponse(connection: unknown): void {
    this.#inner.handleCopyInResponse(connection);
  }
  handleCopyData(message: unknown, connection: unknown): void {
    this.#inner.handleCopyData(message, connection);
  }
}

/** Parse, Bind and Execute of each statement, unnamed; no Describe, so no RowDescription comes back. */
function writeStatements(connection: ProtocolConnection, statements: readonly SideStatement[]): void {
  for (const statement of statements) {
    connection.parse({ text: statement.text, name: '', types: [] });
    connection.bind({ portal: '', statement: '', values: statement.values ?? [], valueMapper: prepareValue });
    connection.execute({ portal: '', rows: 0 });
  }
}
