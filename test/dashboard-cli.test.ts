import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, databaseUrl, type TestDatabase } from './helpers/database.js';

// build/test/dashboard-cli.test.js -> dist/cli.js
const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** The environment without the dashboard's credentials (the test sets those it wants). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('PROLETARIAN_DASHBOARD_')));
  return { ...env, DATABASE_URL: databaseUrl(), ...extra };
}

describe('proletarian dashboard (the command)', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.close());

  it('refuses a non-local address without authentication, with a message that says what to do', async () => {
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [cli, 'dashboard', '--host', '0.0.0.0', '--port', '0'], { env: cleanEnv(), timeout: 15_000 }, (error, _out, stderr) =>
        resolve({ code: error ? (error.code as number) : 0, stderr }),
      );
    });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /refusing to serve the dashboard on 0\.0\.0\.0 without authentication/);
    assert.match(result.stderr, /PROLETARIAN_DASHBOARD_TOKEN/);
  });

  it('serves on a local port with token auth from the environment, and stops on SIGTERM', async () => {
    const token = 'cli-token-with-enough-characters';
    const child = spawn(process.execPath, [cli, 'dashboard', '--port', '0', '--schema', db.schema], {
      env: cleanEnv({ PROLETARIAN_DASHBOARD_TOKEN: token }),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const lines = createInterface({ input: child.stdout });
      const [line] = (await once(lines, 'line')) as [string];
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(line)?.[1];
      assert.ok(url, line);
      assert.equal((await fetch(`${url}api/overview`)).status, 401);
      const ok = await fetch(`${url}api/overview`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(ok.status, 200);
      assert.deepEqual(((await ok.json()) as { queues: unknown[] }).queues, []);
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
  });
});
