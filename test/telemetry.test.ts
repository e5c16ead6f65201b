import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { HistogramMetricData } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createWorker, enqueue, enqueueMany, silentLogger, type WorkerOptions } from 'proletarian';
import { useWorkerTestDatabase, waitFor, whileRunning } from './helpers/database.js';
import { pointOf, setUpTelemetry, spansNamed, type TestTelemetry } from './helpers/otel.js';

// With @opentelemetry/api installed and an SDK registered, as an app does:
// a producer span per enqueue, a consumer span per run in the enqueuing
// trace, counters and a duration histogram, and per-queue gauges.

describe('OpenTelemetry', () => {
  const { db, newQueue } = useWorkerTestDatabase();
  let otel: TestTelemetry;
  before(() => {
    otel = setUpTelemetry();
  });
  after(() => otel.shutdown());

  const worker = (options: Partial<WorkerOptions> & Pick<WorkerOptions, 'handlers' | 'queue'>) =>
    createWorker(db.pool, { ...db.tables, log: silentLogger, pollInterval: 20, ...options });
  const archived = (jobId: string) =>
    db.rows(`SELECT status FROM "${db.schema}".archived_job WHERE job_id = $1`, [jobId]);
  const storedContext = async (jobId: string) =>
    (await db.rows<{ trace_context: Record<string, string> | null }>(
      `SELECT trace_context FROM "${db.schema}".job WHERE job_id = $1
       UNION ALL SELECT trace_context FROM "${db.schema}".archived_job WHERE job_id = $1`,
      [jobId],
    ))[0]?.trace_context;
  const tracer = () => trace.getTracer('the-app');
  const childOf = (span: ReadableSpan, parent: ReadableSpan) =>
    span.spanContext().traceId === parent.spanContext().traceId &&
    span.parentSpanContext?.spanId === parent.spanContext().spanId;

  it("a job's run joins the trace of the request that enqueued it, through the context stored with the job", async () => {
    const queue = newQueue();
    // The request: a span of the app, active while it enqueues.
    const request = tracer().startSpan('POST /signup');
    const jobId = await context.with(trace.setSpan(context.active(), request), () =>
      enqueue(db.pool, 'welcome', { userId: 1 }, { ...db.tables, queue }),
    );
    request.end();

    const stored = await storedContext(jobId);
    assert.match(stored?.['traceparent'] ?? '', new RegExp(`^00-${request.spanContext().traceId}-[0-9a-f]{16}-01$`));

    const [producer] = spansNamed(otel.spans, 'send welcome').filter((s) => s.attributes['messaging.message.id'] === jobId);
    assert.ok(producer, 'a producer span');
    assert.equal(producer.kind, SpanKind.PRODUCER);
    assert.ok(childOf(producer, otel.spans.getFinishedSpans().find((s) => s.name === 'POST /signup')!));
    assert.deepEqual(
      { ...producer.attributes },
      {
        'messaging.system': 'proletarian',
        'messaging.operation.name': 'send',
        'messaging.operation.type': 'send',
        'messaging.destination.name': queue,
        'proletarian.job.type': 'welcome',
        'messaging.message.id': jobId,
      },
    );

    // The worker runs later, with nothing of the request's context around: only the stored one.
    let handlerSpan: string | undefined;
    const w = worker({
      queue,
      workerId: 'w-trace',
      handlers: {
        welcome: async () => {
          // The handler's own spans are children of the run's.
          const inner = tracer().startSpan('render email');
          handlerSpan = inner.spanContext().spanId;
          inner.end();
        },
      },
    });
    await whileRunning(w, () => waitFor(() => archived(jobId).then((rows) => rows.length === 1), { what: 'the job archived' }));

    const [run] = spansNamed(otel.spans, 'process welcome').filter((s) => s.attributes['messaging.message.id'] === jobId);
    assert.ok(run, 'a consumer span');
    assert.equal(run.kind, SpanKind.CONSUMER);
    assert.ok(childOf(run, producer), "the run's span is a child of the producer span, in the request's trace");
    assert.equal(run.status.code, SpanStatusCode.UNSET);
    assert.deepEqual(
      { ...run.attributes },
      {
        'messaging.system': 'proletarian',
        'messaging.operation.name': 'process',
        'messaging.operation.type': 'process',
        'messaging.destination.name': queue,
        'messaging.message.id': jobId,
        'messaging.client.id': 'w-trace',
        'proletarian.job.type': 'welcome',
        'proletarian.job.attempt': 1,
        'proletarian.job.outcome': 'success',
      },
    );
    const inner = otel.spans.getFinishedSpans().find((s) => s.spanContext().spanId === handlerSpan);
    assert.ok(inner && childOf(inner, run), "the handler's span is a child of the run's");
  });

  it('one span per attempt, each in the trace, failed ones with their error; counters and durations by queue and type', async () => {
    const queue = newQueue();
    const root = tracer().startSpan('nightly import');
    const jobId = await context.with(trace.setSpan(context.active(), root), () =>
      enqueue(db.pool, 'flaky', { n: 1 }, { ...db.tables, queue }),
    );
    root.end();
    const doomed = await enqueue(db.pool, 'doomed', {}, { ...db.tables, queue });
    let calls = 0;
    const w = worker({
      queue,
      handlers: {
        flaky: {
          retryStrategy: { retries: 2, delays: [0] },
          handler: () => {
            if (++calls === 1) throw new TypeError('the first attempt fails');
          },
        },
        doomed: {
          retryStrategy: { retries: 0 },
          handler: () => {
            throw new RangeError('never works');
          },
        },
      },
    });
    await whileRunning(w, () =>
      waitFor(async () => (await archived(jobId)).length === 1 && (await archived(doomed)).length === 1, { what: 'both archived' }),
    );

    const [producer] = spansNamed(otel.spans, 'send flaky');
    const runs = spansNamed(otel.spans, 'process flaky').sort((a, b) => Number(a.attributes['proletarian.job.attempt']) - Number(b.attributes['proletarian.job.attempt']));
    assert.equal(runs.length, 2, 'one span per attempt');
    for (const run of runs) assert.ok(childOf(run, producer!), 'every attempt is a child of the producer span');
    const [first, second] = runs as [ReadableSpan, ReadableSpan];
    assert.equal(first.status.code, SpanStatusCode.ERROR);
    assert.equal(first.status.message, 'the first attempt fails');
    assert.equal(first.attributes['error.type'], 'TypeError');
    assert.equal(first.attributes['proletarian.job.outcome'], 'retry');
    assert.equal(first.events[0]?.name, 'exception');
    assert.equal(second.attributes['proletarian.job.attempt'], 2);
    assert.equal(second.attributes['proletarian.job.outcome'], 'success');
    assert.equal(second.status.code, SpanStatusCode.UNSET);
    const [failed] = spansNamed(otel.spans, 'process doomed');
    assert.equal(failed?.attributes['proletarian.job.outcome'], 'failure');
    assert.equal(failed?.attributes['error.type'], 'RangeError');

    const collected = await otel.collect();
    const byType = (jobType: string) => ({ 'messaging.destination.name': queue, 'proletarian.job.type': jobType });
    assert.equal(pointOf(collected.get('proletarian.jobs.completed'), byType('flaky'))?.value, 1);
    assert.equal(pointOf(collected.get('proletarian.jobs.retried'), byType('flaky'))?.value, 1);
    assert.equal(pointOf(collected.get('proletarian.jobs.failed'), byType('doomed'))?.value, 1);
    assert.equal(pointOf(collected.get('proletarian.jobs.failed'), byType('flaky')), undefined);
    const durations = collected.get('messaging.process.duration') as HistogramMetricData | undefined;
    assert.equal(durations?.descriptor.unit, 's');
    const succeeded = pointOf(durations, { ...byType('flaky'), 'proletarian.job.outcome': 'success' });
    const retried = pointOf(durations, { ...byType('flaky'), 'proletarian.job.outcome': 'retry', 'error.type': 'TypeError' });
    assert.equal((succeeded?.value as { count: number } | undefined)?.count, 1);
    assert.equal((retried?.value as { count: number } | undefined)?.count, 1);
  });

  it('lease mode: a consumer span per run, in the enqueuing trace', async () => {
    const queue = newQueue();
    const root = tracer().startSpan('upload');
    const jobId = await context.with(trace.setSpan(context.active(), root), () =>
      enqueue(db.pool, 'encode', {}, { ...db.tables, queue }),
    );
    root.end();
    const w = worker({ queue, handlers: { encode: { mode: 'lease', handler: async () => {} } } });
    await whileRunning(w, () => waitFor(() => archived(jobId).then((rows) => rows.length === 1), { what: 'archived' }));
    const [producer] = spansNamed(otel.spans, 'send encode');
    const [run] = spansNamed(otel.spans, 'process encode');
    assert.ok(run && producer && childOf(run, producer));
    assert.equal(run.attributes['proletarian.job.outcome'], 'success');
  });

  it('enqueueMany: one producer span for the call, its context stored with every job', async () => {
    const queue = newQueue();
    const ids = await enqueueMany(
      db.pool,
      [
        { jobType: 'a', payload: {}, queue },
        { jobType: 'b', payload: {}, queue, uniqueKey: 'k' },
      ],
      db.tables,
    );
    const [send] = otel.spans.getFinishedSpans().filter((s) => s.name === 'send' && s.attributes['messaging.destination.name'] === queue);
    assert.ok(send, 'a span named after the operation alone, as the job types differ');
    assert.equal(send.attributes['messaging.batch.message_count'], 2);
    for (const id of ids) {
      assert.equal((await storedContext(id))?.['traceparent'], `00-${send.spanContext().traceId}-${send.spanContext().spanId}-01`);
    }
  });

  it("onConflict 'replace' gives the waiting job the latest enqueue's trace context", async () => {
    const queue = newQueue();
    const options = { ...db.tables, queue, uniqueKey: 'user:7', onConflict: 'replace' as const, processIn: 60_000 };
    const first = await enqueue(db.pool, 'debounced', { v: 1 }, options);
    const second = await enqueue(db.pool, 'debounced', { v: 2 }, options);
    assert.equal(second, first);
    const latest = spansNamed(otel.spans, 'send debounced').at(-1)!;
    assert.equal(latest.attributes['messaging.message.id'], first);
    assert.equal((await storedContext(first))?.['traceparent'], `00-${latest.spanContext().traceId}-${latest.spanContext().spanId}-01`);
  });

  it('a failed enqueue ends its span with the error', async () => {
    await assert.rejects(enqueue(db.pool, 'x', {}, { schema: 'no_such_schema' }));
    const [span] = spansNamed(otel.spans, 'send x');
    assert.equal(span?.status.code, SpanStatusCode.ERROR);
    assert.equal(span?.attributes['error.type'], 'SchemaNotReadyError');
  });

  it("per queue, the depth and lag gauges: read at collection, from the worker's queue", async () => {
    const queue = newQueue();
    // Jobs of a type no worker handles wait; one of them has waited a minute.
    const ids = await enqueueMany(db.pool, [1, 2, 3].map(() => ({ jobType: 'unhandled', payload: {}, queue })), db.tables);
    await db.pool.query(`UPDATE "${db.schema}".job SET process_at = now() - interval '60 seconds' WHERE job_id = $1`, [ids[0]]);
    await enqueue(db.pool, 'unhandled', {}, { ...db.tables, queue, processIn: 3_600_000 }); // not due: not counted
    const w = worker({ queue, handlers: { other: () => {} } });
    await whileRunning(w, async () => {
      const collected = await otel.collect();
      const attributes = { 'messaging.destination.name': queue, 'messaging.system': 'proletarian' };
      assert.equal(pointOf(collected.get('proletarian.queue.depth'), attributes)?.value, 3);
      const lag = pointOf(collected.get('proletarian.queue.lag'), attributes)?.value as number;
      assert.ok(lag >= 60 && lag < 120, `lag ${lag} s`);
    });
  });
});
