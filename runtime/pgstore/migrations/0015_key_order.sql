-- SQLite's migration 0015 replaces its table of keys (outbox_keys) with
-- the order of each key's rows. PostgreSQL keeps outbox_keys: its rows are
-- the locks that serialise concurrent enqueues, completions and repairs of
-- one key, which SQLite's single writer makes unnecessary. The version is
-- kept so that both stores know the same migrations, and `outboxgen
-- migrate` reports them alike.
SELECT 1;
