-- What the evidence rule needs beyond the last failure: the class of the
-- last failure that spent an attempt (a permanent answer kills only when it
-- repeats a counted permanent one), and how many "still in progress"
-- answers (409) came since the last failure (bounded by MaxInProgress).
ALTER TABLE outbox_events ADD COLUMN counted_class TEXT;
ALTER TABLE outbox_events ADD COLUMN in_progress INTEGER NOT NULL DEFAULT 0;
