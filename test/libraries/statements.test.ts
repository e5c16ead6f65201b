import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';

// How statements are rewritten for the libraries that need it. Internal, so
// loaded from the build.
interface KnexModule {
  toKnexRaw(statement: { text: string; values: readonly unknown[] }): { sql: string; bindings: unknown[] };
}
interface StatementModule {
  asText(value: unknown): unknown;
}

describe('statements for other libraries', () => {
  let knex: KnexModule;
  let statement: StatementModule;
  before(async () => {
    knex = (await import(new URL('../../../dist/db/knex.js', import.meta.url).href)) as KnexModule;
    statement = (await import(new URL('../../../dist/db/statement.js', import.meta.url).href)) as StatementModule;
  });

  it("knex: $n becomes ?, values in the order they appear, a literal ? is escaped", () => {
    assert.deepEqual(knex.toKnexRaw({ text: "SELECT $2::int, $1::text, $2::int, '?'", values: ['a', 2] }), {
      sql: "SELECT ?::int, ?::text, ?::int, '\\?'",
      bindings: [2, 'a', 2],
    });
  });

  it('knex: a statement without values keeps its $ (dollar quoting)', () => {
    assert.deepEqual(knex.toKnexRaw({ text: 'DO $$ BEGIN PERFORM 1; END $$', values: [] }), {
      sql: 'DO $$ BEGIN PERFORM 1; END $$',
      bindings: [],
    });
  });

  it('dates and arrays as the text PostgreSQL reads', () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    assert.equal(statement.asText(at), '2026-01-02T03:04:05.678Z');
    assert.equal(
      statement.asText(['a', 'say "hi"', 'back\\slash', null, at, 1.5]),
      '{"a","say \\"hi\\"","back\\\\slash",NULL,"2026-01-02T03:04:05.678Z",1.5}',
    );
    assert.equal(statement.asText('{"json":1}'), '{"json":1}');
  });
});
