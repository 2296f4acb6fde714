-- Queries of the PostgreSQL outbox store. A "now" parameter is NULL in
-- production, so the database clock decides and processors on machines with
-- skewed clocks agree; tests set it. Parameters are written sqlc.arg/narg
-- throughout: sqlc mis-edits queries that mix them with @name.

-- name: AppliedMigrations :many
SELECT version FROM outboxgen_migrations WHERE component = sqlc.arg('component') ORDER BY version;

-- name: RecordMigration :exec
INSERT INTO outboxgen_migrations (component, version, name) VALUES (sqlc.arg('component'), sqlc.arg('version'), sqlc.arg('migration_name')::text);

-- Enqueue goes through outbox_enqueue (migration 0006), the one way into the
-- outbox that the application's role may take.
-- name: Enqueue :exec
SELECT outbox_enqueue(
    sqlc.arg('id')::uuid, sqlc.arg('event_type')::text, sqlc.arg('aggregate')::text, sqlc.arg('aggregate_id')::text,
    sqlc.arg('user_id')::text, sqlc.arg('ordering_key')::text, sqlc.arg('is_new_record')::boolean,
    sqlc.arg('entity_version')::bigint, sqlc.arg('payload')::json, sqlc.narg('metadata')::json,
    sqlc.arg('priority')::integer, sqlc.arg('max_attempts')::integer, sqlc.narg('run_at')::timestamptz,
    sqlc.narg('now')::timestamptz);

-- others_delivered tells the processor whether another event was delivered
-- after the claimed event's last failure: only then is a new failure held
-- against it. The latest completion is one step down a partial index.
-- name: Claim :many
WITH due AS (
    SELECT id FROM outbox_events
    WHERE is_head AND status IN ('pending', 'failed')
      AND run_at <= coalesce(sqlc.narg('now')::timestamptz, now())
    ORDER BY priority DESC, seq
    LIMIT sqlc.arg('max_events')
    FOR UPDATE SKIP LOCKED
)
UPDATE outbox_events e
SET status = 'processing',
    attempts = e.attempts + 1,
    lease_owner = sqlc.arg('owner')::text,
    lease_token = sqlc.arg('token')::uuid,
    lease_until = coalesce(sqlc.narg('now')::timestamptz, now()) + sqlc.arg('lease_ms')::bigint * interval '1 millisecond',
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
FROM due
WHERE e.id = due.id
RETURNING e.id, e.seq, e.event_type, e.aggregate, e.aggregate_id, e.user_id, e.ordering_key, e.is_new_record,
    e.entity_version, e.payload, e.metadata, e.priority, e.status, e.is_head, e.attempts, e.max_attempts,
    e.run_at, e.lease_owner, e.lease_token, e.lease_until, e.last_error, e.created_at, e.updated_at, e.completed_at,
    e.lease_expiries, e.releases, e.failed_at, e.failed_class,
    coalesce(e.failed_at <= (SELECT max(c.completed_at) FROM outbox_events c WHERE c.status = 'completed'), false)::boolean AS others_delivered;

-- Fenced: only rows still leased under the same token, lease unexpired. A
-- lease token is set only while an event is processing, so the status need
-- not be tested; testing it would make the planner consider the leased index
-- and, in a generic plan, a nested loop over the whole batch.
-- name: Complete :many
UPDATE outbox_events e
SET status = 'completed', is_head = false,
    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
    completed_at = coalesce(sqlc.narg('now')::timestamptz, now()),
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
FROM (SELECT unnest(sqlc.arg('ids')::uuid[]) AS id, unnest(sqlc.arg('tokens')::uuid[]) AS token) AS f
WHERE e.id = f.id AND e.lease_token = f.token
  AND e.lease_until > coalesce(sqlc.narg('now')::timestamptz, now())
RETURNING e.id, e.ordering_key;

-- name: Retry :many
UPDATE outbox_events e
SET status = 'failed',
    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
    run_at = coalesce(sqlc.narg('now')::timestamptz, now()) + f.delay_ms * interval '1 millisecond',
    last_error = f.error,
    failed_at = coalesce(sqlc.narg('now')::timestamptz, now()), failed_class = f.class,
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
FROM (
    SELECT unnest(sqlc.arg('ids')::uuid[]) AS id, unnest(sqlc.arg('tokens')::uuid[]) AS token,
        unnest(sqlc.arg('delays_ms')::bigint[]) AS delay_ms, unnest(sqlc.arg('errors')::text[]) AS error,
        unnest(sqlc.arg('classes')::text[]) AS class
) AS f
WHERE e.id = f.id AND e.lease_token = f.token
  AND e.lease_until > coalesce(sqlc.narg('now')::timestamptz, now())
RETURNING e.id;

-- The attempt is given back: the backend never saw the request, or nothing
-- shows yet that the failure was the event's. A release the backend may have
-- seen (reached) is counted, and dates the failure unless it only said the
-- event was in progress (dated).
-- name: Release :many
UPDATE outbox_events e
SET status = CASE WHEN e.attempts > 1 OR f.dated OR e.failed_at IS NOT NULL THEN 'failed' ELSE 'pending' END,
    attempts = e.attempts - 1,
    releases = e.releases + f.reached::integer,
    failed_at = CASE WHEN f.dated THEN coalesce(sqlc.narg('now')::timestamptz, now()) ELSE e.failed_at END,
    failed_class = CASE WHEN f.dated THEN f.class ELSE e.failed_class END,
    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
    run_at = coalesce(sqlc.narg('now')::timestamptz, now()) + f.delay_ms * interval '1 millisecond',
    last_error = f.error,
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
FROM (
    SELECT unnest(sqlc.arg('ids')::uuid[]) AS id, unnest(sqlc.arg('tokens')::uuid[]) AS token,
        unnest(sqlc.arg('delays_ms')::bigint[]) AS delay_ms, unnest(sqlc.arg('errors')::text[]) AS error,
        unnest(sqlc.arg('reached')::boolean[]) AS reached, unnest(sqlc.arg('dated')::boolean[]) AS dated,
        unnest(sqlc.arg('classes')::text[]) AS class
) AS f
WHERE e.id = f.id AND e.lease_token = f.token
  AND e.lease_until > coalesce(sqlc.narg('now')::timestamptz, now())
RETURNING e.id;

-- name: Kill :many
UPDATE outbox_events e
SET status = 'dead', is_head = false,
    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
    last_error = f.error,
    failed_at = coalesce(sqlc.narg('now')::timestamptz, now()), failed_class = f.class,
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
FROM (
    SELECT unnest(sqlc.arg('ids')::uuid[]) AS id, unnest(sqlc.arg('tokens')::uuid[]) AS token, unnest(sqlc.arg('errors')::text[]) AS error,
        unnest(sqlc.arg('classes')::text[]) AS class
) AS f
WHERE e.id = f.id AND e.lease_token = f.token
  AND e.lease_until > coalesce(sqlc.narg('now')::timestamptz, now())
RETURNING e.id, e.ordering_key;

-- Records that one event per listed key (a key may be listed more than
-- once) left the unfinished set: the key rows are locked in key order, so
-- two finishing transactions never wait on each other in a cycle; keys left
-- without unfinished events are deleted, and the others returned, for
-- PromoteHeads.
-- name: ReleaseKeys :many
WITH counted AS (
    SELECT key, count(*)::integer AS n FROM unnest(sqlc.arg('keys')::text[]) AS key GROUP BY key
), locked AS (
    SELECT k.ordering_key, k.unfinished - c.n AS remaining
    FROM outbox_keys k JOIN counted c ON c.key = k.ordering_key
    ORDER BY k.ordering_key
    FOR UPDATE OF k
), idle AS (
    DELETE FROM outbox_keys k USING locked l
    WHERE k.ordering_key = l.ordering_key AND l.remaining <= 0
), kept AS (
    UPDATE outbox_keys k SET unfinished = l.remaining
    FROM locked l
    WHERE k.ordering_key = l.ordering_key AND l.remaining > 0
    RETURNING k.ordering_key
)
SELECT ordering_key FROM kept;

-- Makes the oldest unfinished event of each key the head, unless the key
-- already has one.
-- name: PromoteHeads :execrows
UPDATE outbox_events e
SET is_head = true
FROM (
    SELECT DISTINCT ON (ordering_key) id, ordering_key
    FROM outbox_events
    WHERE ordering_key = ANY(sqlc.arg('keys')::text[]) AND status IN ('pending', 'processing', 'failed')
    ORDER BY ordering_key, seq
) nxt
WHERE e.id = nxt.id AND NOT e.is_head
  AND NOT EXISTS (
      SELECT 1 FROM outbox_events h
      WHERE h.ordering_key = nxt.ordering_key AND h.is_head
        AND h.status IN ('pending', 'processing', 'failed')
  );

-- name: ReclaimExpired :many
-- The attempt is given back (the processor died, not necessarily the
-- delivery) and the failure dated. The expiry is counted only if other
-- events were delivered after the event's previous failure, as any failure
-- is held against an event; an event whose counted expiries reach the limit
-- is what keeps killing its processors, and goes dead.
UPDATE outbox_events e
SET status = CASE WHEN e.lease_expiries + x.counted >= sqlc.arg('max_expiries')::integer THEN 'dead' ELSE 'failed' END,
    is_head = e.lease_expiries + x.counted < sqlc.arg('max_expiries')::integer,
    attempts = e.attempts - 1,
    lease_expiries = e.lease_expiries + x.counted,
    releases = e.releases + 1,
    failed_at = coalesce(sqlc.narg('now')::timestamptz, now()), failed_class = 'unanswered',
    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
    run_at = coalesce(sqlc.narg('now')::timestamptz, now()),
    last_error = 'lease expired: the processor stopped or stalled during delivery',
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
FROM (
    SELECT id, coalesce(failed_at <= (SELECT max(c.completed_at) FROM outbox_events c WHERE c.status = 'completed'), false)::integer AS counted
    FROM outbox_events
    WHERE status = 'processing' AND lease_until <= coalesce(sqlc.narg('now')::timestamptz, now())
    FOR UPDATE SKIP LOCKED
) AS x
WHERE e.id = x.id
RETURNING e.id, e.ordering_key, e.status;

-- name: NextDue :one
SELECT run_at,
    greatest(0, extract(epoch FROM run_at - coalesce(sqlc.narg('now')::timestamptz, now())) * 1000)::bigint AS wait_ms
FROM outbox_events
WHERE is_head AND status IN ('pending', 'failed')
ORDER BY run_at LIMIT 1;

-- name: PurgeCompleted :execrows
DELETE FROM outbox_events
WHERE id IN (
    SELECT id FROM outbox_events
    WHERE status = 'completed' AND completed_at < sqlc.arg('before')::timestamptz
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
WHERE (sqlc.narg('status')::text IS NULL OR status = sqlc.narg('status')::text)
  AND (sqlc.narg('event_type')::text IS NULL OR event_type = sqlc.narg('event_type')::text)
  AND (sqlc.narg('user_id')::text IS NULL OR user_id = sqlc.narg('user_id')::text)
  AND (sqlc.narg('created_before')::timestamptz IS NULL OR created_at < sqlc.narg('created_before')::timestamptz)
ORDER BY seq
LIMIT sqlc.arg('max_events');

-- name: CountUnfinishedByUser :many
-- Completed events are left out: there are many and they need no one.
SELECT user_id, status, count(*) AS events FROM outbox_events
WHERE status <> 'completed'
GROUP BY user_id, status;

-- name: GetEvent :one
SELECT * FROM outbox_events WHERE id = sqlc.arg('id');

-- name: LockKey :many
-- Operators' changes lock the key before the event, in the order Finish
-- takes them, so that the two never wait on each other in a cycle.
SELECT ordering_key FROM outbox_keys WHERE ordering_key = sqlc.arg('ordering_key') FOR UPDATE;

-- name: LockEvent :one
-- NOWAIT: an event locked by a delivery being recorded is in flight.
SELECT id, ordering_key, status,
    (status = 'processing' AND lease_until > coalesce(sqlc.narg('now')::timestamptz, now()))::boolean AS in_flight
FROM outbox_events
WHERE id = sqlc.arg('id')
FOR UPDATE NOWAIT;

-- An operator's retry is a fresh start: attempts and the failure record are
-- cleared, so nothing from before is held against the event.
-- name: RequeueFailed :exec
UPDATE outbox_events
SET attempts = 0, lease_expiries = 0, releases = 0, failed_at = NULL, failed_class = NULL, run_at = coalesce(sqlc.narg('now')::timestamptz, now()),
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
WHERE id = sqlc.arg('id');

-- name: IncrementKey :one
INSERT INTO outbox_keys (ordering_key, unfinished) VALUES (sqlc.arg('ordering_key'), 1)
ON CONFLICT (ordering_key) DO UPDATE SET unfinished = outbox_keys.unfinished + 1
RETURNING unfinished;

-- name: RequeueDead :exec
UPDATE outbox_events
SET status = 'pending', attempts = 0, lease_expiries = 0, releases = 0, failed_at = NULL, failed_class = NULL,
    is_head = sqlc.arg('is_head'),
    run_at = coalesce(sqlc.narg('now')::timestamptz, now()),
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
WHERE id = sqlc.arg('id');

-- name: DeleteEvent :exec
DELETE FROM outbox_events WHERE id = sqlc.arg('id');

-- name: Heartbeat :exec
INSERT INTO outbox_processors (owner, host, pid, version, config, started_at, seen_at, expires_at, paused_since, pause_class, pause_reason)
VALUES (sqlc.arg('owner'), sqlc.arg('host'), sqlc.arg('pid'), sqlc.arg('version'), sqlc.arg('config'),
    coalesce(sqlc.narg('now')::timestamptz, now()), coalesce(sqlc.narg('now')::timestamptz, now()),
    coalesce(sqlc.narg('now')::timestamptz, now()) + sqlc.arg('ttl_ms')::bigint * interval '1 millisecond',
    sqlc.narg('paused_since'), sqlc.narg('pause_class'), sqlc.narg('pause_reason'))
ON CONFLICT (owner) DO UPDATE
SET config = excluded.config, seen_at = excluded.seen_at, expires_at = excluded.expires_at,
    paused_since = excluded.paused_since, pause_class = excluded.pause_class, pause_reason = excluded.pause_reason;

-- Rows of processors that died are kept a day after their last heartbeat,
-- for operators to see, then forgotten.
-- name: ForgetDeadProcessors :exec
DELETE FROM outbox_processors WHERE expires_at < coalesce(sqlc.narg('now')::timestamptz, now()) - interval '1 day';

-- name: DeleteProcessor :exec
DELETE FROM outbox_processors WHERE owner = sqlc.arg('owner');

-- name: ListProcessors :many
SELECT owner, host, pid, version, config, started_at, seen_at, paused_since, pause_class, pause_reason,
    (expires_at > coalesce(sqlc.narg('now')::timestamptz, now()))::boolean AS alive
FROM outbox_processors ORDER BY started_at, owner;

-- name: CountExpiredLeases :one
SELECT count(*) FROM outbox_events
WHERE status = 'processing' AND lease_until <= coalesce(sqlc.narg('now')::timestamptz, now());
