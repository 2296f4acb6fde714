-- The console's pages (runtime/console, outboxgen ui) list one status at a
-- time, or one user's events of one status, oldest first after a
-- (created_at, id) key, and chart the last hour's failures. Without these
-- indexes each page sorts every event of the status: 150-450 ms at a
-- million events; with them a page costs the same at the millionth event
-- as at the first (docs/BENCHMARKS.md, "The web console").
--
-- IF NOT EXISTS lets an operator with a large outbox build them first with
-- CREATE INDEX CONCURRENTLY under the same names, without blocking saves
-- (docs/OPERATIONS.md, "Upgrading"); this migration then has nothing to do.
CREATE INDEX IF NOT EXISTS outbox_events_status_created ON outbox_events (status, created_at, id);
CREATE INDEX IF NOT EXISTS outbox_events_user_status_created ON outbox_events (user_id, status, created_at, id);
CREATE INDEX IF NOT EXISTS outbox_events_failed_at ON outbox_events (failed_at) WHERE failed_at IS NOT NULL;
