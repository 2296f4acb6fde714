-- Each processor's heartbeat also records its load: how many sends it may
-- have in flight at once now (its adaptive limit, which drops below its
-- Concurrency while the backend shows it is at capacity) and how many
-- events it has claimed and not recorded. Processors of earlier releases
-- leave them NULL.
ALTER TABLE outbox_processors ADD COLUMN send_limit INTEGER;
ALTER TABLE outbox_processors ADD COLUMN in_flight INTEGER;
