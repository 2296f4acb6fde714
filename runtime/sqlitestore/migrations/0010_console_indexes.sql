-- The console (runtime/console, outboxgen ui) opens on dead and failed
-- events, oldest first after a (created_at, id) key, and charts the last
-- hour's failures. These two indexes serve both, and hold only events that
-- have failed: saves, and deliveries of events that never failed, pay
-- nothing for them. (No index of
-- every event leads with status: see PostgreSQL's 0010.)
CREATE INDEX IF NOT EXISTS outbox_events_failed_or_dead_created ON outbox_events (status, created_at, id)
    WHERE status IN ('failed', 'dead');
CREATE INDEX IF NOT EXISTS outbox_events_failed_at ON outbox_events (failed_at) WHERE failed_at IS NOT NULL;
