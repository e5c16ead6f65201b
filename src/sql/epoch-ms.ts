/**
 * A timestamptz expression as whole epoch milliseconds, rounded down, as
 * float8: exact in a JavaScript number, a safe (never later) bound, and
 * read alike by every library the app may pass as `db` — some return a
 * timestamptz as text (Drizzle), and an app may have its own type parser.
 */
export const EPOCH_MS = (time: string): string => `floor(extract(epoch FROM ${time}) * 1000)::float8`;
