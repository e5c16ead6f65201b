#!/usr/bin/env node
// Writes database/proletarian-schema.sql: the full schema as plain SQL, for
// teams whose database changes go through their own migration tool.
//
//   npm run build && npm run schema:sql
//   node scripts/write-schema-sql.mjs --check   # exit 1 if the file is stale
//
// The SQL comes from the built package's schemaSql() (default names: schema
// `proletarian`, tables `job` and `archived_job`), which renders the
// migrations in src/migrations. test/schema-file.test.ts fails when the
// committed file no longer matches, so rerun this after adding a migration.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const check = process.argv.includes('--check');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const distIndex = path.join(root, 'dist', 'index.js');
const target = path.join(root, 'database', 'proletarian-schema.sql');

if (!fs.existsSync(distIndex)) {
  process.stderr.write(`write-schema-sql: ${path.relative(root, distIndex)} not found; run \`npm run build\` first\n`);
  process.exit(1);
}

const { schemaSql, LATEST_SCHEMA_VERSION } = await import(pathToFileURL(distIndex).href);

// Every line of the header is an SQL comment; the test relies on that to
// separate it from the generated SQL.
const header = `-- Proletarian schema, version ${LATEST_SCHEMA_VERSION}: schema "proletarian", tables "job" and "archived_job".
--
-- GENERATED FILE: do not edit. It is written by \`npm run schema:sql\` from the
-- migrations in src/migrations; edit those and run the command again.
--
-- How to use it:
--   * Easiest: let Proletarian install and upgrade its tables itself, with
--     \`npx proletarian migrate\` (DATABASE_URL) or \`await migrate(pool)\` at start-up.
--   * If your schema changes go through a migration tool (Flyway, Liquibase,
--     node-pg-migrate, Sqitch, ...), copy this file into a new migration of
--     that tool. Run it once: it is a migration, not an idempotent script.
--     For other names, print the SQL with
--     \`npx proletarian schema --schema <name> --job-table <name> --archived-job-table <name>\`.
--   * Keep the "job_migrations" table and its rows: the worker reads the
--     installed version there at start, and \`migrate()\` upgrades from it.
--   * For a least-privilege role for your app and workers, see database/roles.sql.

`;

const content = header + schemaSql();
const previous = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : null;
if (check) {
  if (previous !== content) {
    process.stderr.write(
      `${path.relative(root, target)} is ${previous === null ? 'missing' : 'out of date'}; run \`npm run build && npm run schema:sql\`\n`,
    );
    process.exit(1);
  }
  process.stdout.write(`${path.relative(root, target)} is up to date\n`);
} else if (previous === content) {
  process.stdout.write(`${path.relative(root, target)} is up to date\n`);
} else {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, content);
  process.stdout.write(`wrote ${path.relative(root, target)}\n`);
}
