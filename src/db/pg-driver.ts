import pg from 'pg';

// Everything Proletarian uses of pg beyond its documented API, in one place:
// the worker sends statements ahead of a query in one round trip
// (../sql/round-trip.ts) and cancels a stuck query the way psql does
// (../worker/cancel-query.ts). Both degrade when these parts are missing —
// one round trip per statement, no cancel — so a pg release that changes them
// would only show as a slower worker: `pgDriverProblems` names what is
// missing, and a test of its own fails on it.

/** pg's conversion of a parameter value (arrays, dates, JSON) to what it sends. */
export type ValueMapper = (value: unknown) => unknown;

/** What of a pg connection is used: the extended-protocol message writers. */
export interface ProtocolConnection {
  stream: { cork?: () => void; uncork?: () => void };
  parse(message: { text: string; name: string; types: unknown[] }): void;
  bind(message: { portal: string; statement: string; values: readonly unknown[]; valueMapper: ValueMapper }): void;
  execute(message: { portal: string; rows: number }): void;
  sync(): void;
  /** Named statements sent but not yet parsed; only in recent pg versions. */
  submittedNamedStatements?: Record<string, string>;
}

/** The parts of a pg.Query the client drives, beyond the public types. */
export interface DrivenQuery {
  name?: string;
  text?: string;
  binary?: boolean;
  _result?: unknown;
  submit(connection: ProtocolConnection): Error | null | void;
  handleRowDescription(message: unknown): void;
  handleDataRow(message: unknown): void;
  handlePortalSuspended(connection: unknown): void;
  handleEmptyQuery(connection: unknown): void;
  handleCommandComplete(message: unknown, connection: unknown): void;
  handleError(error: Error, connection: unknown): void;
  handleReadyForQuery(connection: unknown): void;
  handleCopyInResponse(connection: unknown): void;
  handleCopyData(message: unknown, connection: unknown): void;
}

/** What a CancelRequest for a client's running statement needs: its backend's key and its server. */
export interface CancelKey {
  processID: number;
  secretKey: number;
  host: string;
  port: number;
}

const DRIVEN_QUERY_METHODS = [
  'submit',
  'handleRowDescription',
  'handleDataRow',
  'handlePortalSuspended',
  'handleEmptyQuery',
  'handleCommandComplete',
  'handleError',
  'handleReadyForQuery',
  'handleCopyInResponse',
  'handleCopyData',
] as const;

const CONNECTION_METHODS = ['parse', 'bind', 'execute', 'sync'] as const;

const pgPrepareValue = (pg as unknown as { utils?: { prepareValue?: ValueMapper } }).utils?.prepareValue;

/**
 * pg's own conversion of parameter values. Never called without pg's:
 * {@link protocolConnectionOf} offers no connection then.
 */
export const prepareValue: ValueMapper =
  pgPrepareValue ??
  (() => {
    throw new Error('pg.utils.prepareValue is missing');
  });

/** A pg.Query, as the client would make of `query(config, values, callback)`. */
export function newDrivenQuery(
  config: pg.QueryConfig,
  values: unknown[] | undefined,
  callback: (error: Error | undefined, result: unknown) => void,
): DrivenQuery {
  return new pg.Query(config, values, callback) as unknown as DrivenQuery;
}

/**
 * The message writers of `client`'s connection, when statements can be
 * written ahead of a query on it: not with pg-native, nor in pg's own
 * pipeline mode, which refuses submittables.
 */
export function protocolConnectionOf(client: pg.ClientBase): ProtocolConnection | null {
  const { connection, pipeline } = client as unknown as { connection?: Partial<ProtocolConnection>; pipeline?: boolean };
  if (pipeline === true || pgPrepareValue === undefined || !connection) return null;
  for (const method of CONNECTION_METHODS) if (typeof connection[method] !== 'function') return null;
  return connection as ProtocolConnection;
}

/** `client`'s cancel key, or null when pg does not show it (pg-native, an unconnected client). */
export function cancelKeyOf(client: pg.ClientBase): CancelKey | null {
  const { processID, secretKey, host, port } = client as unknown as Partial<Record<keyof CancelKey, unknown>>;
  if (typeof processID !== 'number' || typeof secretKey !== 'number') return null;
  if (typeof host !== 'string' || host === '' || typeof port !== 'number') return null;
  return { processID, secretKey, host, port };
}

/**
 * What of the above a connected `client` lacks, in words; empty when this
 * pg gives the worker everything it uses.
 */
export function pgDriverProblems(client: pg.ClientBase): string[] {
  const problems: string[] = [];
  if (pgPrepareValue === undefined) problems.push('pg.utils.prepareValue is missing');
  const connection = (client as unknown as { connection?: Record<string, unknown> }).connection;
  for (const method of CONNECTION_METHODS) {
    if (typeof connection?.[method] !== 'function') problems.push(`client.connection.${method}() is missing`);
  }
  const stream = connection?.['stream'] as { cork?: unknown } | undefined;
  if (typeof stream?.cork !== 'function') problems.push('client.connection.stream.cork() is missing');
  const query = newDrivenQuery({ text: 'SELECT 1' }, undefined, () => {}) as unknown as Record<string, unknown>;
  for (const method of DRIVEN_QUERY_METHODS) {
    if (typeof query[method] !== 'function') problems.push(`pg.Query.prototype.${method}() is missing`);
  }
  if (cancelKeyOf(client) === null) problems.push('client.processID, secretKey, host or port is missing');
  return problems;
}
