-- PostgreSQL's migration 0009 creates outbox_enqueue, the function through
-- which a least-privilege application role enqueues. SQLite has no roles
-- (whoever opens the file may do anything with it), so it has nothing to
-- do here; the version is kept so that both stores know the same
-- migrations, and `outboxgen migrate` reports them alike.
SELECT 1;
