-- Queries of the PostgreSQL outbox store. A "now" parameter is NULL in
-- production, so the database clock decides and processors on machines with
-- skewed clocks agree; tests set it. Parameters are written sqlc.arg/narg
-- throughout: sqlc mis-edits queries that mix them with @name.

-- name: AppliedMigrations :many
SELECT version FROM outboxgen_migrations WHERE component = sqlc.arg('component') ORDER BY version;

-- name: RecordMigration :exec
INSERT INTO outboxgen_migrations (component, version, name) VALUES (sqlc.arg('component'), sqlc.arg('version'), sqlc.arg('migration_name')::text);

-- Enqueue goes through outbox_enqueue (migration 0009), the one way into the
-- outbox that the application's role may take.
-- name: Enqueue :exec
SELECT outbox_enqueue(
    sqlc.arg('id')::uuid, sqlc.arg('event_type')::text, sqlc.arg('aggregate')::text, sqlc.arg('aggregate_id')::text,
    sqlc.arg('user_id')::text, sqlc.arg('ordering_key')::text, sqlc.arg('is_new_record')::boolean,
    sqlc.arg('entity_version')::bigint, sqlc.arg('payload')::json, sqlc.narg('metadata')::json,
    sqlc.arg('priority')::integer, sqlc.arg('max_attempts')::integer, sqlc.narg('run_at')::timestamptz,
    sqlc.narg('now')::timestamptz);

-- others_delivered tells the processor whether another event was delivered
-- by a request sent after the claimed event's last failure: only then is a
-- new failure held against it. It compares the failure with the claim time
-- of the latest completion (one step down a partial index): a delivery
-- claimed before the failure may have been answered after it, and proves
-- nothing.
-- others_died tells it whether another event went dead since the latest
-- delivery was claimed (or ever, with no delivery): then a dropped request
-- after an answered ping is not held against the event (see
-- outbox.Pinger). The latest death is one step down a partial index.
-- Events whose type an operator paused are skipped: a pause of every type
-- is checked once per claim (an InitPlan), a type's pause per candidate (a
-- hashed subplan over outbox_pauses).
-- The lease's owner and token are not returned: they are the parameters.
-- name: Claim :many
WITH due AS (
    SELECT id FROM outbox_events
    WHERE is_head AND status IN ('pending', 'failed')
      AND run_at <= coalesce(sqlc.narg('now')::timestamptz, now())
      AND NOT EXISTS (SELECT 1 FROM outbox_pauses WHERE outbox_pauses.event_type = '')
      AND outbox_events.event_type NOT IN (SELECT outbox_pauses.event_type FROM outbox_pauses)
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
    claimed_at = coalesce(sqlc.narg('now')::timestamptz, now()),
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
FROM due
WHERE e.id = due.id
RETURNING e.id, e.seq, e.event_type, e.aggregate, e.aggregate_id, e.user_id, e.ordering_key, e.is_new_record,
    e.entity_version, e.payload, e.metadata, e.priority, e.status, e.is_head, e.attempts, e.max_attempts,
    e.run_at, e.lease_until, e.last_error, e.created_at, e.updated_at, e.completed_at,
    e.lease_expiries, e.releases, e.failed_at, e.failed_class, e.counted_class, e.in_progress,
    coalesce(e.failed_at < (SELECT c.claimed_at FROM outbox_events c WHERE c.status = 'completed' ORDER BY c.completed_at DESC LIMIT 1), false)::boolean AS others_delivered,
    coalesce((SELECT max(d.failed_at) FROM outbox_events d WHERE d.status = 'dead')
        >= coalesce((SELECT c.claimed_at FROM outbox_events c WHERE c.status = 'completed' ORDER BY c.completed_at DESC LIMIT 1), '-infinity'), false)::boolean AS others_died;

-- Fenced: only rows still leased under the same token, lease unexpired. A
-- lease token is set only while an event is processing, so the status need
-- not be tested; testing it would make the planner consider the leased index
-- and, in a generic plan, a nested loop over the whole batch.
-- The lease is compared with f.at, a column of the batch, not with now():
-- as a condition on the table alone it would be estimated from statistics
-- in which leases are rare (most events are pending or completed), and a
-- table estimated to yield a row or two makes the planner scan it once and
-- compare every row it yields with every outcome of the batch (a batch of
-- 1,000 took 267 ms on 100,000 events, 1.3 s at 2,000). As a join condition
-- it leaves the id to find each row, through the primary key or a hash
-- join. Retry, Release and Kill are fenced the same way (TestRecordingPlans).
-- A completed event keeps no last error; its attempt log keeps the failures.
-- name: Complete :many
UPDATE outbox_events e
SET status = 'completed', is_head = false,
    lease_owner = NULL, lease_token = NULL, lease_until = NULL, last_error = NULL,
    completed_at = coalesce(sqlc.narg('now')::timestamptz, now()),
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
FROM (SELECT unnest(sqlc.arg('ids')::uuid[]) AS id, unnest(sqlc.arg('tokens')::uuid[]) AS token,
        coalesce(sqlc.narg('now')::timestamptz, now()) AS at) AS f
WHERE e.id = f.id AND e.lease_token = f.token AND e.lease_until > f.at
RETURNING e.id, e.ordering_key;

-- Each failed attempt is appended to the event's attempt log, whose oldest
-- entry goes once it holds 10 (see migration 0007).
-- name: Retry :many
UPDATE outbox_events e
SET status = 'failed',
    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
    run_at = coalesce(sqlc.narg('now')::timestamptz, now()) + f.delay_ms * interval '1 millisecond',
    last_error = f.error,
    attempt_log = CASE WHEN jsonb_array_length(e.attempt_log) >= 10 THEN e.attempt_log - 0 ELSE e.attempt_log END
        || jsonb_build_object('t', (extract(epoch FROM coalesce(sqlc.narg('now')::timestamptz, now())) * 1000000)::bigint, 'n', e.attempts, 'o', 'retry',
            'c', nullif(f.class, ''), 's', nullif(f.status, 0), 'r', left(f.error, 160)),
    failed_at = coalesce(sqlc.narg('now')::timestamptz, now()), failed_class = f.class, counted_class = f.class, in_progress = 0,
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
FROM (
    SELECT unnest(sqlc.arg('ids')::uuid[]) AS id, unnest(sqlc.arg('tokens')::uuid[]) AS token,
        unnest(sqlc.arg('delays_ms')::bigint[]) AS delay_ms, unnest(sqlc.arg('errors')::text[]) AS error,
        unnest(sqlc.arg('classes')::text[]) AS class, unnest(sqlc.arg('status_codes')::integer[]) AS status,
        coalesce(sqlc.narg('now')::timestamptz, now()) AS at
) AS f
WHERE e.id = f.id AND e.lease_token = f.token AND e.lease_until > f.at
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
    in_progress = CASE WHEN f.dated THEN 0 WHEN f.reached THEN e.in_progress + 1 ELSE e.in_progress END,
    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
    run_at = coalesce(sqlc.narg('now')::timestamptz, now()) + f.delay_ms * interval '1 millisecond',
    last_error = f.error,
    attempt_log = CASE WHEN jsonb_array_length(e.attempt_log) >= 10 THEN e.attempt_log - 0 ELSE e.attempt_log END
        || jsonb_build_object('t', (extract(epoch FROM coalesce(sqlc.narg('now')::timestamptz, now())) * 1000000)::bigint, 'n', e.attempts, 'o', 'release',
            'c', nullif(f.class, ''), 's', nullif(f.status, 0), 'r', left(f.error, 160)),
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
FROM (
    SELECT unnest(sqlc.arg('ids')::uuid[]) AS id, unnest(sqlc.arg('tokens')::uuid[]) AS token,
        unnest(sqlc.arg('delays_ms')::bigint[]) AS delay_ms, unnest(sqlc.arg('errors')::text[]) AS error,
        unnest(sqlc.arg('reached')::boolean[]) AS reached, unnest(sqlc.arg('dated')::boolean[]) AS dated,
        unnest(sqlc.arg('classes')::text[]) AS class, unnest(sqlc.arg('status_codes')::integer[]) AS status,
        coalesce(sqlc.narg('now')::timestamptz, now()) AS at
) AS f
WHERE e.id = f.id AND e.lease_token = f.token AND e.lease_until > f.at
RETURNING e.id;

-- name: Kill :many
UPDATE outbox_events e
SET status = 'dead', is_head = false,
    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
    last_error = f.error,
    attempt_log = CASE WHEN jsonb_array_length(e.attempt_log) >= 10 THEN e.attempt_log - 0 ELSE e.attempt_log END
        || jsonb_build_object('t', (extract(epoch FROM coalesce(sqlc.narg('now')::timestamptz, now())) * 1000000)::bigint, 'n', e.attempts, 'o', 'dead',
            'c', nullif(f.class, ''), 's', nullif(f.status, 0), 'r', left(f.error, 160)),
    failed_at = coalesce(sqlc.narg('now')::timestamptz, now()), failed_class = f.class, counted_class = f.class, in_progress = 0,
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
FROM (
    SELECT unnest(sqlc.arg('ids')::uuid[]) AS id, unnest(sqlc.arg('tokens')::uuid[]) AS token, unnest(sqlc.arg('errors')::text[]) AS error,
        unnest(sqlc.arg('classes')::text[]) AS class, unnest(sqlc.arg('status_codes')::integer[]) AS status,
        coalesce(sqlc.narg('now')::timestamptz, now()) AS at
) AS f
WHERE e.id = f.id AND e.lease_token = f.token AND e.lease_until > f.at
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
-- events were delivered by requests sent after the event's previous failure
-- (see Claim's others_delivered), as any failure
-- is held against an event; an event whose counted expiries reach the limit
-- is what keeps killing its processors, and goes dead.
UPDATE outbox_events e
SET status = CASE WHEN e.lease_expiries + x.counted >= sqlc.arg('max_expiries')::integer THEN 'dead' ELSE 'failed' END,
    is_head = e.lease_expiries + x.counted < sqlc.arg('max_expiries')::integer,
    attempts = e.attempts - 1,
    lease_expiries = e.lease_expiries + x.counted,
    releases = e.releases + 1,
    failed_at = coalesce(sqlc.narg('now')::timestamptz, now()), failed_class = 'unanswered', in_progress = 0,
    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
    run_at = coalesce(sqlc.narg('now')::timestamptz, now()),
    last_error = 'lease expired: the processor stopped or stalled during delivery',
    attempt_log = CASE WHEN jsonb_array_length(e.attempt_log) >= 10 THEN e.attempt_log - 0 ELSE e.attempt_log END
        || jsonb_build_object('t', (extract(epoch FROM coalesce(sqlc.narg('now')::timestamptz, now())) * 1000000)::bigint, 'n', e.attempts, 'o', 'expired',
            'c', 'unanswered', 's', NULL, 'r', 'lease expired: the processor stopped or stalled during delivery'),
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
FROM (
    SELECT id, coalesce(failed_at < (SELECT c.claimed_at FROM outbox_events c WHERE c.status = 'completed' ORDER BY c.completed_at DESC LIMIT 1), false)::integer AS counted
    FROM outbox_events
    WHERE status = 'processing' AND lease_until <= coalesce(sqlc.narg('now')::timestamptz, now())
    FOR UPDATE SKIP LOCKED
) AS x
WHERE e.id = x.id
RETURNING e.id, e.ordering_key, e.status;

-- Paused events are not due: a processor would otherwise wake for them
-- and claim nothing, again and again.
-- name: NextDue :one
SELECT run_at,
    greatest(0, extract(epoch FROM run_at - coalesce(sqlc.narg('now')::timestamptz, now())) * 1000)::bigint AS wait_ms
FROM outbox_events
WHERE is_head AND status IN ('pending', 'failed')
  AND NOT EXISTS (SELECT 1 FROM outbox_pauses WHERE outbox_pauses.event_type = '')
  AND outbox_events.event_type NOT IN (SELECT outbox_pauses.event_type FROM outbox_pauses)
ORDER BY run_at LIMIT 1;

-- name: PurgeCompleted :execrows
DELETE FROM outbox_events
WHERE id IN (
    SELECT id FROM outbox_events
    WHERE status = 'completed' AND completed_at < sqlc.arg('before')::timestamptz
    LIMIT sqlc.arg('max_events')
);

-- Stats reads the waiting and the dead events through their partial
-- indexes, and never scans the completed ones, which may be millions.
-- name: CountWaiting :many
SELECT event_type, status, count(*) AS events, min(created_at)::timestamptz AS oldest
FROM outbox_events
WHERE status IN ('pending', 'processing', 'failed')
GROUP BY event_type, status;

-- name: CountDead :many
SELECT event_type, count(*) AS events FROM outbox_events WHERE status = 'dead' GROUP BY event_type;

-- Counts completed events up to a bound, one step each down their partial
-- index: above it, Stats estimates.
-- name: CountCompletedUpTo :one
SELECT count(*) FROM (SELECT 1 FROM outbox_events WHERE status = 'completed' LIMIT sqlc.arg('bound')) AS c;

-- name: CountCompletedByType :many
SELECT event_type, count(*) AS events FROM outbox_events WHERE status = 'completed' GROUP BY event_type;

-- The cumulative statistics' count of live rows (pg_stat_user_tables'
-- n_live_tup), kept up to date as rows are inserted and deleted: an
-- estimate, read in constant time.
-- name: EstimateEvents :one
SELECT pg_stat_get_live_tuples('outbox_events'::regclass)::bigint AS events;

-- name: ListEvents :many
SELECT * FROM outbox_events
WHERE (sqlc.narg('status')::text IS NULL OR status = sqlc.narg('status')::text)
  AND (sqlc.narg('event_type')::text IS NULL OR event_type = sqlc.narg('event_type')::text)
  AND (sqlc.narg('user_id')::text IS NULL OR user_id = sqlc.narg('user_id')::text)
  AND (sqlc.narg('created_before')::timestamptz IS NULL OR created_at < sqlc.narg('created_before')::timestamptz)
ORDER BY seq
LIMIT sqlc.arg('max_events');

-- name: CountUnfinishedByUser :many
-- Completed events are left out: there are many and they need no one. Each
-- half reads a partial index.
SELECT user_id, status, count(*) AS events FROM outbox_events
WHERE status IN ('pending', 'processing', 'failed')
GROUP BY user_id, status
UNION ALL
SELECT user_id, status, count(*) AS events FROM outbox_events
WHERE status = 'dead'
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
SET status = 'pending', attempts = 0, lease_expiries = 0, releases = 0, failed_at = NULL, failed_class = NULL, counted_class = NULL, in_progress = 0, run_at = coalesce(sqlc.narg('now')::timestamptz, now()),
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
WHERE id = sqlc.arg('id');

-- name: IncrementKey :one
INSERT INTO outbox_keys (ordering_key, unfinished) VALUES (sqlc.arg('ordering_key'), 1)
ON CONFLICT (ordering_key) DO UPDATE SET unfinished = outbox_keys.unfinished + 1
RETURNING unfinished;

-- name: RequeueDead :exec
UPDATE outbox_events
SET status = 'pending', attempts = 0, lease_expiries = 0, releases = 0, failed_at = NULL, failed_class = NULL, counted_class = NULL, in_progress = 0,
    is_head = sqlc.arg('is_head'),
    run_at = coalesce(sqlc.narg('now')::timestamptz, now()),
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
WHERE id = sqlc.arg('id');

-- name: DeleteEvent :exec
DELETE FROM outbox_events WHERE id = sqlc.arg('id');

-- name: Heartbeat :exec
INSERT INTO outbox_processors (owner, host, pid, version, config, started_at, seen_at, expires_at, paused_since, pause_class, pause_reason, send_limit, in_flight)
VALUES (sqlc.arg('owner'), sqlc.arg('host'), sqlc.arg('pid'), sqlc.arg('version'), sqlc.arg('config'),
    coalesce(sqlc.narg('now')::timestamptz, now()), coalesce(sqlc.narg('now')::timestamptz, now()),
    coalesce(sqlc.narg('now')::timestamptz, now()) + sqlc.arg('ttl_ms')::bigint * interval '1 millisecond',
    sqlc.narg('paused_since'), sqlc.narg('pause_class'), sqlc.narg('pause_reason'), sqlc.arg('send_limit')::integer, sqlc.arg('in_flight')::integer)
ON CONFLICT (owner) DO UPDATE
SET config = excluded.config, seen_at = excluded.seen_at, expires_at = excluded.expires_at,
    paused_since = excluded.paused_since, pause_class = excluded.pause_class, pause_reason = excluded.pause_reason,
    send_limit = excluded.send_limit, in_flight = excluded.in_flight;

-- Rows of processors that died are kept a day after their last heartbeat,
-- for operators to see, then forgotten.
-- name: ForgetDeadProcessors :exec
DELETE FROM outbox_processors WHERE expires_at < coalesce(sqlc.narg('now')::timestamptz, now()) - interval '1 day';

-- name: DeleteProcessor :exec
DELETE FROM outbox_processors WHERE owner = sqlc.arg('owner');

-- name: ListProcessors :many
SELECT owner, host, pid, version, config, started_at, seen_at, paused_since, pause_class, pause_reason, send_limit, in_flight,
    (expires_at > coalesce(sqlc.narg('now')::timestamptz, now()))::boolean AS alive
FROM outbox_processors ORDER BY started_at, owner;

-- name: CountExpiredLeases :one
SELECT count(*) FROM outbox_events
WHERE status = 'processing' AND lease_until <= coalesce(sqlc.narg('now')::timestamptz, now());

-- Queries of the web console (runtime/console): pages of events by keyset,
-- counts of a filtered set, and recent activity per minute.

-- name: ListPage :many
-- One status at a time, oldest first, after a (created_at, id) key. Failed
-- and dead events: ListFailedOrDeadPage; a user's events: ListPageOfUser.
SELECT * FROM outbox_events
WHERE status = sqlc.arg('status')::text
  AND (created_at, id) > (sqlc.arg('after_created_at')::timestamptz, sqlc.arg('after_id')::uuid)
  AND (sqlc.narg('event_type')::text IS NULL OR event_type = sqlc.narg('event_type')::text)
  AND (sqlc.narg('created_before')::timestamptz IS NULL OR created_at < sqlc.narg('created_before')::timestamptz)
ORDER BY created_at, id
LIMIT sqlc.arg('max_events');

-- name: ListFailedOrDeadPage :many
-- ListPage for failed or dead events, the console's first view: the
-- literal status IN list lets even a generic plan read the partial index of
-- migration 0010 in page order, so a page costs the same at the millionth
-- event as at the first.
SELECT * FROM outbox_events
WHERE status IN ('failed', 'dead') AND status = sqlc.arg('status')::text
  AND (created_at, id) > (sqlc.arg('after_created_at')::timestamptz, sqlc.arg('after_id')::uuid)
  AND (sqlc.narg('event_type')::text IS NULL OR event_type = sqlc.narg('event_type')::text)
  AND (sqlc.narg('created_before')::timestamptz IS NULL OR created_at < sqlc.narg('created_before')::timestamptz)
ORDER BY created_at, id
LIMIT sqlc.arg('max_events');

-- name: ListCompletedPage :many
-- ListPage for completed events, the millions retention keeps: ordered by
-- completion time, so that the partial index retention reads
-- (outbox_events_completed) gives them in page order and a page costs the
-- same at the millionth event as at the first. A user's completed events:
-- ListCompletedPageOfUser.
SELECT * FROM outbox_events
WHERE status = 'completed'
  AND (completed_at, id) > (sqlc.arg('after_completed_at')::timestamptz, sqlc.arg('after_id')::uuid)
  AND (sqlc.narg('event_type')::text IS NULL OR event_type = sqlc.narg('event_type')::text)
  AND (sqlc.narg('created_before')::timestamptz IS NULL OR created_at < sqlc.narg('created_before')::timestamptz)
ORDER BY completed_at, id
LIMIT sqlc.arg('max_events');

-- name: ListCompletedPageOfUser :many
-- ListCompletedPage for one user, a statement of its own for the reason
-- ListPageOfUser is: a generic plan of "user_id IS NULL OR user_id = ..."
-- cannot read an index of users, and this one can read the index on
-- (user_id, completed_at, id) of completed events that docs/OPERATIONS.md
-- suggests to teams that look users up at scale.
SELECT * FROM outbox_events
WHERE user_id = sqlc.arg('user_id')::text AND status = 'completed'
  AND (completed_at, id) > (sqlc.arg('after_completed_at')::timestamptz, sqlc.arg('after_id')::uuid)
  AND (sqlc.narg('event_type')::text IS NULL OR event_type = sqlc.narg('event_type')::text)
  AND (sqlc.narg('created_before')::timestamptz IS NULL OR created_at < sqlc.narg('created_before')::timestamptz)
ORDER BY completed_at, id
LIMIT sqlc.arg('max_events');

-- name: CountFiltered :one
SELECT count(*) FROM outbox_events
WHERE (sqlc.narg('status')::text IS NULL OR status = sqlc.narg('status')::text)
  AND (sqlc.narg('event_type')::text IS NULL OR event_type = sqlc.narg('event_type')::text)
  AND (sqlc.narg('user_id')::text IS NULL OR user_id = sqlc.narg('user_id')::text)
  AND (sqlc.narg('created_before')::timestamptz IS NULL OR created_at < sqlc.narg('created_before')::timestamptz);

-- name: DeliveredPerMinute :many
-- Retention keeps completed events a day by default, so the last hour's
-- deliveries are all here, one range of the completed index.
SELECT date_trunc('minute', completed_at)::timestamptz AS minute, count(*) AS events
FROM outbox_events
WHERE status = 'completed' AND completed_at >= sqlc.arg('since')::timestamptz
GROUP BY 1 ORDER BY 1;

-- name: FailedPerMinute :many
-- An event keeps only its latest failure (failed_at), so this counts the
-- events whose latest failure fell in each minute, whatever became of them.
SELECT date_trunc('minute', failed_at)::timestamptz AS minute, count(*) AS events
FROM outbox_events
WHERE failed_at >= sqlc.arg('since')::timestamptz
GROUP BY 1 ORDER BY 1;

-- name: ListPageOfUser :many
-- ListPage for one user: a query of its own, so that its plan, generic
-- ones included, can go straight to the user's events where a team adds an
-- index of users; none is a migration, as every save would pay for it. A
-- user's completed events: ListCompletedPageOfUser.
SELECT * FROM outbox_events
WHERE user_id = sqlc.arg('user_id')::text AND status = sqlc.arg('status')::text
  AND (created_at, id) > (sqlc.arg('after_created_at')::timestamptz, sqlc.arg('after_id')::uuid)
  AND (sqlc.narg('event_type')::text IS NULL OR event_type = sqlc.narg('event_type')::text)
  AND (sqlc.narg('created_before')::timestamptz IS NULL OR created_at < sqlc.narg('created_before')::timestamptz)
ORDER BY created_at, id
LIMIT sqlc.arg('max_events');

-- name: PauseDelivery :exec
INSERT INTO outbox_pauses (event_type, paused_by, reason, paused_at)
VALUES (sqlc.arg('event_type'), sqlc.arg('paused_by'), sqlc.arg('reason'), coalesce(sqlc.narg('now')::timestamptz, now()))
ON CONFLICT (event_type) DO UPDATE SET paused_by = excluded.paused_by, reason = excluded.reason;

-- An empty event type lifts every pause.
-- name: ResumeDelivery :many
DELETE FROM outbox_pauses
WHERE sqlc.arg('event_type')::text = '' OR event_type = sqlc.arg('event_type')::text
RETURNING event_type, paused_by, reason, paused_at;

-- name: ListPauses :many
SELECT event_type, paused_by, reason, paused_at FROM outbox_pauses ORDER BY event_type;

-- Bulk repairs and counts select events by statuses, type, user, enqueue
-- time and completion time; a NULL filter matches everything.
-- name: CountMatching :one
SELECT count(*) FROM outbox_events
WHERE status = ANY(sqlc.arg('statuses')::text[])
  AND (sqlc.narg('event_type')::text IS NULL OR event_type = sqlc.narg('event_type')::text)
  AND (sqlc.narg('user_id')::text IS NULL OR user_id = sqlc.narg('user_id')::text)
  AND (sqlc.narg('created_before')::timestamptz IS NULL OR created_at < sqlc.narg('created_before')::timestamptz)
  AND (sqlc.narg('completed_before')::timestamptz IS NULL OR completed_at < sqlc.narg('completed_before')::timestamptz);

-- The next batch of a bulk retry or discard, oldest first, read without
-- locks: the batch locks the events' keys, then the events themselves.
-- Events being delivered (processing under a live lease) are left out.
-- name: RepairCandidates :many
SELECT id, ordering_key FROM outbox_events
WHERE status = ANY(sqlc.arg('statuses')::text[])
  AND (sqlc.narg('event_type')::text IS NULL OR event_type = sqlc.narg('event_type')::text)
  AND (sqlc.narg('user_id')::text IS NULL OR user_id = sqlc.narg('user_id')::text)
  AND (sqlc.narg('created_before')::timestamptz IS NULL OR created_at < sqlc.narg('created_before')::timestamptz)
  AND (sqlc.narg('completed_before')::timestamptz IS NULL OR completed_at < sqlc.narg('completed_before')::timestamptz)
  AND NOT (status = 'processing' AND lease_until > coalesce(sqlc.narg('now')::timestamptz, now()))
ORDER BY seq
LIMIT sqlc.arg('max_events');

-- Locks the key rows in key order, as ReleaseKeys does, so that a repair
-- and a processor recording outcomes never wait on each other in a cycle.
-- name: LockKeys :many
SELECT ordering_key FROM outbox_keys
WHERE ordering_key = ANY(sqlc.arg('keys')::text[])
ORDER BY ordering_key
FOR UPDATE;

-- Locks the candidates that still qualify, skipping those a processor is
-- recording an outcome for.
-- name: LockRepairable :many
SELECT id, ordering_key, status, seq FROM outbox_events
WHERE id = ANY(sqlc.arg('ids')::uuid[]) AND status = ANY(sqlc.arg('statuses')::text[])
  AND NOT (status = 'processing' AND lease_until > coalesce(sqlc.narg('now')::timestamptz, now()))
FOR UPDATE SKIP LOCKED;

-- An operator's retry of many events, a fresh start for each as in
-- RequeueFailed and RequeueDead; dead events rejoin their keys not as heads
-- (see IncrementKeys and SetHeads).
-- name: RequeueMatching :exec
UPDATE outbox_events
SET status = 'pending', attempts = 0, lease_expiries = 0, releases = 0, failed_at = NULL, failed_class = NULL, counted_class = NULL, in_progress = 0,
    is_head = is_head AND status <> 'dead',
    run_at = coalesce(sqlc.narg('now')::timestamptz, now()),
    updated_at = coalesce(sqlc.narg('now')::timestamptz, now())
WHERE id = ANY(sqlc.arg('ids')::uuid[]);

-- Counts the events of each listed key (a key may be listed more than once)
-- back into the unfinished set, in key order, and returns the keys' counts:
-- a key whose count is that of its revived events had no event unfinished,
-- so its oldest revived event becomes its head. (Every key with unfinished
-- events has a head, so no scan for one is needed, which, planned on
-- statistics from before a large retry, could cost seconds per batch.)
-- name: IncrementKeys :many
INSERT INTO outbox_keys (ordering_key, unfinished)
SELECT key, count(*)::integer FROM unnest(sqlc.arg('keys')::text[]) AS key GROUP BY key ORDER BY key
ON CONFLICT (ordering_key) DO UPDATE SET unfinished = outbox_keys.unfinished + excluded.unfinished
RETURNING ordering_key, unfinished;

-- name: SetHeads :exec
UPDATE outbox_events SET is_head = true WHERE id = ANY(sqlc.arg('ids')::uuid[]);

-- name: DeleteEvents :exec
DELETE FROM outbox_events WHERE id = ANY(sqlc.arg('ids')::uuid[]);

-- Completed events are never changed again, so deleting them takes no
-- lock but the rows'.
-- name: PurgeMatching :execrows
DELETE FROM outbox_events
WHERE id IN (
    SELECT id FROM outbox_events
    WHERE status = 'completed'
      AND (sqlc.narg('event_type')::text IS NULL OR event_type = sqlc.narg('event_type')::text)
      AND (sqlc.narg('user_id')::text IS NULL OR user_id = sqlc.narg('user_id')::text)
      AND (sqlc.narg('created_before')::timestamptz IS NULL OR created_at < sqlc.narg('created_before')::timestamptz)
      AND (sqlc.narg('completed_before')::timestamptz IS NULL OR completed_at < sqlc.narg('completed_before')::timestamptz)
    LIMIT sqlc.arg('max_events')
);
