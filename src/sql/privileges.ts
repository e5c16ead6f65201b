import type { Queryable } from '../types.js';

/** A table privilege a role needs, e.g. `{ table: '"proletarian"."job"', privilege: 'DELETE' }`. */
export interface TablePrivilege {
  readonly table: string;
  readonly privilege: 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';
}

/**
 * Which of `needed` the current role lacks, and the role's name. One
 * statement; a table that does not exist fails it with 42P01.
 */
export async function missingPrivileges(
  db: Queryable,
  needed: readonly TablePrivilege[],
): Promise<{ role: string; missing: TablePrivilege[] }> {
  // has_table_privilege() with a list of privileges answers "any of them", so each is asked on its own.
  const result = await db.query<{ role: string; missing: [string, TablePrivilege['privilege']][] | null }>(
    `SELECT current_user AS role,
            (SELECT json_agg(json_build_array(t.name, t.privilege) ORDER BY t.ord)
               FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(name, privilege, ord)
              WHERE NOT has_table_privilege(t.name, t.privilege)) AS missing`,
    [needed.map((n) => n.table), needed.map((n) => n.privilege)],
  );
  const row = result.rows[0];
  return {
    role: row?.role ?? '',
    missing: (row?.missing ?? []).map(([table, privilege]) => ({ table, privilege })),
  };
}
