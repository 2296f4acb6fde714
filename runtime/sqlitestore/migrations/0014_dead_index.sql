-- A claim tells whether another event went dead since the latest delivery
-- was claimed (see LastDeathAt): while nothing is delivered, a processor,
-- or a restarted one, must not kill a second event on a ping's word alone.
-- The latest death is one step down this index, which holds dead events
-- only: saves and deliveries pay nothing for it.
CREATE INDEX outbox_events_dead_failed_at ON outbox_events (failed_at) WHERE status = 'dead';
