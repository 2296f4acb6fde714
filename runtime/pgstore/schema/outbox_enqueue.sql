-- What sqlc needs to type the call to outbox_enqueue: its signature. sqlc
-- cannot read the real definition, which migration 0009 creates through
-- dynamic SQL (to fix the tables' schema in its search_path). Only sqlc
-- reads this file.
CREATE FUNCTION outbox_enqueue(
    p_id uuid, p_event_type text, p_aggregate text, p_aggregate_id text, p_user_id text,
    p_ordering_key text, p_is_new_record boolean, p_entity_version bigint, p_payload json,
    p_metadata json, p_priority integer, p_max_attempts integer, p_run_at timestamptz, p_now timestamptz)
RETURNS void LANGUAGE sql AS $$ SELECT $$;
