-- Least-privilege roles for outboxgen on PostgreSQL. docs/SECURITY.md
-- explains them; examples/fitness/metrics/privileges_test.go applies this
-- file and checks, as each role, that it can do its whole job and is
-- refused everything else listed in SECURITY.md's table.
--
-- Replace outboxgen_app, outboxgen_processor and outboxgen_operator with your roles,
-- and repeat the metric_weight lines for every metric table
-- (metric_<metric name>). Migrations (the store's Migrate, the generated
-- Metrics.Migrate, outboxgen migrate) run as the tables' owner, as none of
-- these roles.

-- The application saves entries and, in the same transaction, enqueues
-- their events through outbox_enqueue, its one way into the outbox: a new,
-- pending event, nothing else. It has no privilege on the outbox's tables.
GRANT SELECT, INSERT, UPDATE ON metric_weight TO outboxgen_app;
GRANT EXECUTE ON FUNCTION outbox_enqueue(uuid, text, text, text, text, text, boolean, bigint, json, json, integer, integer, timestamptz, timestamptz) TO outboxgen_app;

-- The processor claims events, reads their payloads to deliver them,
-- records outcomes (state columns only), purges completed events, keeps its
-- heartbeat, and marks delivered entries synced. It cannot enqueue, change
-- an event's content, or read or change what users recorded.
GRANT SELECT, DELETE ON outbox_events TO outboxgen_processor;
GRANT UPDATE (status, is_head, attempts, lease_owner, lease_token, lease_until, run_at, last_error,
    updated_at, completed_at, lease_expiries, releases, failed_at, failed_class, counted_class, in_progress,
    attempt_log, claimed_at) ON outbox_events TO outboxgen_processor;
GRANT SELECT, UPDATE, DELETE ON outbox_keys TO outboxgen_processor;
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox_processors TO outboxgen_processor;
-- Every claim skips the event types an operator paused.
GRANT SELECT ON outbox_pauses TO outboxgen_processor;
-- outboxgen run refuses a database behind its binary's migrations.
GRANT SELECT ON outboxgen_migrations TO outboxgen_processor;
GRANT SELECT (id, version, deleted_at, sync_status, backend_id), UPDATE (sync_status, backend_id) ON metric_weight TO outboxgen_processor;

-- The operator inspects the outbox (status, status --metric, processors,
-- list, show, which reads payloads, the web console) and repairs it: retry
-- (a fresh start for an event, which rejoins its key's queue), discard,
-- purge, pause and resume. It cannot
-- enqueue, change an event's content, forge a processor, or read or change
-- what users recorded.
GRANT SELECT, DELETE ON outbox_events TO outboxgen_operator;
GRANT UPDATE (status, is_head, attempts, run_at, updated_at, lease_expiries, releases, failed_at, failed_class,
    counted_class, in_progress) ON outbox_events TO outboxgen_operator;
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox_keys TO outboxgen_operator;
GRANT SELECT ON outbox_processors TO outboxgen_operator;
-- pause and resume: an operator's pause stops claims of an event type, or
-- of every type, until resumed.
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox_pauses TO outboxgen_operator;
-- The verbs refuse a database behind their binary's migrations.
GRANT SELECT ON outboxgen_migrations TO outboxgen_operator;
GRANT SELECT (deleted_at, sync_status) ON metric_weight TO outboxgen_operator;
