-- Applied schema migrations, per component: "outbox" for the runtime's own
-- tables, and one component per generated metrics package.
CREATE TABLE IF NOT EXISTS outboxgen_migrations (
    component  text        NOT NULL,
    version    integer     NOT NULL,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
);
