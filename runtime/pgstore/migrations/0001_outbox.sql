-- The outbox: one row per event, kept until delivered (then until purged by
-- retention) or until an operator discards it.
CREATE TABLE outbox_events (
    id             uuid        PRIMARY KEY,
    -- seq orders events: per ordering key it is the commit order, because
    -- enqueues of the same key serialise on their outbox_keys row.
    seq            bigint      NOT NULL GENERATED ALWAYS AS IDENTITY,
    event_type     text        NOT NULL,
    aggregate      text        NOT NULL,
    aggregate_id   text        NOT NULL,
    user_id        text        NOT NULL,
    ordering_key   text        NOT NULL,
    is_new_record  boolean     NOT NULL,
    entity_version bigint      NOT NULL,
    payload        json        NOT NULL,
    metadata       json,
    priority       integer     NOT NULL,
    status         text        NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'dead')),
    -- is_head marks the one unfinished event per ordering key that may be
    -- claimed; per-key FIFO costs a flag instead of a scan.
    is_head        boolean     NOT NULL,
    attempts       integer     NOT NULL,
    max_attempts   integer     NOT NULL,
    run_at         timestamptz NOT NULL,
    lease_owner    text,
    lease_token    uuid,
    lease_until    timestamptz,
    last_error     text,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    completed_at   timestamptz
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

-- One row per ordering key with unfinished events. Enqueue and finish lock
-- the row, which serialises them per key and keeps the count exact.
CREATE TABLE outbox_keys (
    ordering_key text    PRIMARY KEY,
    unfinished   integer NOT NULL CHECK (unfinished >= 0)
);
