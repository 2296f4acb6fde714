-- The application's one way into the outbox: outbox_enqueue adds a new,
-- pending, unleased event with no attempts, and does the per-key
-- bookkeeping. It runs with its owner's rights (SECURITY DEFINER), so the
-- application's role needs no privilege on outbox_events or outbox_keys:
-- it cannot read events, change them once enqueued, forge their state or
-- bend the key counts. The function's search_path names the tables' schema,
-- pg_temp last, so that no one can put a table of their own in front of
-- them; only the owner may call it until a role is granted EXECUTE (see
-- docs/postgres-roles.sql).
DO $migration$
BEGIN
EXECUTE format($create$
CREATE FUNCTION outbox_enqueue(
    p_id uuid, p_event_type text, p_aggregate text, p_aggregate_id text, p_user_id text,
    p_ordering_key text, p_is_new_record boolean, p_entity_version bigint, p_payload json,
    p_metadata json, p_priority integer, p_max_attempts integer, p_run_at timestamptz, p_now timestamptz)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = %I, pg_temp
AS $body$
DECLARE
    unfinished_now integer;
    t timestamptz := coalesce(p_now, now());
BEGIN
    IF p_priority IS NULL OR p_priority NOT BETWEEN 1 AND 10 THEN
        RAISE EXCEPTION 'outbox_enqueue: priority %% is out of range; use 1 to 10', p_priority USING ERRCODE = '22023';
    END IF;
    IF p_max_attempts IS NULL OR p_max_attempts < 1 THEN
        RAISE EXCEPTION 'outbox_enqueue: max_attempts %% must be at least 1', p_max_attempts USING ERRCODE = '22023';
    END IF;
    -- The key row is locked by the upsert, so concurrent enqueues of one key
    -- serialise and exactly one of them sees the count go to 1 and is the head.
    INSERT INTO outbox_keys (ordering_key, unfinished) VALUES (p_ordering_key, 1)
    ON CONFLICT (ordering_key) DO UPDATE SET unfinished = outbox_keys.unfinished + 1
    RETURNING unfinished INTO unfinished_now;
    INSERT INTO outbox_events (
        id, event_type, aggregate, aggregate_id, user_id, ordering_key, is_new_record,
        entity_version, payload, metadata, priority, status, is_head, attempts,
        max_attempts, run_at, created_at, updated_at)
    VALUES (
        p_id, p_event_type, p_aggregate, p_aggregate_id, p_user_id, p_ordering_key, p_is_new_record,
        p_entity_version, p_payload, p_metadata, p_priority, 'pending', unfinished_now = 1, 0,
        p_max_attempts, coalesce(p_run_at, t), t, t);
END
$body$
$create$, current_schema());
END
$migration$;

REVOKE ALL ON FUNCTION outbox_enqueue(uuid, text, text, text, text, text, boolean, bigint, json, json, integer, integer, timestamptz, timestamptz) FROM PUBLIC;
