import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import * as api from 'proletarian';

// Every public function that takes a `db` (a DbClient) takes the libraries'
// objects: the README's section on them and DbClient's documentation list
// each one, and the libraries' contract (contract.ts) calls each one.

const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

/** Names of the exported functions of src/ whose first parameter is a DbClient. */
function functionsTakingDb(): string[] {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(new URL(dir, root), { withFileTypes: true })) {
      if (entry.isDirectory()) walk(`${dir}${entry.name}/`);
      else if (entry.name.endsWith('.ts')) {
        for (const match of read(`${dir}${entry.name}`).matchAll(/export async function (\w+)(?:<[^>]*>)?\(\s*\w+: DbClient\b/g)) {
          names.add(match[1]!);
        }
      }
    }
  };
  walk('src/');
  // Public ones only (the command line has internal helpers of its own).
  return [...names].filter((name) => typeof (api as Record<string, unknown>)[name] === 'function').sort();
}

describe('the functions that take db', () => {
  const names = functionsTakingDb();

  it('are the ones expected', () => {
    assert.deepEqual(names, [
      'cancelJob', 'cancelJobs', 'deleteJob', 'deleteJobs', 'enqueue', 'enqueueMany', 'listSchedules', 'migrate',
      'pauseQueue', 'prune', 'queueStats', 'resumeQueue', 'retryJob', 'retryJobs', 'runJobNow',
    ]);
  });

  it("are each named in the README's section on database libraries and in DbClient's documentation", () => {
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('\n## Database libraries\n'), readme.indexOf('\n## API reference\n'));
    const intro = section.slice(0, section.indexOf('\n| Library |'));
    const shapes = read('src/db/shapes.ts');
    const dbClientDoc = shapes.slice(shapes.lastIndexOf('/**', shapes.indexOf('export type DbClient')));
    for (const name of names) {
      assert.match(intro, new RegExp(`\`${name}\``), `README: ${name}`);
      assert.match(dbClientDoc, new RegExp(`\`${name}\``), `DbClient: ${name}`);
    }
  });

  it("are each called by the libraries' contract", () => {
    const contract = read('test/libraries/contract.ts');
    for (const name of names) assert.match(contract, new RegExp(`await ${name}\\((lib\\.db|tx),`), name);
  });
});
