-- The console (runtime/console, outboxgen ui) opens on dead and failed
-- events, oldest first after a (created_at, id) key, and charts the last
-- hour's failures. These two indexes serve both, and hold only events that
-- have failed: saves, and deliveries of events that never failed, pay
-- nothing for them.
--
-- No index of every event leads with status, on purpose. The processor's
-- statements select by status ('completed' for the evidence of other
-- deliveries, pending and failed for claims) through partial indexes; an
-- index on (status, …) over every event looked as cheap to the planner
-- while the statistics were stale (a backlog being drained) and made each
-- claim read every completed event: the no-op drain ran at a third of its
-- rate (docs/BENCHMARKS.md, "The web console").
--
-- IF NOT EXISTS lets an operator with a large outbox build them first with
-- CREATE INDEX CONCURRENTLY under the same names, without blocking saves
-- (docs/OPERATIONS.md, "Upgrading"); this migration then has nothing to do.
CREATE INDEX IF NOT EXISTS outbox_events_failed_or_dead_created ON outbox_events (status, created_at, id)
    WHERE status IN ('failed', 'dead');
CREATE INDEX IF NOT EXISTS outbox_events_failed_at ON outbox_events (failed_at) WHERE failed_at IS NOT NULL;
