-- A claim stamps when it took the event (Unix microseconds). A delivery is
-- evidence against another event's failure only if its request went out
-- after the failure: one claimed before it may have been sent before it and
-- answered after, so the completion's own time proves nothing about their
-- order. Claims compare an event's failed_at with the claim time of the
-- latest completion. Events completed before this migration have none, and
-- are no evidence.
ALTER TABLE outbox_events ADD COLUMN claimed_at INTEGER;
