-- The receiving end's memory (runtime/inbox), as pginbox keeps it on
-- PostgreSQL: the answer given to each idempotency key, purged after a
-- retention, and each entity's highest applied version, kept for good.
-- Times are Unix microseconds.
CREATE TABLE inbox_keys (
    key         TEXT    NOT NULL PRIMARY KEY,
    fingerprint BLOB    NOT NULL,
    metric      TEXT    NOT NULL,
    entity_id   TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    backend_id  TEXT    NOT NULL,
    applied     BOOLEAN NOT NULL,
    replays     INTEGER NOT NULL DEFAULT 0,
    received_at INTEGER NOT NULL
);
CREATE INDEX inbox_keys_received ON inbox_keys (received_at);

CREATE TABLE inbox_entities (
    metric     TEXT    NOT NULL,
    entity_id  TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    deleted    BOOLEAN NOT NULL,
    backend_id TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (metric, entity_id)
);
