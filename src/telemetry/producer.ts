import { ATTR, INSTRUMENTATION_NAME, otelApi, otelRegistered, type OtelApi, type TraceCarrier } from './otel.js';

/** What a traced enqueue needs of the jobs it inserts. */
interface TracedJob {
  jobType: string;
  queue: string;
  traceContext: string | null;
}

/**
 * Runs `insert` as it is when OpenTelemetry is not installed or nothing is
 * registered with it (see `otelRegistered`); otherwise in a
 * producer span (`send <jobType>`), with the span's context given to every
 * job first, so that their runs join this trace. `idsOf` names the message
 * id when one job was inserted.
 */
export function traceEnqueue<T>(
  jobs: readonly TracedJob[],
  insert: () => Promise<T>,
  idOf: (result: T) => string | null,
): Promise<T> {
  if (!otelRegistered()) return insert();
  const api = otelApi();
  if (api === null) return insert();
  if (api instanceof Promise) return api.then((loaded) => (loaded === null ? insert() : traced(loaded, jobs, insert, idOf)));
  return traced(api, jobs, insert, idOf);
}

async function traced<T>(
  api: OtelApi,
  jobs: readonly TracedJob[],
  insert: () => Promise<T>,
  idOf: (result: T) => string | null,
): Promise<T> {
  const first = jobs[0];
  if (first === undefined) return insert();
  const jobTypes = new Set(jobs.map((job) => job.jobType));
  const queues = new Set(jobs.map((job) => job.queue));
  const oneType = jobTypes.size === 1 ? first.jobType : null;
  const tracer = api.trace.getTracer(INSTRUMENTATION_NAME);
  const span = tracer.startSpan(oneType === null ? 'send' : `send ${oneType}`, {
    kind: api.SpanKind.PRODUCER,
    attributes: {
      [ATTR.system]: INSTRUMENTATION_NAME,
      [ATTR.operationName]: 'send',
      [ATTR.operationType]: 'send',
      ...(queues.size === 1 ? { [ATTR.destination]: first.queue } : {}),
      ...(oneType === null ? {} : { [ATTR.jobType]: oneType }),
      ...(jobs.length > 1 ? { [ATTR.batchCount]: jobs.length } : {}),
    },
  });
  const spanContext = api.trace.setSpan(api.context.active(), span);
  const carrier: TraceCarrier = {};
  api.propagation.inject(spanContext, carrier);
  // An empty carrier (no propagator registered) stores nothing.
  const traceContext = Object.keys(carrier).length > 0 ? JSON.stringify(carrier) : null;
  for (const job of jobs) job.traceContext = traceContext;
  try {
    // The insert's own spans (a pg instrumentation's) are children of this one.
    const result = await api.context.with(spanContext, insert);
    const id = idOf(result);
    if (id !== null) span.setAttribute(ATTR.messageId, id);
    return result;
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    span.recordException(failure);
    span.setAttribute(ATTR.errorType, failure.name);
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: failure.message });
    throw error;
  } finally {
    span.end();
  }
}
