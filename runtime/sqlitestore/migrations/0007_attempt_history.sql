-- Each event's latest failed attempts, oldest first, at most 10 (the
-- runtime's MaxHistory), as a JSON array of objects with short keys, since
-- a failing event's row is rewritten with its log at each attempt: t, when
-- (Unix microseconds); n, which attempt; o, what it led to (retry, release,
-- dead, expired); c, the class of failure; s, the HTTP status; r, the first
-- 160 characters of the error. The statements that record an outcome append
-- to it, so keeping it costs no statement; a delivery appends nothing.
ALTER TABLE outbox_events ADD COLUMN attempt_log TEXT NOT NULL DEFAULT '[]';
-- Failed and dead events, oldest first: what operators retry and discard
-- in bulk, and what counts of unfinished events read beside the pending ones
-- without touching the completed ones.
CREATE INDEX outbox_events_failed_or_dead ON outbox_events (seq)
    WHERE status IN ('failed', 'dead');
-- Completed events by type, kept by triggers as events complete and are
-- deleted, so that counting them (at every metrics scrape) costs a row per
-- type rather than a scan of millions. SQLite has one writer at a time, so
-- the counter rows never make writers wait on each other.
CREATE TABLE outbox_completed (
    event_type TEXT    PRIMARY KEY,
    events     INTEGER NOT NULL
);
INSERT INTO outbox_completed (event_type, events)
SELECT event_type, count(*) FROM outbox_events WHERE status = 'completed' GROUP BY event_type;
CREATE TRIGGER outbox_completed_add AFTER UPDATE OF status ON outbox_events
WHEN NEW.status = 'completed' AND OLD.status <> 'completed'
BEGIN
    INSERT OR IGNORE INTO outbox_completed (event_type, events) VALUES (NEW.event_type, 0);
    UPDATE outbox_completed SET events = events + 1 WHERE event_type = NEW.event_type;
END;
CREATE TRIGGER outbox_completed_remove AFTER DELETE ON outbox_events
WHEN OLD.status = 'completed'
BEGIN
    UPDATE outbox_completed SET events = events - 1 WHERE event_type = OLD.event_type;
END;
