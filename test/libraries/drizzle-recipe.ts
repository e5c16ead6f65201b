import { drizzle } from 'drizzle-orm/pg-proxy';
import type { JobContext } from 'proletarian';

// The README's recipe: Drizzle on the job's transaction, through its pg-proxy
// driver, whichever driver the app itself uses. Drizzle asks for rows as
// arrays ('all') or as objects ('execute').
export function jobDrizzle(ctx: JobContext) {
  return drizzle(async (sql, params, method) => {
    const result =
      method === 'all'
        ? await ctx.db.query({ text: sql, values: params, rowMode: 'array' })
        : await ctx.db.query(sql, params);
    return { rows: result.rows };
  });
}
