-- Proletarian schema, version 10: schema "proletarian", tables "job" and "archived_job".
--
-- GENERATED FILE: do not edit. It is written by `npm run schema:sql` from the
-- migrations in src/migrations; edit those and run the command again.
--
-- How to use it:
--   * Easiest: let Proletarian install and upgrade its tables itself, with
--     `npx proletarian migrate` (DATABASE_URL) or `await migrate(pool)` at start-up.
--   * If your schema changes go through a migration tool (Flyway, Liquibase,
--     node-pg-migrate, Sqitch, ...), copy this file into a new migration of
--     that tool. Run it once: it is a migration, not an idempotent script.
--     For other names, print the SQL with
--     `npx proletarian schema --schema <name> --job-table <name> --archived-job-table <name>`.
--   * Keep the "job_migrations" table and its rows: the worker reads the
--     installed version there at start, and `migrate()` upgrades from it.
--   * For a least-privilege role for your app and workers, see database/roles.sql.

CREATE SCHEMA IF NOT EXISTS "proletarian";

CREATE TABLE IF NOT EXISTS "proletarian"."job_migrations" (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);

-- Migration 1: initial schema
CREATE TABLE "proletarian"."job" (
  job_id      uuid        PRIMARY KEY,
  queue       text        NOT NULL,
  job_type    text        NOT NULL,
  payload     jsonb       NOT NULL,
  attempts    integer     NOT NULL DEFAULT 0,
  enqueued_at timestamptz NOT NULL DEFAULT now(),
  process_at  timestamptz NOT NULL DEFAULT now(),
  last_error  jsonb
);

-- Serves the claim: due jobs of one queue, oldest first; job ids are UUIDv7,
-- so they break ties between jobs due at the same instant in enqueue order.
CREATE INDEX "job_claim_idx" ON "proletarian"."job" (queue, process_at, job_id);

CREATE TABLE "proletarian"."archived_job" (
  job_id      uuid        PRIMARY KEY,
  queue       text        NOT NULL,
  job_type    text        NOT NULL,
  payload     jsonb       NOT NULL,
  attempts    integer     NOT NULL,
  enqueued_at timestamptz NOT NULL,
  process_at  timestamptz NOT NULL,
  status      text        NOT NULL CHECK (status IN ('success', 'failure')),
  finished_at timestamptz NOT NULL DEFAULT now(),
  last_error  jsonb
);

INSERT INTO "proletarian"."job_migrations" (version, name) VALUES (1, 'initial schema');

-- Migration 2: archive retention index
-- Named after the archived-job table, so two installations in one schema don't collide.
CREATE INDEX "archived_job_finished_at_idx" ON "proletarian"."archived_job" (finished_at);

INSERT INTO "proletarian"."job_migrations" (version, name) VALUES (2, 'archive retention index');

-- Migration 3: job leases
ALTER TABLE "proletarian"."job"
  ADD COLUMN locked_by text,
  ADD COLUMN abandoned_runs integer NOT NULL DEFAULT 0;

INSERT INTO "proletarian"."job_migrations" (version, name) VALUES (3, 'job leases');

-- Migration 4: lost connections
ALTER TABLE "proletarian"."job" ADD COLUMN aborted_claim xid8;

CREATE TABLE "proletarian"."job_lost_transactions" (
  xid         xid8        PRIMARY KEY,
  reported_at timestamptz NOT NULL DEFAULT now()
);

-- Reports are kept for a day; this finds the older ones.
CREATE INDEX "job_lost_reported_idx" ON "proletarian"."job_lost_transactions" (reported_at);

INSERT INTO "proletarian"."job_migrations" (version, name) VALUES (4, 'lost connections');

-- Migration 5: priorities and unique keys
ALTER TABLE "proletarian"."job"
  ADD COLUMN priority    smallint NOT NULL DEFAULT 0,
  ADD COLUMN unique_key  text,
  ADD COLUMN replacement jsonb;

ALTER TABLE "proletarian"."archived_job"
  ADD COLUMN priority   smallint NOT NULL DEFAULT 0,
  ADD COLUMN unique_key text;

-- Serves the claim: due jobs of one queue, most urgent first, then oldest
-- first; job ids are UUIDv7, so they break ties in enqueue order.
CREATE INDEX "job_claim_order_idx" ON "proletarian"."job" (queue, priority, process_at, job_id);
DROP INDEX "proletarian"."job_claim_idx";

CREATE UNIQUE INDEX "job_unique_key_idx" ON "proletarian"."job" (queue, unique_key) WHERE unique_key IS NOT NULL;

INSERT INTO "proletarian"."job_migrations" (version, name) VALUES (5, 'priorities and unique keys');

-- Migration 6: schedules and paused queues
CREATE TABLE "proletarian"."job_schedules" (
  name           text        PRIMARY KEY,
  cron           text        NOT NULL,
  timezone       text        NOT NULL,
  job_type       text        NOT NULL,
  queue          text        NOT NULL,
  enqueued_until timestamptz NOT NULL,
  last_slot      timestamptz,
  defined_at     timestamptz NOT NULL
);

CREATE TABLE "proletarian"."job_queue_states" (
  queue      text        PRIMARY KEY,
  paused     boolean     NOT NULL,
  changed_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO "proletarian"."job_migrations" (version, name) VALUES (6, 'schedules and paused queues');

-- Migration 7: trace context
ALTER TABLE "proletarian"."job" ADD COLUMN trace_context jsonb;

ALTER TABLE "proletarian"."archived_job" ADD COLUMN trace_context jsonb;

INSERT INTO "proletarian"."job_migrations" (version, name) VALUES (7, 'trace context');

-- Migration 8: cancel and discard
ALTER TABLE "proletarian"."archived_job" DROP CONSTRAINT "archived_job_status_check";
ALTER TABLE "proletarian"."archived_job" ADD CONSTRAINT "archived_job_status_check"
  CHECK (status IN ('success', 'failure', 'cancelled', 'discarded')) NOT VALID;

CREATE TABLE "proletarian"."job_cancel_requests" (
  job_id       uuid        NOT NULL,
  xact         xid8        NOT NULL,
  requested_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, xact)
);

INSERT INTO "proletarian"."job_migrations" (version, name) VALUES (8, 'cancel and discard');

-- Migration 9: workers and dashboard
CREATE TABLE "proletarian"."job_workers" (
  instance_id  text        PRIMARY KEY,
  worker_id    text        NOT NULL,
  queue        text        NOT NULL,
  host         text        NOT NULL,
  pid          integer     NOT NULL,
  concurrency  integer     NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  jobs_done    bigint      NOT NULL DEFAULT 0,
  running_jobs uuid[]      NOT NULL DEFAULT '{}'
);

CREATE INDEX "archived_job_finished_idx" ON "proletarian"."archived_job" (finished_at) INCLUDE (status, queue);
DROP INDEX "proletarian"."archived_job_finished_at_idx";

CREATE INDEX "archived_job_unsuccessful_idx" ON "proletarian"."archived_job" (status, finished_at, job_id) WHERE status <> 'success';

INSERT INTO "proletarian"."job_migrations" (version, name) VALUES (9, 'workers and dashboard');

-- Migration 10: error history
ALTER TABLE "proletarian"."job" ADD COLUMN error_history jsonb;

ALTER TABLE "proletarian"."archived_job" ADD COLUMN error_history jsonb;

INSERT INTO "proletarian"."job_migrations" (version, name) VALUES (10, 'error history');
