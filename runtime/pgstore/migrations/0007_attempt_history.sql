-- Each event's latest failed attempts, oldest first, at most 10 (the
-- runtime's MaxHistory), as a JSON array of objects with short keys, since
-- a failing event's row is rewritten with its log at each attempt: t, when
-- (Unix microseconds); n, which attempt; o, what it led to (retry, release,
-- dead, expired); c, the class of failure; s, the HTTP status; r, the first
-- 160 characters of the error. The statements that record an outcome append
-- to it, so keeping it costs no statement; a delivery appends nothing.
ALTER TABLE outbox_events ADD COLUMN attempt_log jsonb NOT NULL DEFAULT '[]';
-- Failed and dead events, oldest first: what operators retry and discard
-- in bulk, and what counts of unfinished events read beside the pending ones
-- without touching the completed ones.
CREATE INDEX outbox_events_failed_or_dead ON outbox_events (seq)
    WHERE status IN ('failed', 'dead');
