-- Least-privilege roles for outboxgen on PostgreSQL. docs/SECURITY.md
-- explains them; examples/fitness/metrics/privileges_test.go runs this file
-- and checks that each role can do its job and no more.
--
-- Replace outbox_app and outbox_processor with your roles, and repeat the
-- metric_weight lines for every metric table (metric_<metric name>).
-- Migrations (the store's Migrate and the generated Metrics.Migrate) run as
-- the tables' owner, not as either role.

-- The application saves entries and, in the same transaction, enqueues
-- their events. It cannot read, change or delete events once enqueued.
GRANT SELECT, INSERT, UPDATE ON metric_weight TO outbox_app;
GRANT INSERT ON outbox_events TO outbox_app;
-- Enqueue upserts the per-entity ordering row and reads its count back.
GRANT SELECT, INSERT, UPDATE ON outbox_keys TO outbox_app;

-- The processor claims, completes, retries and purges events, and marks
-- delivered entries synced. It cannot change what users recorded.
GRANT SELECT, UPDATE, DELETE ON outbox_events TO outbox_processor;
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox_keys TO outbox_processor;
-- Every claim reads operators' pauses; the pause and resume commands,
-- run with this role, write them.
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox_pauses TO outbox_processor;
GRANT SELECT (id, version, deleted_at, sync_status, backend_id), UPDATE (sync_status, backend_id) ON metric_weight TO outbox_processor;
