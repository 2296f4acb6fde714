-- Leases that expired (a processor died or stalled mid-delivery) are counted
-- apart from attempts: a crash is not the event's failure, but an event that
-- keeps taking its processor down must still end dead.
ALTER TABLE outbox_events ADD COLUMN lease_expiries integer NOT NULL DEFAULT 0;
