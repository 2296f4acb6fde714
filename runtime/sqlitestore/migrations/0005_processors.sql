-- One row per running processor, kept by its heartbeat: who delivers, from
-- where, with which settings, and whether its delivery is paused and why.
-- A row whose expires_at has passed belongs to a processor that died (a
-- processor that stops cleanly deletes its row). Times are Unix microseconds.
CREATE TABLE outbox_processors (
    owner        TEXT    PRIMARY KEY,
    host         TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    version      TEXT    NOT NULL,
    config       TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    seen_at      INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    paused_since INTEGER,
    pause_class  TEXT,
    pause_reason TEXT
);
