-- name: AppliedMigrations :many
SELECT version FROM outboxgen_migrations WHERE component = sqlc.arg('component') ORDER BY version;

-- name: RecordMigration :exec
INSERT INTO outboxgen_migrations (component, version, name, applied_at)
VALUES (sqlc.arg('component'), sqlc.arg('version'), sqlc.arg('migration_name'), sqlc.arg('now'));

-- name: CountReplay :exec
UPDATE inbox_keys SET replays = replays + 1 WHERE key = sqlc.arg('key');

-- name: GetKey :one
SELECT fingerprint, status, backend_id, applied FROM inbox_keys WHERE key = sqlc.arg('key');

-- An entity moves to a change's version only from a lower one, and only
-- for its own user; a new one is inserted with the backend id given.
-- name: Advance :one
INSERT INTO inbox_entities AS e (metric, entity_id, user_id, version, deleted, backend_id, updated_at)
VALUES (sqlc.arg('metric'), sqlc.arg('entity_id'), sqlc.arg('user_id'), sqlc.arg('version'), sqlc.arg('deleted'), sqlc.arg('backend_id'), sqlc.arg('now'))
ON CONFLICT (metric, entity_id) DO UPDATE
SET version = excluded.version, deleted = excluded.deleted, updated_at = excluded.updated_at
WHERE e.version < excluded.version AND e.user_id = excluded.user_id
RETURNING backend_id;

-- name: GetEntity :one
SELECT user_id, backend_id FROM inbox_entities WHERE metric = sqlc.arg('metric') AND entity_id = sqlc.arg('entity_id');

-- name: Remember :exec
INSERT INTO inbox_keys (key, fingerprint, metric, entity_id, status, backend_id, applied, received_at)
VALUES (sqlc.arg('key'), sqlc.arg('fingerprint'), sqlc.arg('metric'), sqlc.arg('entity_id'), sqlc.arg('status'), sqlc.arg('backend_id'), sqlc.arg('applied'), sqlc.arg('now'));

-- name: PurgeKeys :execrows
DELETE FROM inbox_keys WHERE key IN (
    SELECT k.key FROM inbox_keys AS k WHERE k.received_at < sqlc.arg('before') ORDER BY k.received_at LIMIT sqlc.arg('max_rows')
);
