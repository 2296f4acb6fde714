-- name: AppliedMigrations :many
SELECT version FROM outboxgen_migrations WHERE component = sqlc.arg('component') ORDER BY version;

-- name: RecordMigration :exec
INSERT INTO outboxgen_migrations (component, version, name) VALUES (sqlc.arg('component'), sqlc.arg('version'), sqlc.arg('migration_name')::text);

-- Each key is taken with a transaction-scoped advisory lock, without
-- waiting: false means another transaction holds it.
-- name: Claim :many
SELECT pg_try_advisory_xact_lock(sqlc.arg('lock_class')::int, hashtext(k.key))::boolean AS claimed
FROM unnest(sqlc.arg('keys')::text[]) WITH ORDINALITY AS k(key, ord)
ORDER BY k.ord;

-- Statements take their keys as arrays and find them through an index
-- whatever plan PostgreSQL caches for them (= ANY, not a join with an
-- unnest, which a generic plan made while the table was small may do by
-- scanning it whole).
-- name: Recall :many
SELECT key, fingerprint, status, backend_id, applied FROM inbox_keys WHERE key = ANY(sqlc.arg('keys')::text[]);

-- name: CountReplays :exec
UPDATE inbox_keys SET replays = replays + 1 WHERE key = ANY(sqlc.arg('keys')::text[]);

-- An entity moves to a change's version only from a lower one, and only
-- for its own user; a new one is inserted with the backend id given. Rows
-- are locked in key order, so concurrent batches cannot deadlock here.
-- name: Advance :many
INSERT INTO inbox_entities AS e (metric, entity_id, user_id, version, deleted, backend_id)
SELECT c.metric, c.entity_id, c.user_id, c.version, c.deleted, c.backend_id
FROM (
    SELECT unnest(sqlc.arg('metrics')::text[]) AS metric, unnest(sqlc.arg('entity_ids')::uuid[]) AS entity_id,
        unnest(sqlc.arg('user_ids')::text[]) AS user_id, unnest(sqlc.arg('versions')::bigint[]) AS version,
        unnest(sqlc.arg('deleted')::boolean[]) AS deleted, unnest(sqlc.arg('backend_ids')::text[]) AS backend_id
) AS c
ORDER BY c.entity_id, c.metric
ON CONFLICT (entity_id, metric) DO UPDATE
SET version = excluded.version, deleted = excluded.deleted, updated_at = now()
WHERE e.version < excluded.version AND e.user_id = excluded.user_id
RETURNING e.metric, e.entity_id, e.backend_id;

-- name: Entities :many
SELECT metric, entity_id, user_id, backend_id FROM inbox_entities WHERE entity_id = ANY(sqlc.arg('entity_ids')::uuid[]);

-- name: Remember :exec
INSERT INTO inbox_keys (key, fingerprint, metric, entity_id, status, backend_id, applied)
SELECT unnest(sqlc.arg('keys')::text[]), unnest(sqlc.arg('fingerprints')::bytea[]), unnest(sqlc.arg('metrics')::text[]),
    unnest(sqlc.arg('entity_ids')::uuid[]), unnest(sqlc.arg('statuses')::smallint[]), unnest(sqlc.arg('backend_ids')::text[]),
    unnest(sqlc.arg('applied')::boolean[]);

-- Oldest first, a bounded number at a time, so that a purge never holds
-- many locks or one long transaction.
-- name: PurgeKeys :execrows
DELETE FROM inbox_keys
WHERE key = ANY(ARRAY(
    SELECT k.key FROM inbox_keys AS k
    WHERE k.received_at < now() - make_interval(secs => sqlc.arg('retention_seconds')::double precision)
    ORDER BY k.received_at
    LIMIT sqlc.arg('max_rows')::int
));
