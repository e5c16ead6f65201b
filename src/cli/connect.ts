import pg from 'pg';
import { explainSetupError } from '../database-errors.js';
import { stringValue, type Values } from './command-line.js';

/** --database-url, else DATABASE_URL; null (and a message) when neither is set. */
export function databaseUrlOf(command: string, values: Values): string | null {
  const connectionString = stringValue(values, 'database-url') ?? process.env['DATABASE_URL'];
  if (!connectionString) {
    process.stderr.write(`proletarian ${command}: set DATABASE_URL or pass --database-url\n`);
    return null;
  }
  return connectionString;
}

/** Runs `work` on a connected client, closed afterwards; resolves with the exit code. */
export async function withClient(
  command: string,
  values: Values,
  work: (client: pg.Client) => Promise<number | void>,
): Promise<number> {
  const connectionString = databaseUrlOf(command, values);
  if (connectionString === null) return 1;
  const client = new pg.Client({ connectionString });
  try {
    await client.connect();
  } catch (error) {
    throw explainSetupError(error, 'cannot connect to the database');
  }
  try {
    return (await work(client)) ?? 0;
  } finally {
    await client.end();
  }
}

/** The database's clock minus `ms`: "since" and "until" by the same clock as every time stored. */
export async function databaseTimeAgo(client: pg.Client, ms: number): Promise<Date> {
  const { rows } = await client.query<{ t: Date }>(`SELECT now() - $1::float8 * interval '1 millisecond' AS t`, [ms]);
  return rows[0]!.t;
}
