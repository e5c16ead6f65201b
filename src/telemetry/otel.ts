import type * as OtelModule from '@opentelemetry/api';

// OpenTelemetry is an optional peer dependency. Its API is loaded once, with
// a guarded dynamic import, the first time an enqueue or a worker needs it:
// once an SDK has registered with it. When it is not installed, or nothing
// is registered, everything here is skipped, and nothing else of the library
// changes: the same statements, no span, no context to store.

/** The `@opentelemetry/api` module. */
export type OtelApi = typeof OtelModule;

let loaded: OtelApi | null | undefined;
let loading: Promise<OtelApi | null> | undefined;

/**
 * The OpenTelemetry API, or null when `@opentelemetry/api` is not installed.
 * A promise only until the first load has settled: later calls answer
 * synchronously, so an enqueue pays no extra turn of the event loop.
 */
export function otelApi(): OtelApi | null | Promise<OtelApi | null> {
  if (loaded !== undefined) return loaded;
  loading ??= import('@opentelemetry/api').then(
    (api: OtelApi) => (loaded = typeof api.trace?.getTracer === 'function' ? api : null),
    () => (loaded = null),
  );
  return loading;
}

/**
 * Whether anything — an OpenTelemetry SDK, as a rule — registered a global
 * tracer provider, meter provider or propagator with the API. Without one
 * the API answers with no-ops: loading it and making spans would cost a
 * worker's start and every job and enqueue for nothing. Read from the API's
 * own global registry (one per major version), so the API need not be
 * loaded to ask.
 */
export function otelRegistered(): boolean {
  for (const key of Object.getOwnPropertySymbols(globalThis)) {
    if (!key.description?.startsWith('opentelemetry.js.api.')) continue;
    const registry = (globalThis as unknown as Record<symbol, Record<string, unknown> | undefined>)[key];
    if (registry?.['trace'] || registry?.['metrics'] || registry?.['propagation']) return true;
  }
  return false;
}

/** The name of the tracer and meter, and of `messaging.system`. */
export const INSTRUMENTATION_NAME = 'proletarian';

// Attribute names: OpenTelemetry's messaging semantic conventions, and this
// library's own under `proletarian.`.
export const ATTR = {
  system: 'messaging.system',
  operationName: 'messaging.operation.name',
  operationType: 'messaging.operation.type',
  destination: 'messaging.destination.name',
  messageId: 'messaging.message.id',
  batchCount: 'messaging.batch.message_count',
  clientId: 'messaging.client.id',
  errorType: 'error.type',
  jobType: 'proletarian.job.type',
  attempt: 'proletarian.job.attempt',
  outcome: 'proletarian.job.outcome',
} as const;

/** Where a job's trace context is kept: the carrier the global propagator writes (`traceparent`, `tracestate`). */
export type TraceCarrier = Record<string, string>;
