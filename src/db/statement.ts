import type pg from 'pg';

// What every adapter needs from a call to Queryable.query: the text and its
// values, whichever of pg's two forms the caller used. Statement names
// (prepared statements) are pg's alone; the other libraries get text and values.

/** One statement to run: `$n` placeholders in `text`, `values[n - 1]` for each. */
export interface Statement {
  text: string;
  values: readonly unknown[];
}

/** The statement of a `query(text, values)` or `query({ text, values })` call. */
export function statementOf(query: string | pg.QueryConfig, values?: readonly unknown[]): Statement {
  if (typeof query === 'string') return { text: query, values: values ?? [] };
  return { text: query.text, values: values ?? query.values ?? [] };
}

/** A result in pg's shape, for the few fields Proletarian reads (rows, rowCount). */
export function resultOf<R extends pg.QueryResultRow>(rows: readonly unknown[], rowCount: number | null): pg.QueryResult<R> {
  return { rows: rows as R[], rowCount, command: '', oid: 0, fields: [] };
}

/**
 * `value` as the text PostgreSQL reads for it, for drivers that may pass
 * dates and arrays through untouched (Drizzle's postgres-js driver turns off
 * postgres.js's serializers for timestamps): a Date as ISO 8601, an array as
 * an array literal. Anything else as is.
 */
export function asText(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return `{${value.map(arrayElement).join(',')}}`;
  return value;
}

function arrayElement(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  const text = asText(value);
  return typeof text === 'string' && !Array.isArray(value) ? `"${text.replace(/[\\"]/g, '\\$&')}"` : String(text);
}
