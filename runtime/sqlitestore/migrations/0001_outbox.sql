-- The outbox: one row per event, kept until delivered (then until purged by
-- retention) or until an operator discards it. Times are Unix microseconds.
CREATE TABLE outbox_events (
    -- seq orders events: the rowid, so insertion order, which per ordering
    -- key is commit order because SQLite has one writer at a time.
    seq            INTEGER PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    event_type     TEXT    NOT NULL,
    aggregate      TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    ordering_key   TEXT    NOT NULL,
    is_new_record  BOOLEAN NOT NULL,
    entity_version INTEGER NOT NULL,
    payload        BLOB    NOT NULL,
    metadata       TEXT,
    priority       INTEGER NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'dead')),
    -- is_head marks the one unfinished event per ordering key that may be
    -- claimed; per-key FIFO costs a flag instead of a scan.
    is_head        BOOLEAN NOT NULL,
    attempts       INTEGER NOT NULL,
    max_attempts   INTEGER NOT NULL,
    run_at         INTEGER NOT NULL,
    lease_owner    TEXT,
    lease_token    TEXT,
    lease_until    INTEGER,
    last_error     TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    completed_at   INTEGER
);

-- Claims read this index in claim order and stop after the batch.
CREATE INDEX outbox_events_claimable ON outbox_events (priority DESC, seq)
    WHERE is_head AND status IN ('pending', 'failed');
-- Expired leases (a processor that died mid-send) are found here.
CREATE INDEX outbox_events_leased ON outbox_events (lease_until)
    WHERE status = 'processing';
-- Promotion finds the next event of a key here.
CREATE INDEX outbox_events_unfinished_key ON outbox_events (ordering_key, seq)
    WHERE status IN ('pending', 'processing', 'failed');
-- Retention deletes completed events by age.
CREATE INDEX outbox_events_completed ON outbox_events (completed_at)
    WHERE status = 'completed';

-- One row per ordering key with unfinished events, counting them, so an
-- enqueue knows in one statement whether its event is the key's head.
CREATE TABLE outbox_keys (
    ordering_key TEXT    PRIMARY KEY,
    unfinished   INTEGER NOT NULL CHECK (unfinished >= 0)
);
