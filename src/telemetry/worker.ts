import type { Attributes, Counter, Histogram, Meter, MeterProvider, ObservableGauge, Span } from '@opentelemetry/api';
import type pg from 'pg';
import { queueGauges } from '../sql/telemetry.js';
import type { Tables } from '../tables.js';
import type { JobInfo } from '../types.js';
import type { RunOutcome } from '../worker/run-outcome.js';
import { ATTR, INSTRUMENTATION_NAME, otelApi, otelRegistered, type OtelApi, type TraceCarrier } from './otel.js';

// A worker's spans and metrics. The runners call it only when OpenTelemetry
// is installed (runtime.telemetry is null otherwise): a consumer span per
// run, whose parent is the context stored with the job at enqueue; counters
// and a duration histogram once each outcome is carried out (after the
// commit, like the log); and per queue, gauges read once per collection.

/** A run whose span is open: started, its outcome not yet carried out. */
interface OpenRun {
  readonly span: Span;
  readonly slot: number;
  readonly startedMs: number;
  /** When the handler settled (epoch ms); null while it runs. */
  endedMs: number | null;
}

/** The instruments of one meter provider. */
interface Instruments {
  readonly provider: MeterProvider;
  readonly completed: Counter;
  readonly failed: Counter;
  readonly retried: Counter;
  readonly duration: Histogram;
}

const now = () => performance.timeOrigin + performance.now();

/** The worker's telemetry, or null when `@opentelemetry/api` is not installed or no SDK is registered. */
export async function workerTelemetry(queue: string, workerId: string): Promise<WorkerTelemetry | null> {
  if (!otelRegistered()) return null;
  const api = await otelApi();
  if (api === null || !sdkRegistered(api)) return null;
  return new WorkerTelemetry(api, queue, workerId);
}

/**
 * Whether an SDK has registered a tracer or meter provider. The bare API
 * answers with no-ops, which would still cost a span's context and a
 * promise per job for nothing: a worker started before any SDK reports
 * nothing, as without the package.
 */
function sdkRegistered(api: OtelApi): boolean {
  const probe = api.trace.getTracer(INSTRUMENTATION_NAME).startSpan('probe');
  const tracing = probe.spanContext().traceId !== api.INVALID_TRACEID;
  // Not ended: a probe is no span of the app's.
  const noopMeter = api.createNoopMeter().constructor;
  const metering = api.metrics.getMeterProvider().getMeter(INSTRUMENTATION_NAME).constructor !== noopMeter;
  return tracing || metering;
}

export class WorkerTelemetry {
  readonly #api: OtelApi;
  readonly #queue: string;
  readonly #workerId: string;
  readonly #open = new Map<JobInfo, OpenRun>();
  #instruments: Instruments | null = null;

  constructor(api: OtelApi, queue: string, workerId: string) {
    this.#api = api;
    this.#queue = queue;
    this.#workerId = workerId;
  }

  /**
   * Calls `call` (the handler) inside the run's consumer span, a child of
   * the trace context stored at enqueue (`traceContext`, JSON text) or a new
   * trace's root; the handler's own spans become its children.
   */
  run<R>(job: JobInfo, traceContext: string | null, slot: number, call: () => R | Promise<R>): R | Promise<R> {
    const api = this.#api;
    // Never the worker's own context: that would be whatever was active when start() was called.
    const parent = traceContext === null ? api.ROOT_CONTEXT : api.propagation.extract(api.ROOT_CONTEXT, carrierOf(traceContext));
    // Both ends on one clock, so the span's end (the handler's) never precedes its start.
    const startedMs = now();
    const span = api.trace.getTracer(INSTRUMENTATION_NAME).startSpan(
      `process ${job.jobType}`,
      {
        kind: api.SpanKind.CONSUMER,
        startTime: startedMs,
        attributes: {
          [ATTR.system]: INSTRUMENTATION_NAME,
          [ATTR.operationName]: 'process',
          [ATTR.operationType]: 'process',
          [ATTR.destination]: job.queue,
          [ATTR.messageId]: job.jobId,
          [ATTR.clientId]: this.#workerId,
          [ATTR.jobType]: job.jobType,
          [ATTR.attempt]: job.attempt,
        },
      },
      parent,
    );
    const run: OpenRun = { span, slot, startedMs, endedMs: null };
    this.#open.set(job, run);
    const result = api.context.with(api.trace.setSpan(parent, span), call);
    if (!(result instanceof Promise)) {
      run.endedMs = now();
      return result;
    }
    return result.then(
      (value) => {
        run.endedMs = now();
        return value;
      },
      (error: unknown) => {
        run.endedMs = now();
        throw error;
      },
    );
  }

  /** After `outcome` was carried out (committed): counts it, and ends the run's span with it. */
  settled(job: JobInfo, outcome: RunOutcome): void {
    const instruments = this.#instrumentsNow();
    const attributes: Attributes = { [ATTR.destination]: job.queue, [ATTR.jobType]: job.jobType };
    if (outcome.kind === 'success') instruments.completed.add(1, attributes);
    else if (outcome.kind === 'retry') instruments.retried.add(1, attributes);
    else if (outcome.kind === 'failure' || outcome.kind === 'set-aside') instruments.failed.add(1, attributes);

    const run = this.#open.get(job);
    if (run === undefined) return; // not run: set aside, or kept for a verdict on a died claim
    this.#open.delete(job);
    const error = 'error' in outcome ? outcome.error : null;
    const endedMs = run.endedMs ?? now();
    instruments.duration.record((endedMs - run.startedMs) / 1000, {
      ...attributes,
      [ATTR.system]: INSTRUMENTATION_NAME,
      [ATTR.operationName]: 'process',
      [ATTR.outcome]: outcome.kind,
      ...(error === null ? {} : { [ATTR.errorType]: error.name }),
    });
    run.span.setAttribute(ATTR.outcome, outcome.kind);
    if (error !== null) this.#fail(run.span, error);
    run.span.end(endedMs);
  }

  /**
   * Ends the open spans of `slot`'s runs whose outcome will never be carried
   * out — the batch rolled back, the run was abandoned at shutdown, the
   * lease was lost — with `error`. Nothing is counted: the job runs again.
   */
  endOpen(slot: number, error: Error): void {
    if (this.#open.size === 0) return;
    for (const [job, run] of this.#open) {
      if (run.slot !== slot) continue;
      this.#open.delete(job);
      run.span.setAttribute(ATTR.outcome, 'not-recorded');
      this.#fail(run.span, error);
      run.span.end(run.endedMs ?? now());
    }
  }

  /**
   * Reports the queue's depth (due jobs) and lag (seconds since the
   * longest-waiting due job became due) at each metrics collection, with one
   * query on `pool`, until the returned function is called. Several workers
   * of one process on the same queue report it once.
   */
  observeQueue(pool: pg.Pool, tables: Tables): () => void {
    const key = `${tables.job}\u0000${this.#queue}`;
    const shared = observedQueues.get(key);
    if (shared) {
      shared.users++;
    } else {
      observedQueues.set(key, { users: 1, remove: this.#observe(pool, tables) });
    }
    let removed = false;
    return () => {
      const entry = observedQueues.get(key);
      if (removed || !entry) return;
      removed = true;
      if (--entry.users === 0) {
        observedQueues.delete(key);
        entry.remove();
      }
    };
  }

  #observe(pool: pg.Pool, tables: Tables): () => void {
    const meter = this.#api.metrics.getMeter(INSTRUMENTATION_NAME);
    const depth = meter.createObservableGauge('proletarian.queue.depth', {
      description: 'Jobs of the queue that are due: waiting for a worker, or running in a batch',
      unit: '{job}',
    });
    const lag = meter.createObservableGauge('proletarian.queue.lag', {
      description: "Seconds since the queue's longest-waiting due job became due",
      unit: 's',
    });
    const attributes: Attributes = { [ATTR.system]: INSTRUMENTATION_NAME, [ATTR.destination]: this.#queue };
    const gauges: ObservableGauge[] = [depth, lag];
    const callback = async (result: { observe(gauge: ObservableGauge, value: number, attributes?: Attributes): void }) => {
      try {
        const row = await queueGauges(pool, tables, this.#queue);
        result.observe(depth, row.depth, attributes);
        result.observe(lag, row.lag_ms / 1000, attributes);
      } catch {
        // The database is unreachable: no observation this time; the worker logs its own errors.
      }
    };
    meter.addBatchObservableCallback(callback, gauges);
    return () => meter.removeBatchObservableCallback(callback, gauges);
  }

  #fail(span: Span, error: Error): void {
    span.recordException(error);
    span.setAttribute(ATTR.errorType, error.name);
    span.setStatus({ code: this.#api.SpanStatusCode.ERROR, message: error.message });
  }

  /** The instruments of the meter provider registered now, created again when it changes. */
  #instrumentsNow(): Instruments {
    const provider = this.#api.metrics.getMeterProvider();
    if (this.#instruments?.provider === provider) return this.#instruments;
    const meter: Meter = provider.getMeter(INSTRUMENTATION_NAME);
    this.#instruments = {
      provider,
      completed: meter.createCounter('proletarian.jobs.completed', {
        description: 'Jobs archived as succeeded',
        unit: '{job}',
      }),
      failed: meter.createCounter('proletarian.jobs.failed', {
        description: 'Jobs archived as failed: their last attempt failed, or their runs kept dying',
        unit: '{job}',
      }),
      retried: meter.createCounter('proletarian.jobs.retried', {
        description: 'Failed attempts with a retry scheduled',
        unit: '{job}',
      }),
      duration: meter.createHistogram('messaging.process.duration', {
        description: "How long each run's handler took",
        unit: 's',
        // The semantic conventions' buckets for durations in seconds (the SDK's default ones suit milliseconds).
        advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] },
      }),
    };
    return this.#instruments;
  }
}

/** Queues whose gauges this process reports, per installation and queue. */
const observedQueues = new Map<string, { users: number; remove: () => void }>();

function carrierOf(traceContext: string): TraceCarrier {
  try {
    const parsed: unknown = JSON.parse(traceContext);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    const carrier: TraceCarrier = {};
    for (const [key, value] of Object.entries(parsed)) if (typeof value === 'string') carrier[key] = value;
    return carrier;
  } catch {
    return {};
  }
}
