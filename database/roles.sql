-- Proletarian: an optional least-privilege role for your app and its workers.
--
-- Creates the role "proletarian" (NOLOGIN) and grants it exactly what
-- enqueue() and a worker need on the tables in schema "proletarian", and
-- nothing else: it cannot create, alter, drop or truncate tables, and cannot
-- delete or change finished jobs.
--
--   what                            needs                         granted
--   enqueue / enqueueMany           INSERT on job                 SELECT, INSERT, UPDATE, DELETE on job
--   worker: claim (FOR UPDATE)      SELECT, UPDATE on job
--   worker: retry                   UPDATE on job
--   worker: finish (archive)        DELETE on job,                SELECT, INSERT on archived_job
--                                   INSERT on archived_job
--   worker: start (version check)   SELECT on job_migrations      SELECT on job_migrations
--   worker: claim (lost             SELECT, INSERT, DELETE on      SELECT, INSERT, DELETE on
--     connections), report them     job_lost_transactions          job_lost_transactions
--   worker: schedules               SELECT, INSERT, UPDATE on      SELECT, INSERT, UPDATE on
--                                   job_schedules                  job_schedules
--   pauseQueue / resumeQueue,       SELECT, INSERT, UPDATE on      SELECT, INSERT, UPDATE on
--     worker: paused state          job_queue_states               job_queue_states
--   cancelJob, and workers          SELECT, INSERT, DELETE on      SELECT, INSERT, UPDATE, DELETE
--     answering its requests        job_cancel_requests (UPDATE:   on job_cancel_requests
--                                   to lock old ones it clears)
--   worker: heartbeat (its row      SELECT, INSERT, UPDATE,        SELECT, INSERT, UPDATE, DELETE
--     in the list of workers)       DELETE on job_workers          on job_workers
--
-- Install and upgrade the tables (`npx proletarian migrate`, `migrate()`) as
-- the schema's owner, not as this role: migrations create and alter tables.
-- Pruning archived_job (`prune()`, `npx proletarian prune`) and putting
-- archived jobs back on their queue (`retryJob()`, `retryJobs()`,
-- `npx proletarian retry`) need DELETE on it, which this role does not have:
-- run them as the owner too, or as a role of their own with that grant.
-- The dashboard reads every table; its delete action needs DELETE on
-- archived_job too. Give it a role of its own, or run it as the owner.
--
-- Run it as a superuser or a role with CREATEROLE, after the tables exist:
--   psql "$DATABASE_URL" -f database/roles.sql
-- It is idempotent: running it again changes nothing.
--
-- The role cannot log in. Either let your existing login roles use it:
--   GRANT proletarian TO my_app;
-- or make it a login role of its own:
--   ALTER ROLE proletarian WITH LOGIN PASSWORD 'a long random secret';
--
-- Other names: the schema appears only as "proletarian." before a table name
-- and as "SCHEMA proletarian"; every other occurrence of proletarian outside
-- these comments is the role. Replace those to adapt the script (with custom
-- table names, also replace job, archived_job, job_migrations,
-- job_lost_transactions, job_schedules, job_queue_states and job_cancel_requests,
-- which are named after the job table).

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'proletarian') THEN
    CREATE ROLE proletarian NOLOGIN;
  END IF;
END
$$;

GRANT USAGE ON SCHEMA proletarian TO proletarian;

GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE proletarian.job TO proletarian;
GRANT SELECT, INSERT ON TABLE proletarian.archived_job TO proletarian;
GRANT SELECT ON TABLE proletarian.job_migrations TO proletarian;
GRANT SELECT, INSERT, DELETE ON TABLE proletarian.job_lost_transactions TO proletarian;
GRANT SELECT, INSERT, UPDATE ON TABLE proletarian.job_schedules TO proletarian;
GRANT SELECT, INSERT, UPDATE ON TABLE proletarian.job_queue_states TO proletarian;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE proletarian.job_cancel_requests TO proletarian;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE proletarian.job_workers TO proletarian;
