-- Queries of the SQLite outbox store. SQLite has one writer at a time and
-- every write transaction begins IMMEDIATE, so no statement here needs row
-- locks. Times are Unix microseconds chosen by the store's clock.

-- name: AppliedMigrations :many
SELECT version FROM outboxgen_migrations WHERE component = sqlc.arg('component') ORDER BY version;

-- name: RecordMigration :exec
INSERT INTO outboxgen_migrations (component, version, name, applied_at)
VALUES (sqlc.arg('component'), sqlc.arg('version'), sqlc.arg('migration_name'), sqlc.arg('now'));

-- name: IncrementKey :one
INSERT INTO outbox_keys (ordering_key, unfinished) VALUES (sqlc.arg('ordering_key'), 1)
ON CONFLICT (ordering_key) DO UPDATE SET unfinished = unfinished + 1
RETURNING unfinished;

-- name: InsertEvent :exec
INSERT INTO outbox_events (
    id, event_type, aggregate, aggregate_id, user_id, ordering_key, is_new_record,
    entity_version, payload, metadata, priority, status, is_head, attempts,
    max_attempts, run_at, created_at, updated_at
) VALUES (
    sqlc.arg('id'), sqlc.arg('event_type'), sqlc.arg('aggregate'), sqlc.arg('aggregate_id'),
    sqlc.arg('user_id'), sqlc.arg('ordering_key'), sqlc.arg('is_new_record'),
    sqlc.arg('entity_version'), sqlc.arg('payload'), sqlc.narg('metadata'), sqlc.arg('priority'),
    'pending', sqlc.arg('is_head'), 0, sqlc.arg('max_attempts'), sqlc.arg('run_at'),
    sqlc.arg('now'), sqlc.arg('now')
);

-- name: Claim :many
UPDATE outbox_events
SET status = 'processing',
    attempts = attempts + 1,
    lease_owner = sqlc.arg('owner'),
    lease_token = sqlc.arg('token'),
    lease_until = sqlc.arg('lease_until'),
    updated_at = sqlc.arg('now')
WHERE seq IN (
    SELECT d.seq FROM outbox_events AS d
    WHERE d.is_head AND d.status IN ('pending', 'failed') AND d.run_at <= sqlc.arg('now')
    ORDER BY d.priority DESC, d.seq
    LIMIT sqlc.arg('max_events')
)
RETURNING *;

-- name: Complete :one
-- Fenced: only a row still leased under the same token, lease unexpired.
UPDATE outbox_events
SET status = 'completed', is_head = 0,
    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
    completed_at = sqlc.arg('now'), updated_at = sqlc.arg('now')
WHERE id = sqlc.arg('id') AND lease_token = sqlc.arg('token') AND status = 'processing'
  AND lease_until > sqlc.arg('now')
RETURNING ordering_key;

-- name: Retry :execrows
UPDATE outbox_events
SET status = 'failed',
    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
    run_at = sqlc.arg('run_at'), last_error = sqlc.arg('last_error'), updated_at = sqlc.arg('now')
WHERE id = sqlc.arg('id') AND lease_token = sqlc.arg('token') AND status = 'processing'
  AND lease_until > sqlc.arg('now');

-- name: Release :execrows
-- The attempt is given back: the backend never saw a real attempt.
UPDATE outbox_events
SET status = CASE WHEN attempts > 1 THEN 'failed' ELSE 'pending' END,
    attempts = attempts - 1,
    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
    run_at = sqlc.arg('run_at'), last_error = sqlc.arg('last_error'), updated_at = sqlc.arg('now')
WHERE id = sqlc.arg('id') AND lease_token = sqlc.arg('token') AND status = 'processing'
  AND lease_until > sqlc.arg('now');

-- name: Kill :one
UPDATE outbox_events
SET status = 'dead', is_head = 0,
    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
    last_error = sqlc.arg('last_error'), updated_at = sqlc.arg('now')
WHERE id = sqlc.arg('id') AND lease_token = sqlc.arg('token') AND status = 'processing'
  AND lease_until > sqlc.arg('now')
RETURNING ordering_key;

-- name: DecrementKey :exec
UPDATE outbox_keys SET unfinished = unfinished - 1 WHERE ordering_key = sqlc.arg('ordering_key');

-- name: DeleteIdleKey :exec
DELETE FROM outbox_keys WHERE ordering_key = sqlc.arg('ordering_key') AND unfinished = 0;

-- name: PromoteHead :execrows
-- Makes the oldest unfinished event of the key the head, unless it has one.
UPDATE outbox_events
SET is_head = 1
WHERE seq = (
    SELECT min(n.seq) FROM outbox_events AS n
    WHERE n.ordering_key = sqlc.arg('ordering_key') AND n.status IN ('pending', 'processing', 'failed')
)
  AND NOT is_head
  AND NOT EXISTS (
      SELECT 1 FROM outbox_events AS h
      WHERE h.ordering_key = sqlc.arg('ordering_key') AND h.is_head
        AND h.status IN ('pending', 'processing', 'failed')
  );

-- name: ReclaimExpired :many
-- The attempt is given back (the processor died, not the delivery) and the
-- expiry counted; an event whose leases keep expiring goes dead.
UPDATE outbox_events
SET status = CASE
        WHEN lease_expiries + 1 >= sqlc.arg('max_expiries') THEN 'dead'
        WHEN attempts > 1 THEN 'failed'
        ELSE 'pending' END,
    is_head = lease_expiries + 1 < sqlc.arg('max_expiries'),
    attempts = attempts - 1,
    lease_expiries = lease_expiries + 1,
    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
    run_at = sqlc.arg('now'),
    last_error = 'lease expired: the processor stopped or stalled during delivery',
    updated_at = sqlc.arg('now')
WHERE status = 'processing' AND lease_until <= sqlc.arg('now')
RETURNING id, ordering_key, status;

-- name: NextDue :one
SELECT run_at FROM outbox_events
WHERE is_head AND status IN ('pending', 'failed')
ORDER BY run_at LIMIT 1;

-- name: PurgeCompleted :execrows
DELETE FROM outbox_events
WHERE seq IN (
    SELECT c.seq FROM outbox_events AS c
    WHERE c.status = 'completed' AND c.completed_at < sqlc.arg('before')
    LIMIT sqlc.arg('max_events')
);

-- name: CountByTypeAndStatus :many
SELECT event_type, status, count(*) AS events FROM outbox_events GROUP BY event_type, status;

-- name: OldestUnfinished :one
SELECT created_at FROM outbox_events
WHERE status IN ('pending', 'processing', 'failed')
ORDER BY created_at LIMIT 1;

-- name: ListEvents :many
SELECT * FROM outbox_events
WHERE (sqlc.narg('status') IS NULL OR status = sqlc.narg('status'))
  AND (sqlc.narg('event_type') IS NULL OR event_type = sqlc.narg('event_type'))
  AND (sqlc.narg('user_id') IS NULL OR user_id = sqlc.narg('user_id'))
  AND (sqlc.narg('created_before') IS NULL OR created_at < sqlc.narg('created_before'))
ORDER BY seq
LIMIT sqlc.arg('max_events');

-- name: CountUnfinishedByUser :many
-- Completed events are left out: there are many and they need no one.
SELECT user_id, status, count(*) AS events FROM outbox_events
WHERE status <> 'completed'
GROUP BY user_id, status;

-- name: GetEvent :one
SELECT * FROM outbox_events WHERE id = sqlc.arg('id');

-- name: RequeueFailed :exec
UPDATE outbox_events SET attempts = 0, run_at = sqlc.arg('now'), updated_at = sqlc.arg('now')
WHERE id = sqlc.arg('id');

-- name: RequeueDead :exec
UPDATE outbox_events
SET status = 'pending', attempts = 0, is_head = sqlc.arg('is_head'),
    run_at = sqlc.arg('now'), updated_at = sqlc.arg('now')
WHERE id = sqlc.arg('id');

-- name: DeleteEvent :exec
DELETE FROM outbox_events WHERE id = sqlc.arg('id');
