package pginbox

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/inbox/pginbox/internal/pgdb"
	"github.com/outboxgen/outboxgen/runtime/internal/storekit"
)

// migrationLock is the advisory lock that serialises migrators: the one
// the outbox's store takes, since both record their migrations in
// outboxgen_migrations.
const migrationLock = 0x6f7574626f78 // "outbox"

// Migrate creates or upgrades the inbox's tables. It is idempotent and safe
// to run from several processes at once.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := outbox.LoadMigrations(sqlFiles, "migrations")
	if err != nil {
		return err
	}
	bootstrap, err := sqlFiles.ReadFile("schema/migrations_table.sql")
	if err != nil {
		return err
	}
	_, err = storekit.Migrate(ctx, Component, ms, func(ctx context.Context) (storekit.MigrateTx, func(context.Context) error, func(context.Context), error) {
		tx, err := s.pool.BeginTx(ctx, readCommitted)
		if err != nil {
			return nil, nil, nil, err
		}
		rollback := func(ctx context.Context) { _ = tx.Rollback(ctx) }
		return &migrateTx{tx: tx, q: s.q.WithTx(tx), bootstrap: string(bootstrap)}, tx.Commit, rollback, nil
	})
	return err
}

type migrateTx struct {
	tx        pgx.Tx
	q         *pgdb.Queries
	bootstrap string
}

func (m *migrateTx) Prepare(ctx context.Context) error {
	if _, err := m.tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
		return err
	}
	_, err := m.tx.Exec(ctx, m.bootstrap)
	return err
}

func (m *migrateTx) Applied(ctx context.Context, component string) ([]int, error) {
	vs, err := m.q.AppliedMigrations(ctx, component)
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i] = int(v)
	}
	return out, err
}

func (m *migrateTx) Exec(ctx context.Context, sql string) error {
	_, err := m.tx.Exec(ctx, sql)
	return err
}

func (m *migrateTx) Record(ctx context.Context, component string, mig outbox.Migration) error {
	return m.q.RecordMigration(ctx, pgdb.RecordMigrationParams{Component: component, Version: int32(mig.Version), MigrationName: mig.Name})
}

// ApplySchema brings the tables of a generated receiver's default storage
// up to date: it runs ddl (CREATE … IF NOT EXISTS statements) and adds each
// listed column its table lacks. It never drops or changes anything, and
// concurrent callers take turns.
func (s *Store) ApplySchema(ctx context.Context, ddl string, columns []outbox.Column) error {
	err := pgx.BeginTxFunc(ctx, s.pool, readCommitted, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, ddl); err != nil {
			return err
		}
		for _, c := range columns {
			stmt := fmt.Sprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s",
				pgx.Identifier{c.Table}.Sanitize(), pgx.Identifier{c.Name}.Sanitize(), c.Definition)
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("add column %s.%s: %w", c.Table, c.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pginbox: apply schema: %w", err)
	}
	return nil
}
