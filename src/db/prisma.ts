import type { Queryable } from '../types.js';
import { queryableRunning, type AdaptedDb } from './adapted.js';
import { resultOf } from './statement.js';

// Prisma runs text with `$n` placeholders through `$queryRawUnsafe`, on the
// client's adapter or on the interactive transaction's connection.

interface Prisma {
  /** Only on the client: a transaction has a $transaction too (nested ones, as savepoints). */
  $disconnect?(): Promise<void>;
  $queryRawUnsafe(query: string, ...values: unknown[]): PromiseLike<unknown[]>;
  $executeRawUnsafe(query: string, ...values: unknown[]): PromiseLike<number>;
  $transaction?<T>(work: (tx: Prisma) => Promise<T>, options?: { maxWait?: number; timeout?: number }): Promise<T>;
}

export function isPrisma(db: object): boolean {
  const candidate = db as Partial<Prisma>;
  return typeof candidate.$queryRawUnsafe === 'function' && typeof candidate.$executeRawUnsafe === 'function';
}

// Prisma ends an interactive transaction after 5 s by default; a migration
// may wait longer than that for another process's.
const TRANSACTION_TIMEOUTS = { maxWait: 60_000, timeout: 600_000 };

export function adaptPrisma(db: object): AdaptedDb {
  const prisma = db as Prisma;
  const $transaction = typeof prisma.$disconnect === 'function' ? prisma.$transaction?.bind(prisma) : undefined;
  return {
    library: 'prisma',
    queryable: prismaQueryable(prisma),
    transaction:
      $transaction ? (work) => $transaction((tx) => work(prismaQueryable(tx)), TRANSACTION_TIMEOUTS) : null,
  };
}

/** A statement's end followed by more text. */
const SCRIPT = /;\s*\S/;

function prismaQueryable(prisma: Prisma): Queryable {
  return queryableRunning(async ({ text, values }) => {
    try {
      // A script of several statements (a migration) answers with several
      // results, which only $executeRawUnsafe takes; nobody reads its rows.
      if (values.length === 0 && SCRIPT.test(text)) return resultOf([], await prisma.$executeRawUnsafe(text));
      const rows = await prisma.$queryRawUnsafe(text, ...values);
      return resultOf(rows, rows.length);
    } catch (error) {
      throw withSqlState(error);
    }
  });
}

/**
 * PostgreSQL's error, with its SQLSTATE as `code` like pg's, from the one
 * Prisma throws (`P2010`, the driver's error deep in its `meta`); callers
 * tell a missing table from other failures by that code.
 */
function withSqlState(error: unknown): unknown {
  const meta = (error as { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown; originalMessage?: unknown } } } })
    ?.meta;
  const cause = meta?.driverAdapterError?.cause;
  if (typeof cause?.originalCode !== 'string') return error;
  const message = typeof cause.originalMessage === 'string' ? cause.originalMessage : (error as Error).message;
  return Object.assign(new Error(message, { cause: error }), { code: cause.originalCode });
}
