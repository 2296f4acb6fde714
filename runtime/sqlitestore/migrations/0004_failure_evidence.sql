-- A failed delivery is held against its event only once other events were
-- delivered after the event's previous failure; until then the attempt is
-- given back (see "Evidence" in the runtime's Processor docs). So each event
-- records when its last failure was, of what class, and how many failures
-- were given back although the backend may have seen the request.
ALTER TABLE outbox_events ADD COLUMN releases INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox_events ADD COLUMN failed_at INTEGER;
ALTER TABLE outbox_events ADD COLUMN failed_class TEXT;
