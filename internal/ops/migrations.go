package ops

import (
	"context"
	"fmt"
	"slices"

	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
)

// migration is one applied or pending step of the outbox's schema.
type migration struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
}

func (m migration) String() string { return fmt.Sprintf("%04d_%s", m.Version, m.Name) }

// outboxComponent is the name under which the stores record the outbox's
// own migrations (sqlitestore.Component, pgstore.Component).
const outboxComponent = sqlitestore.Component

// hasTables reports whether the outbox's tables exist. It needs no
// privilege on them, so it works for the processor's role too.
func (o *Outbox) hasTables(ctx context.Context) (bool, error) {
	q := "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'outbox_events'"
	if o.pg != nil {
		q = "SELECT count(*) FROM (SELECT to_regclass('outbox_events') AS t) r WHERE t IS NOT NULL"
	}
	var n int64
	err := o.query(ctx, q, func(scan func(...any) error) error { return scan(&n) })
	return n > 0, err
}

// checkMigrated returns an error saying how to create the outbox's tables
// when they do not exist yet, or how to bring them up to date when the
// database lacks migrations this binary carries (after an upgrade, the
// new binary's statements would fail on missing tables and columns). A
// database ahead of the binary is not refused, as a rolling upgrade
// migrates before the last old binary stops, but the returned warning
// says which migrations the binary does not know.
func (o *Outbox) checkMigrated(ctx context.Context, program string, t *target) (warning string, err error) {
	ok, err := o.hasTables(ctx)
	if err != nil {
		return "", fmt.Errorf("look for the outbox's tables in %s: %w", o.Where, err)
	}
	flag, as := "--db "+t.db, ""
	if o.pg != nil {
		flag, as = "--database-url …", " as the tables' owner"
	}
	if !ok {
		return "", fmt.Errorf("%s has no outbox tables yet: create them with \"%s migrate %s\"%s", o.Where, program, flag, as)
	}
	done, err := o.applied(ctx)
	if err != nil {
		// A role without SELECT on outboxgen_migrations (roles granted
		// before it was in docs/postgres-roles.sql): the statements'
		// own errors will have to say what is missing.
		return "", nil
	}
	all, err := known()
	if err != nil {
		return "", err
	}
	if missing := pending(all, done); len(missing) > 0 {
		return "", fmt.Errorf("%s lacks %d migration(s) this %s carries, %s first: apply them with \"%s migrate %s\"%s (see \"Upgrading\" in docs/OPERATIONS.md), or use the %s that matches the database",
			o.Where, len(missing), program, missing[0], program, flag, as, program)
	}
	return o.ahead(program, all, done), nil
}

// ahead returns a warning naming the migrations in done that all (the
// binary's) lacks, or "" when there are none.
func (o *Outbox) ahead(program string, all, done []migration) string {
	unknown := pending(done, all)
	if len(unknown) == 0 {
		return ""
	}
	return fmt.Sprintf("%s has %d migration(s) this %s does not carry, %s first: the %s is older than the database; upgrade it to the version that migrated the database (see \"Upgrading\" in docs/OPERATIONS.md)",
		o.Where, len(unknown), program, unknown[0], program)
}

// applied lists the outbox's migrations recorded in the database, oldest
// first; none when the bookkeeping table does not exist yet.
func (o *Outbox) applied(ctx context.Context) ([]migration, error) {
	exists := "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'outboxgen_migrations'"
	list := "SELECT version, name FROM outboxgen_migrations WHERE component = ? ORDER BY version"
	if o.pg != nil {
		exists = "SELECT count(*) FROM (SELECT to_regclass('outboxgen_migrations') AS t) r WHERE t IS NOT NULL"
		list = "SELECT version, name FROM outboxgen_migrations WHERE component = $1 ORDER BY version"
	}
	var n int64
	if err := o.query(ctx, exists, func(scan func(...any) error) error { return scan(&n) }); err != nil || n == 0 {
		return nil, err
	}
	var ms []migration
	err := o.query(ctx, list, func(scan func(...any) error) error {
		var m migration
		if err := scan(&m.Version, &m.Name); err != nil {
			return err
		}
		ms = append(ms, m)
		return nil
	}, outboxComponent)
	return ms, err
}

// known lists the outbox migrations this binary carries: the SQLite
// store's list, which the PostgreSQL store's has the same versions and
// names as (TestStoresKnowTheSameMigrations checks it).
func known() ([]migration, error) {
	ms, err := sqlitestore.Migrations()
	if err != nil {
		return nil, fmt.Errorf("list the binary's migrations: %w", err)
	}
	out := make([]migration, len(ms))
	for i, m := range ms {
		out[i] = migration{Version: m.Version, Name: m.Name}
	}
	return out, nil
}

// pending returns the migrations of all that are not in done; none is an
// empty list, which JSON shows as [].
func pending(all, done []migration) []migration {
	p := []migration{}
	for _, m := range all {
		if !slices.ContainsFunc(done, func(d migration) bool { return d.Version == m.Version }) {
			p = append(p, m)
		}
	}
	return p
}
