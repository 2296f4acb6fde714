-- The console's pages (runtime/console, outboxgen ui) list one status at a
-- time, or one user's events of one status, oldest first after a
-- (created_at, id) key, and chart the last hour's failures. These indexes
-- let a page cost the same at the millionth event as at the first, instead
-- of sorting every event of the status.
CREATE INDEX IF NOT EXISTS outbox_events_status_created ON outbox_events (status, created_at, id);
CREATE INDEX IF NOT EXISTS outbox_events_user_status_created ON outbox_events (user_id, status, created_at, id);
CREATE INDEX IF NOT EXISTS outbox_events_failed_at ON outbox_events (failed_at) WHERE failed_at IS NOT NULL;
