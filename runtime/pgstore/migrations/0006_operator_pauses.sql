-- Operators' pauses of delivery: a row per paused event type, '' for every
-- type. Claims skip the events a row covers, so every processor honours a
-- pause at its next claim without polling for it, and a pause spends no
-- attempts. While nothing is paused the check is a lookup in an empty table.
CREATE TABLE outbox_pauses (
    event_type text        PRIMARY KEY,
    paused_by  text        NOT NULL,
    reason     text        NOT NULL,
    paused_at  timestamptz NOT NULL
);
