import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createTestDatabase } from './helpers/database.js';

const run = promisify(execFile);

describe('without @opentelemetry/api', () => {
  it('enqueues with the statement it always had, stores no trace context, and runs jobs', async () => {
    const db = await createTestDatabase();
    try {
      const hooks = new URL('fixtures/hide-otel.js', import.meta.url).href;
      const register = `data:text/javascript,import{register}from'node:module';register(${JSON.stringify(hooks)})`;
      const script = fileURLToPath(new URL('fixtures/without-otel.js', import.meta.url));
      const { stdout } = await run(process.execPath, ['--no-warnings', '--import', register, script, db.schema], {
        timeout: 30_000,
      });
      const result = JSON.parse(stdout) as { api: string; ran: number; archived: number; traceContext: unknown; insert?: string };
      assert.equal(result.api, 'missing', 'the package cannot be found in that process');
      assert.equal(result.ran, 1);
      assert.equal(result.archived, 1);
      assert.equal(result.traceContext, null);
      assert.ok(result.insert, 'the insert was prepared');
      assert.doesNotMatch(result.insert, /trace_context/);
    } finally {
      await db.close();
    }
  });
});
