import type { Tables } from '../tables.js';

/**
 * Trace context: the W3C `traceparent` (and `tracestate`) of the span that
 * enqueued a job, as a JSON object, so that the span of each run of the job
 * joins the enqueuing request's trace — whenever and wherever it runs.
 * Written only while OpenTelemetry is in use; null otherwise. The archive
 * keeps it, for a job retried from there. Nullable columns rewrite nothing.
 */
export function traceContext(t: Tables): string {
  return `
ALTER TABLE ${t.job} ADD COLUMN trace_context jsonb;

ALTER TABLE ${t.archivedJob} ADD COLUMN trace_context jsonb;
`;
}
