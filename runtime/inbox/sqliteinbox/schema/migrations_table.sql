-- Applied schema migrations, per component: "outbox" for the runtime's own
-- tables, and one component per generated metrics package.
CREATE TABLE IF NOT EXISTS outboxgen_migrations (
    component  TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL,
    PRIMARY KEY (component, version)
);
