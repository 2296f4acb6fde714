-- One row per running processor, kept by its heartbeat: who delivers, from
-- where, with which settings, and whether its delivery is paused and why.
-- A row whose expires_at has passed belongs to a processor that died (a
-- processor that stops cleanly deletes its row).
CREATE TABLE outbox_processors (
    owner        text        PRIMARY KEY,
    host         text        NOT NULL,
    pid          integer     NOT NULL,
    version      text        NOT NULL,
    config       text        NOT NULL,
    started_at   timestamptz NOT NULL,
    seen_at      timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    paused_since timestamptz,
    pause_class  text,
    pause_reason text
);
