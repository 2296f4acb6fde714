-- Queries of the SQLite outbox store. SQLite has one writer at a time and
-- every write transaction begins IMMEDIATE, so no statement here needs row
-- locks. Times are Unix microseconds chosen by the store's clock.

-- name: AppliedMigrations :many
SELECT version FROM outboxgen_migrations WHERE component = sqlc.arg('component') ORDER BY version;

-- name: RecordMigration :exec
INSERT INTO outboxgen_migrations (component, version, name, applied_at)
VALUES (sqlc.arg('component'), sqlc.arg('version'), sqlc.arg('migration_name'), sqlc.arg('now'));

-- name: InsertEvent :exec
-- The event is its key's head when the key has no unfinished event (see
-- KeyHasUnfinished, which this repeats: deciding it in the INSERT keeps the
-- decision under the write lock even in a transaction the caller began
-- DEFERRED, whose reads would otherwise come first).
INSERT INTO outbox_events (
    id, event_type, aggregate, aggregate_id, user_id, ordering_key, is_new_record,
    entity_version, payload, metadata, priority, status, is_head, attempts,
    max_attempts, run_at, created_at, updated_at
) VALUES (
    sqlc.arg('id'), sqlc.arg('event_type'), sqlc.arg('aggregate'), sqlc.arg('aggregate_id'),
    sqlc.arg('user_id'), sqlc.arg('ordering_key'), sqlc.arg('is_new_record'),
    sqlc.arg('entity_version'), sqlc.arg('payload'), sqlc.narg('metadata'), sqlc.arg('priority'),
    'pending',
    NOT (
        coalesce((SELECT l.status IN ('pending', 'processing', 'failed') FROM outbox_events AS l INDEXED BY outbox_events_key
                  WHERE l.ordering_key = sqlc.arg('ordering_key') ORDER BY l.seq DESC LIMIT 1), 0)
        OR EXISTS (SELECT 1 FROM outbox_events AS r INDEXED BY outbox_events_revived
                   WHERE r.ordering_key = sqlc.arg('ordering_key') AND r.revived AND r.status IN ('pending', 'processing', 'failed'))
    ),
    0, sqlc.arg('max_attempts'), sqlc.arg('run_at'), sqlc.arg('now'), sqlc.arg('now')
);

-- name: KeyHasUnfinished :one
-- Whether a key has an unfinished event: its last row is unfinished, or it
-- has an unfinished event an operator revived (see migration 0015: a key's
-- other unfinished events are its last rows). Two index searches and one
-- row.
SELECT CAST(
    coalesce((SELECT l.status IN ('pending', 'processing', 'failed') FROM outbox_events AS l INDEXED BY outbox_events_key
              WHERE l.ordering_key = sqlc.arg('ordering_key') ORDER BY l.seq DESC LIMIT 1), 0)
    OR EXISTS (SELECT 1 FROM outbox_events AS r INDEXED BY outbox_events_revived
               WHERE r.ordering_key = sqlc.arg('ordering_key') AND r.revived AND r.status IN ('pending', 'processing', 'failed'))
AS INTEGER) AS busy;

-- name: ClaimInOrder :many
-- A claim's first try, which costs the same on any backlog: the first due
-- heads among the first sqlc.arg('window') heads in claim order, read from
-- outbox_events_claim_order in that order (run_at is in the index; event
-- types, for the pauses, are read for due heads only). When it finds fewer
-- than it wants, every due head in the window is taken, and ClaimDue looks
-- beyond. Events whose type an operator paused are skipped.
UPDATE outbox_events
SET status = 'processing',
    attempts = attempts + 1,
    lease_owner = sqlc.arg('owner'),
    lease_token = sqlc.arg('token'),
    lease_until = sqlc.arg('lease_until'),
    updated_at = sqlc.arg('now'),
    claimed_at = sqlc.arg('now')
WHERE seq IN (
    SELECT w.seq FROM (
        SELECT d.seq, d.priority, d.run_at FROM outbox_events AS d INDEXED BY outbox_events_claim_order
        WHERE d.is_head AND d.status IN ('pending', 'failed')
        ORDER BY d.priority DESC, d.seq
        LIMIT sqlc.arg('window')
    ) AS w
    JOIN outbox_events AS e ON e.seq = w.seq
    WHERE w.run_at <= sqlc.arg('now')
      AND NOT EXISTS (SELECT 1 FROM outbox_pauses AS p WHERE p.event_type = '')
      AND e.event_type NOT IN (SELECT p.event_type FROM outbox_pauses AS p)
    ORDER BY w.priority DESC, w.seq
    LIMIT sqlc.arg('max_events')
)
RETURNING *;

-- name: ClaimDue :many
-- A claim's second try, when the window of ClaimInOrder held too few due
-- heads (heads waiting for a retry fill the start of the claim order):
-- every due head, through outbox_events_due, sorted into claim order. That
-- costs what the due heads number, few in that case. Events whose type an
-- operator paused are skipped.
UPDATE outbox_events
SET status = 'processing',
    attempts = attempts + 1,
    lease_owner = sqlc.arg('owner'),
    lease_token = sqlc.arg('token'),
    lease_until = sqlc.arg('lease_until'),
    updated_at = sqlc.arg('now'),
    claimed_at = sqlc.arg('now')
WHERE seq IN (
    SELECT d.seq FROM outbox_events AS d INDEXED BY outbox_events_due
    WHERE d.is_head AND d.status IN ('pending', 'failed') AND d.run_at <= sqlc.arg('now')
      AND NOT EXISTS (SELECT 1 FROM outbox_pauses AS p WHERE p.event_type = '')
      AND d.event_type NOT IN (SELECT p.event_type FROM outbox_pauses AS p)
    ORDER BY d.priority DESC, d.seq
    LIMIT sqlc.arg('max_events')
)
RETURNING *;

-- name: LastDeliveryClaimedAt :one
-- When the latest delivery's event was claimed, or 0: a claimed event's
-- failure is held against it only if another event was delivered by a
-- request sent after its previous failure, and a delivery claimed before
-- the failure may have been answered after it. One step down a partial
-- index.
SELECT CAST(coalesce((SELECT claimed_at FROM outbox_events WHERE status = 'completed' ORDER BY completed_at DESC LIMIT 1), 0) AS INTEGER) AS claimed_at;

-- name: LastDeathAt :one
-- When the latest event to go dead failed, or 0: with no delivery claimed
-- since, a dropped request after an answered ping is not held against a
-- claimed event (see outbox.Pinger). One step down a partial index.
SELECT CAST(coalesce(max(failed_at), 0) AS INTEGER) AS failed_at FROM outbox_events WHERE status = 'dead';

-- name: Complete :many
-- Records the deliveries of sqlc.arg('leases'), a JSON object of lease
-- tokens by event id, in one statement (one per event cost more than the
-- claim). Each event is looked up by id: CROSS JOIN keeps the leases the
-- outer loop and the unary + keeps SQLite off outbox_events_leased, or it
-- may read every leased event for each lease. Fenced: only a row still leased under the same token, lease
-- unexpired. A completed event keeps no last error; its attempt log keeps
-- the failures.
UPDATE outbox_events
SET status = 'completed', is_head = 0,
    lease_owner = NULL, lease_token = NULL, lease_until = NULL, last_error = NULL,
    completed_at = sqlc.arg('now'), updated_at = sqlc.arg('now')
WHERE seq IN (
    SELECT e.seq FROM json_each(CAST(sqlc.arg('leases') AS TEXT)) AS l
    CROSS JOIN outbox_events AS e ON e.id = l.key
    WHERE e.lease_token = l.value AND e.status = 'processing' AND +e.lease_until > sqlc.arg('now')
)
RETURNING id, ordering_key, seq;

-- name: Retry :execrows
-- Each failed attempt is appended to the event's attempt log, whose oldest
-- entry goes once it holds 10 (see migration 0007).
UPDATE outbox_events
SET status = 'failed',
    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
    run_at = sqlc.arg('run_at'), last_error = sqlc.arg('last_error'),
    attempt_log = json_insert(CASE WHEN json_array_length(attempt_log) >= 10 THEN json_remove(attempt_log, '$[0]') ELSE attempt_log END, '$[#]',
        json_object('t', sqlc.arg('now'), 'n', attempts, 'o', 'retry', 'c', nullif(sqlc.arg('failed_class'), ''), 's', nullif(CAST(sqlc.arg('status_code') AS INTEGER), 0), 'r', substr(sqlc.arg('last_error'), 1, 160))),
    failed_at = sqlc.arg('now'), failed_class = sqlc.arg('failed_class'), counted_class = sqlc.arg('failed_class'), in_progress = 0,
    updated_at = sqlc.arg('now')
WHERE id = sqlc.arg('id') AND lease_token = sqlc.arg('token') AND status = 'processing'
  AND lease_until > sqlc.arg('now');

-- name: Release :execrows
-- The attempt is given back: the backend never saw the request, or nothing
-- shows yet that the failure was the event's. A release the backend may have
-- seen (reached) is counted, and dates the failure unless it only said the
-- event was in progress (dated).
UPDATE outbox_events
SET status = CASE WHEN attempts > 1 OR CAST(sqlc.arg('dated') AS INTEGER) = 1 OR failed_at IS NOT NULL THEN 'failed' ELSE 'pending' END,
    attempts = attempts - 1,
    releases = releases + sqlc.arg('reached'),
    failed_at = CASE WHEN CAST(sqlc.arg('dated') AS INTEGER) = 1 THEN sqlc.arg('now') ELSE failed_at END,
    failed_class = CASE WHEN CAST(sqlc.arg('dated') AS INTEGER) = 1 THEN sqlc.arg('failed_class') ELSE failed_class END,
    in_progress = CASE WHEN CAST(sqlc.arg('dated') AS INTEGER) = 1 THEN 0 ELSE in_progress + sqlc.arg('reached') END,
    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
    run_at = sqlc.arg('run_at'), last_error = sqlc.arg('last_error'),
    attempt_log = json_insert(CASE WHEN json_array_length(attempt_log) >= 10 THEN json_remove(attempt_log, '$[0]') ELSE attempt_log END, '$[#]',
        json_object('t', sqlc.arg('now'), 'n', attempts, 'o', 'release', 'c', nullif(sqlc.arg('failed_class'), ''), 's', nullif(CAST(sqlc.arg('status_code') AS INTEGER), 0), 'r', substr(sqlc.arg('last_error'), 1, 160))),
    updated_at = sqlc.arg('now')
WHERE id = sqlc.arg('id') AND lease_token = sqlc.arg('token') AND status = 'processing'
  AND lease_until > sqlc.arg('now');

-- name: Kill :one
UPDATE outbox_events
SET status = 'dead', is_head = 0,
    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
    last_error = sqlc.arg('last_error'),
    attempt_log = json_insert(CASE WHEN json_array_length(attempt_log) >= 10 THEN json_remove(attempt_log, '$[0]') ELSE attempt_log END, '$[#]',
        json_object('t', sqlc.arg('now'), 'n', attempts, 'o', 'dead', 'c', nullif(sqlc.arg('failed_class'), ''), 's', nullif(CAST(sqlc.arg('status_code') AS INTEGER), 0), 'r', substr(sqlc.arg('last_error'), 1, 160))),
    failed_at = sqlc.arg('now'), failed_class = sqlc.arg('failed_class'), counted_class = sqlc.arg('failed_class'), in_progress = 0,
    updated_at = sqlc.arg('now')
WHERE id = sqlc.arg('id') AND lease_token = sqlc.arg('token') AND status = 'processing'
  AND lease_until > sqlc.arg('now')
RETURNING ordering_key, seq;

-- name: PromoteNext :execrows
-- Gives each key whose head finished or was discarded its next head;
-- sqlc.arg('heads') lists them as a JSON array of [key, seq of the head],
-- each key in hexadecimal: JSON text must be valid UTF-8, and a key need
-- not be. The next head is the key's first unfinished row after the old
-- one, or its oldest revived unfinished event, whichever is older. The
-- first row after a head is unfinished (see migration 0015) unless the head
-- was revived; then the rows delivered since it are stepped over, once. The
-- CASE reads the key index once per head: revived events are rare, and
-- their index small.
UPDATE outbox_events
SET is_head = 1
WHERE seq IN (
    SELECT CASE WHEN f.revived_seq IS NULL THEN f.next_seq ELSE min(coalesce(f.next_seq, f.revived_seq), f.revived_seq) END FROM (
        SELECT
            (SELECT n.seq FROM outbox_events AS n INDEXED BY outbox_events_key
             WHERE n.ordering_key = h.ordering_key AND n.seq > h.seq
               AND n.status IN ('pending', 'processing', 'failed')
             ORDER BY n.seq LIMIT 1) AS next_seq,
            (SELECT r.seq FROM outbox_events AS r INDEXED BY outbox_events_revived
             WHERE r.ordering_key = h.ordering_key AND r.revived
               AND r.status IN ('pending', 'processing', 'failed')
             ORDER BY r.seq LIMIT 1) AS revived_seq
        FROM (SELECT CAST(unhex(json_extract(value, '$[0]')) AS TEXT) AS ordering_key, json_extract(value, '$[1]') AS seq
              FROM json_each(CAST(sqlc.arg('heads') AS TEXT))) AS h
    ) AS f
)
  AND NOT is_head;

-- name: ReclaimExpired :many
-- The attempt is given back (the processor died, not necessarily the
-- delivery) and the failure dated. The expiry is counted only if another
-- event was delivered by a request sent after the event's previous failure
-- (last_delivery_claimed, see LastDeliveryClaimedAt),
-- as any failure is held against an event; an event whose counted expiries
-- reach the limit is what keeps killing its processors, and goes dead.
UPDATE outbox_events
SET status = CASE
        WHEN lease_expiries + (failed_at IS NOT NULL AND failed_at < sqlc.arg('last_delivery_claimed')) >= sqlc.arg('max_expiries') THEN 'dead'
        ELSE 'failed' END,
    is_head = lease_expiries + (failed_at IS NOT NULL AND failed_at < sqlc.arg('last_delivery_claimed')) < sqlc.arg('max_expiries'),
    attempts = attempts - 1,
    lease_expiries = lease_expiries + (failed_at IS NOT NULL AND failed_at < sqlc.arg('last_delivery_claimed')),
    releases = releases + 1,
    failed_at = sqlc.arg('now'), failed_class = 'unanswered', in_progress = 0,
    lease_owner = NULL, lease_token = NULL, lease_until = NULL,
    run_at = sqlc.arg('now'),
    last_error = 'lease expired: the processor stopped or stalled during delivery',
    attempt_log = json_insert(CASE WHEN json_array_length(attempt_log) >= 10 THEN json_remove(attempt_log, '$[0]') ELSE attempt_log END, '$[#]',
        json_object('t', sqlc.arg('now'), 'n', attempts, 'o', 'expired', 'c', 'unanswered', 's', NULL, 'r', 'lease expired: the processor stopped or stalled during delivery')),
    updated_at = sqlc.arg('now')
WHERE status = 'processing' AND lease_until <= sqlc.arg('now')
RETURNING id, ordering_key, status, seq;

-- name: NextDue :one
-- Paused events are not due: a processor would otherwise wake for them and
-- claim nothing, again and again.
SELECT run_at FROM outbox_events AS d
WHERE d.is_head AND d.status IN ('pending', 'failed')
  AND NOT EXISTS (SELECT 1 FROM outbox_pauses AS p WHERE p.event_type = '')
  AND d.event_type NOT IN (SELECT p.event_type FROM outbox_pauses AS p)
ORDER BY d.run_at LIMIT 1;

-- name: PurgeCompleted :execrows
DELETE FROM outbox_events
WHERE seq IN (
    SELECT c.seq FROM outbox_events AS c
    WHERE c.status = 'completed' AND c.completed_at < sqlc.arg('before')
    LIMIT sqlc.arg('max_events')
);

-- name: CountWaiting :many
-- Stats reads the waiting and the dead events through their partial
-- indexes, and the completed ones from the counts triggers keep.
SELECT event_type, status, count(*) AS events, CAST(min(created_at) AS INTEGER) AS oldest
FROM outbox_events
WHERE status IN ('pending', 'processing', 'failed')
GROUP BY event_type, status;

-- name: CountDead :many
-- The first condition is the partial index's, which SQLite uses only when
-- the query names it.
SELECT event_type, count(*) AS events FROM outbox_events
WHERE status IN ('failed', 'dead') AND status = 'dead'
GROUP BY event_type;

-- name: CountCompleted :many
SELECT event_type, events FROM outbox_completed WHERE events > 0;

-- name: ListEvents :many
SELECT * FROM outbox_events
WHERE (sqlc.narg('status') IS NULL OR status = sqlc.narg('status'))
  AND (sqlc.narg('event_type') IS NULL OR event_type = sqlc.narg('event_type'))
  AND (sqlc.narg('user_id') IS NULL OR user_id = sqlc.narg('user_id'))
  AND (sqlc.narg('created_before') IS NULL OR created_at < sqlc.narg('created_before'))
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
WHERE status IN ('failed', 'dead') AND status = 'dead'
GROUP BY user_id, status;

-- name: GetEvent :one
SELECT * FROM outbox_events WHERE id = sqlc.arg('id');

-- An operator's retry is a fresh start: attempts and the failure record are
-- cleared, so nothing from before is held against the event.
-- name: RequeueFailed :exec
UPDATE outbox_events SET status = 'pending', attempts = 0, lease_expiries = 0, releases = 0, failed_at = NULL, failed_class = NULL, counted_class = NULL, in_progress = 0, run_at = sqlc.arg('now'), updated_at = sqlc.arg('now')
WHERE id = sqlc.arg('id');

-- name: RequeueDead :exec
-- A revived event is flagged: it rejoins its key where it was, behind
-- finished events (see migration 0015).
UPDATE outbox_events
SET status = 'pending', attempts = 0, lease_expiries = 0, releases = 0, failed_at = NULL, failed_class = NULL, counted_class = NULL, in_progress = 0,
    is_head = sqlc.arg('is_head'), revived = 1,
    run_at = sqlc.arg('now'), updated_at = sqlc.arg('now')
WHERE id = sqlc.arg('id');

-- name: DeleteEvent :exec
DELETE FROM outbox_events WHERE id = sqlc.arg('id');

-- name: Heartbeat :exec
INSERT INTO outbox_processors (owner, host, pid, version, config, started_at, seen_at, expires_at, paused_since, pause_class, pause_reason, send_limit, in_flight)
VALUES (sqlc.arg('owner'), sqlc.arg('host'), sqlc.arg('pid'), sqlc.arg('version'), sqlc.arg('config'),
    sqlc.arg('now'), sqlc.arg('now'), sqlc.arg('expires_at'),
    sqlc.narg('paused_since'), sqlc.narg('pause_class'), sqlc.narg('pause_reason'), sqlc.arg('send_limit'), sqlc.arg('in_flight'))
ON CONFLICT (owner) DO UPDATE
SET config = excluded.config, seen_at = excluded.seen_at, expires_at = excluded.expires_at,
    paused_since = excluded.paused_since, pause_class = excluded.pause_class, pause_reason = excluded.pause_reason,
    send_limit = excluded.send_limit, in_flight = excluded.in_flight;

-- name: ForgetDeadProcessors :exec
-- Rows of processors that died are kept a day after their last heartbeat,
-- for operators to see, then forgotten.
DELETE FROM outbox_processors WHERE expires_at < sqlc.arg('before');

-- name: DeleteProcessor :exec
DELETE FROM outbox_processors WHERE owner = sqlc.arg('owner');

-- name: ListProcessors :many
SELECT owner, host, pid, version, config, started_at, seen_at, expires_at, paused_since, pause_class, pause_reason, send_limit, in_flight
FROM outbox_processors ORDER BY started_at, owner;

-- name: CountExpiredLeases :one
SELECT count(*) FROM outbox_events WHERE status = 'processing' AND lease_until <= sqlc.arg('now');

-- Queries of the web console (runtime/console): pages of events by keyset,
-- counts of a filtered set, and recent activity per minute.

-- name: ListPage :many
-- One status at a time, oldest first, after a (created_at, id) key.
SELECT * FROM outbox_events
WHERE status = sqlc.arg('status')
  AND (created_at > sqlc.arg('after_created_at') OR (created_at = sqlc.arg('after_created_at') AND id > sqlc.arg('after_id')))
  AND (sqlc.narg('event_type') IS NULL OR event_type = sqlc.narg('event_type'))
  AND (sqlc.narg('user_id') IS NULL OR user_id = sqlc.narg('user_id'))
  AND (sqlc.narg('created_before') IS NULL OR created_at < sqlc.narg('created_before'))
ORDER BY created_at, id
LIMIT sqlc.arg('max_events');

-- name: ListFailedOrDeadPage :many
-- ListPage for failed or dead events, the console's first view: the
-- literal status IN list lets SQLite, which plans before it sees the
-- arguments, read the partial index of migration 0010 in page order.
SELECT * FROM outbox_events
WHERE status IN ('failed', 'dead') AND status = sqlc.arg('status')
  AND (created_at > sqlc.arg('after_created_at') OR (created_at = sqlc.arg('after_created_at') AND id > sqlc.arg('after_id')))
  AND (sqlc.narg('event_type') IS NULL OR event_type = sqlc.narg('event_type'))
  AND (sqlc.narg('user_id') IS NULL OR user_id = sqlc.narg('user_id'))
  AND (sqlc.narg('created_before') IS NULL OR created_at < sqlc.narg('created_before'))
ORDER BY created_at, id
LIMIT sqlc.arg('max_events');

-- name: ListCompletedPage :many
-- ListPage for completed events, ordered by completion time: the partial
-- index retention reads (outbox_events_completed) gives them in page order,
-- so a page costs the same at any depth.
SELECT * FROM outbox_events
WHERE status = 'completed'
  AND (completed_at > sqlc.arg('after_completed_at') OR (completed_at = sqlc.arg('after_completed_at') AND id > sqlc.arg('after_id')))
  AND (sqlc.narg('event_type') IS NULL OR event_type = sqlc.narg('event_type'))
  AND (sqlc.narg('user_id') IS NULL OR user_id = sqlc.narg('user_id'))
  AND (sqlc.narg('created_before') IS NULL OR created_at < sqlc.narg('created_before'))
ORDER BY completed_at, id
LIMIT sqlc.arg('max_events');

-- name: CountFiltered :one
SELECT count(*) FROM outbox_events
WHERE (sqlc.narg('status') IS NULL OR status = sqlc.narg('status'))
  AND (sqlc.narg('event_type') IS NULL OR event_type = sqlc.narg('event_type'))
  AND (sqlc.narg('user_id') IS NULL OR user_id = sqlc.narg('user_id'))
  AND (sqlc.narg('created_before') IS NULL OR created_at < sqlc.narg('created_before'));

-- name: DeliveredPerMinute :many
SELECT CAST(completed_at / 60000000 AS INTEGER) * 60000000 AS minute, count(*) AS events
FROM outbox_events
WHERE status = 'completed' AND completed_at >= sqlc.arg('since')
GROUP BY 1 ORDER BY 1;

-- name: FailedPerMinute :many
-- An event keeps only its latest failure (failed_at), so this counts the
-- events whose latest failure fell in each minute, whatever became of them.
SELECT CAST(failed_at / 60000000 AS INTEGER) * 60000000 AS minute, count(*) AS events
FROM outbox_events
WHERE failed_at >= sqlc.arg('since')
GROUP BY 1 ORDER BY 1;

-- name: PauseDelivery :exec
INSERT INTO outbox_pauses (event_type, paused_by, reason, paused_at)
VALUES (sqlc.arg('event_type'), sqlc.arg('paused_by'), sqlc.arg('reason'), sqlc.arg('now'))
ON CONFLICT (event_type) DO UPDATE SET paused_by = excluded.paused_by, reason = excluded.reason;

-- name: ResumeDelivery :many
-- An empty event type lifts every pause.
DELETE FROM outbox_pauses
WHERE CAST(sqlc.arg('event_type') AS TEXT) = '' OR event_type = sqlc.arg('event_type')
RETURNING event_type, paused_by, reason, paused_at;

-- name: ListPauses :many
SELECT event_type, paused_by, reason, paused_at FROM outbox_pauses ORDER BY event_type;

-- name: CountMatching :one
-- Bulk repairs and counts select events by statuses, type, user, enqueue
-- time and completion time; a NULL filter matches everything. Lists of
-- statuses and ids are JSON arrays: sqlc.slice numbers the parameters after
-- it wrongly.
SELECT count(*) FROM outbox_events
WHERE status IN (SELECT value FROM json_each(CAST(sqlc.arg('statuses') AS TEXT)))
  AND (sqlc.narg('event_type') IS NULL OR event_type = sqlc.narg('event_type'))
  AND (sqlc.narg('user_id') IS NULL OR user_id = sqlc.narg('user_id'))
  AND (sqlc.narg('created_before') IS NULL OR created_at < sqlc.narg('created_before'))
  AND (sqlc.narg('completed_before') IS NULL OR completed_at < sqlc.narg('completed_before'));

-- name: RepairCandidates :many
-- The next batch of a bulk retry or discard, oldest first, after the last
-- one (seq is the rowid, so each batch reads on from where the last ended).
-- Events being delivered (processing under a live lease) are left out.
SELECT id, ordering_key, status, seq, is_head FROM outbox_events
WHERE seq > sqlc.arg('after')
  AND status IN (SELECT value FROM json_each(CAST(sqlc.arg('statuses') AS TEXT)))
  AND (sqlc.narg('event_type') IS NULL OR event_type = sqlc.narg('event_type'))
  AND (sqlc.narg('user_id') IS NULL OR user_id = sqlc.narg('user_id'))
  AND (sqlc.narg('created_before') IS NULL OR created_at < sqlc.narg('created_before'))
  AND (sqlc.narg('completed_before') IS NULL OR completed_at < sqlc.narg('completed_before'))
  AND NOT (status = 'processing' AND lease_until > sqlc.arg('now'))
ORDER BY seq
LIMIT sqlc.arg('max_events');

-- name: RequeueMatching :exec
-- An operator's retry of many events, a fresh start for each as in
-- RequeueFailed and RequeueDead; dead events rejoin their keys revived and
-- not as heads, and SetHead then makes the oldest revived event of a key
-- that had no unfinished event its head.
UPDATE outbox_events
SET status = 'pending', attempts = 0, lease_expiries = 0, releases = 0, failed_at = NULL, failed_class = NULL, counted_class = NULL, in_progress = 0,
    is_head = is_head AND status <> 'dead', revived = revived OR status = 'dead',
    run_at = sqlc.arg('now'), updated_at = sqlc.arg('now')
WHERE id IN (SELECT value FROM json_each(CAST(sqlc.arg('ids') AS TEXT)));

-- name: DeleteEvents :exec
DELETE FROM outbox_events WHERE id IN (SELECT value FROM json_each(CAST(sqlc.arg('ids') AS TEXT)));

-- name: PurgeMatching :execrows
DELETE FROM outbox_events
WHERE seq IN (
    SELECT c.seq FROM outbox_events AS c
    WHERE c.status = 'completed'
      AND (sqlc.narg('event_type') IS NULL OR c.event_type = sqlc.narg('event_type'))
      AND (sqlc.narg('user_id') IS NULL OR c.user_id = sqlc.narg('user_id'))
      AND (sqlc.narg('created_before') IS NULL OR c.created_at < sqlc.narg('created_before'))
      AND (sqlc.narg('completed_before') IS NULL OR c.completed_at < sqlc.narg('completed_before'))
    LIMIT sqlc.arg('max_events')
);

-- name: SetHead :exec
UPDATE outbox_events SET is_head = 1 WHERE id = sqlc.arg('id');
