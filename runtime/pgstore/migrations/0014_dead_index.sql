-- A claim tells whether another event went dead since the latest delivery
-- was claimed (others_died): while nothing is delivered, a processor, or a
-- restarted one, must not kill a second event on a ping's word alone. The
-- latest death is one step down this index, which holds dead events only:
-- saves and deliveries pay nothing for it.
--
-- IF NOT EXISTS lets an operator with many dead events build it first with
-- CREATE INDEX CONCURRENTLY under the same name, without blocking saves
-- (docs/OPERATIONS.md, "Upgrading"); this migration then has nothing to do.
CREATE INDEX IF NOT EXISTS outbox_events_dead_failed_at ON outbox_events (failed_at) WHERE status = 'dead';
