-- Per-key FIFO without a table of keys. Until now an enqueue counted its
-- key's unfinished events in outbox_keys, every head that finished counted
-- one down, and the next event of a key was found in a partial index of
-- unfinished events ordered by key. Both cost a write to a random page per
-- event: on a 500,000-event backlog with a key per entity they made a
-- delivery 2.4 to 4 times dearer than the claim and the completion alone
-- (docs/BENCHMARKS.md, Analysis 10).
--
-- What replaces them rests on one rule: a key's unfinished events are the
-- last of its rows, in seq order, except events an operator revived from
-- the dead, which are flagged (revived) and kept in an index of their own.
-- Events finish only as their key's head (delivered, dead, or discarded),
-- and an event never revived is made head only once every older such
-- event of its key has finished, so nothing else leaves an unfinished event
-- behind a finished one. Then:
--   - a key has unfinished events when its last row is unfinished or it has
--     a revived unfinished event: the enqueue reads the key's last row and
--     one entry of the small index;
--   - when a head finishes, the next head is the key's row after it or its
--     oldest revived unfinished event, whichever comes first.
-- A completion changes no column of outbox_events_key, so its entry stays
-- where it is until retention deletes the event, many at a time.
ALTER TABLE outbox_events ADD COLUMN revived BOOLEAN NOT NULL DEFAULT 0;

CREATE INDEX outbox_events_key ON outbox_events (ordering_key, seq);

-- Events revived before this migration rejoined their keys where they
-- were: every unfinished event older than a finished event or than its
-- key's head is one of them.
UPDATE outbox_events SET revived = 1
WHERE seq IN (
    SELECT e.seq FROM outbox_events AS e
    JOIN (
        SELECT ordering_key, max(seq) AS seq FROM outbox_events
        WHERE status IN ('completed', 'dead') OR is_head
        GROUP BY ordering_key
    ) AS bound ON bound.ordering_key = e.ordering_key AND e.seq < bound.seq
    WHERE e.status IN ('pending', 'processing', 'failed')
);

CREATE INDEX outbox_events_revived ON outbox_events (ordering_key, seq)
    WHERE revived AND status IN ('pending', 'processing', 'failed');

-- Stats and the console count waiting events through this index. In seq
-- order, deliveries delete its entries near one another, a few pages per
-- batch, where outbox_events_unfinished_key's were spread over the keys.
CREATE INDEX outbox_events_unfinished ON outbox_events (seq)
    WHERE status IN ('pending', 'processing', 'failed');

DROP INDEX outbox_events_unfinished_key;
DROP TABLE outbox_keys;

-- A process of an earlier release still open on the file would keep
-- outbox_keys and find it gone: its saves fail, which loses nothing (the
-- save is not made), but its processor would send events whose outcome it
-- then cannot record, again after every lease. Its claims name the claim
-- index, so the index takes a new name and those claims fail before
-- anything is sent.
DROP INDEX outbox_events_claimable;
CREATE INDEX outbox_events_claim_order ON outbox_events (priority DESC, seq, run_at)
    WHERE is_head AND status IN ('pending', 'failed');
