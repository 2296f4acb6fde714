-- The receiving end's memory (runtime/inbox): the answer given to each
-- idempotency key, kept for a retention period and then purged, and each
-- entity's highest applied version, kept for good, so that a change older
-- than it (a late redelivery, an operator's retry) is never applied, and a
-- deletion is never undone by an older version.
CREATE TABLE inbox_keys (
    key         text        NOT NULL CONSTRAINT inbox_keys_pkey PRIMARY KEY,
    fingerprint bytea       NOT NULL, -- sha256 of the event type and payload
    metric      text        NOT NULL,
    entity_id   uuid        NOT NULL,
    status      smallint    NOT NULL, -- the answer's HTTP status
    backend_id  text        NOT NULL,
    applied     boolean     NOT NULL, -- false: a stale version, acknowledged
    replays     integer     NOT NULL DEFAULT 0, -- repeats answered from this record
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbox_keys_received ON inbox_keys (received_at);

CREATE TABLE inbox_entities (
    metric     text        NOT NULL,
    entity_id  uuid        NOT NULL,
    user_id    text        NOT NULL,
    version    bigint      NOT NULL, -- the highest applied
    deleted    boolean     NOT NULL, -- a tombstone: deleted at version
    backend_id text        NOT NULL, -- the receiver's id for the entity, unique
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT inbox_entities_pkey PRIMARY KEY (entity_id, metric)
);
