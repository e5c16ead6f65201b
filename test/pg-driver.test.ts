import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { it } from 'node:test';
import pg from 'pg';
import { databaseUrl } from './helpers/database.js';

// The parts of pg beyond its documented API that the worker uses (statements
// sent ahead of a query, query cancel): all of them in src/db/pg-driver.ts.
// Without them the worker still works, only slower and unable to cancel, so
// this is where a pg release that changes them shows. Internal, so loaded
// from the build.
interface PgDriverModule {
  pgDriverProblems(client: pg.ClientBase): string[];
}

it('pg has every part of its private API the worker uses', async () => {
  const driver = (await import(new URL('../../dist/db/pg-driver.js', import.meta.url).href)) as PgDriverModule;
  // Not require('pg/package.json'): older releases do not export it.
  const main = createRequire(import.meta.url).resolve('pg');
  const { version } = JSON.parse(readFileSync(path.join(path.dirname(main), '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  const client = new pg.Client({ connectionString: databaseUrl() });
  await client.connect();
  try {
    assert.deepEqual(driver.pgDriverProblems(client), [], `pg ${version} changed what src/db/pg-driver.ts relies on`);
  } finally {
    await client.end();
  }
});
