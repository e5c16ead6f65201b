import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { createWorker, enqueue, silentLogger } from 'proletarian';
import { useWorkerTestDatabase, waitFor, whileRunning } from './helpers/database.js';

// The README's recipe: the OpenTelemetry metrics of a worker, served to
// Prometheus on /metrics, and scraped.

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('metrics for Prometheus', () => {
  const { db, newQueue } = useWorkerTestDatabase();
  let exporter: PrometheusExporter;
  let port: number;
  before(async () => {
    port = await freePort();
    exporter = new PrometheusExporter({ host: '127.0.0.1', port });
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [exporter] }));
    await exporter.startServer();
  });
  after(async () => {
    await exporter.shutdown();
    metrics.disable();
  });

  it('serves job counters, run durations and queue gauges on /metrics', async () => {
    const queue = newQueue();
    const done = await enqueue(db.pool, 'report', {}, { ...db.tables, queue });
    await enqueue(db.pool, 'waiting', {}, { ...db.tables, queue });
    const worker = createWorker(db.pool, { ...db.tables, queue, log: silentLogger, pollInterval: 20, handlers: { report: () => {} } });
    const scraped = await whileRunning(worker, async () => {
      await waitFor(async () => (await db.rows(`SELECT 1 FROM "${db.schema}".archived_job WHERE job_id = $1`, [done])).length === 1);
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(response.status, 200);
      const text = await response.text();
      if (process.env['SHOW_METRICS']) console.log(text);
      return text;
    });
    const line = (name: string) => scraped.split('\n').find((l) => l.startsWith(name) && l.includes(`messaging_destination_name="${queue}"`));
    assert.match(line('proletarian_jobs_completed_total') ?? '', /proletarian_job_type="report".* 1$/);
    assert.match(line('messaging_process_duration_count') ?? '', /proletarian_job_outcome="success".* 1$/);
    assert.match(line('proletarian_queue_depth') ?? '', / 1$/, 'the job nobody handles waits');
    assert.match(line('proletarian_queue_lag') ?? '', / \d/);
    assert.match(scraped, /messaging_process_duration_bucket\{[^}]*le="0.005"\}/, 'buckets in seconds');
  });
});
