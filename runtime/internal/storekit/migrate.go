package storekit

import (
	"context"
	"fmt"
	"slices"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// MigrateTx is one store's statements for applying a migration.
type MigrateTx interface {
	// Prepare serialises concurrent migrators and creates the bookkeeping
	// table if it does not exist.
	Prepare(ctx context.Context) error
	// Applied lists the versions of component already applied.
	Applied(ctx context.Context, component string) ([]int, error)
	// Exec runs a migration's SQL.
	Exec(ctx context.Context, sql string) error
	// Record notes that a migration was applied.
	Record(ctx context.Context, component string, m outbox.Migration) error
}

// BeginMigrate starts a transaction for one migration.
type BeginMigrate func(ctx context.Context) (tx MigrateTx, commit func(context.Context) error, rollback func(context.Context), err error)

// Migrate applies the migrations of component that the database lacks, each
// in its own transaction, and returns how many it applied. Running it again,
// or from several processes at once, applies nothing twice.
func Migrate(ctx context.Context, component string, ms []outbox.Migration, begin BeginMigrate) (int, error) {
	applied := 0
	for _, m := range ms {
		done, err := migrateOne(ctx, component, m, len(ms), begin)
		if err != nil {
			return applied, fmt.Errorf("migrate %s %04d_%s: %w", component, m.Version, m.Name, err)
		}
		if done {
			applied++
		}
	}
	return applied, nil
}

func migrateOne(ctx context.Context, component string, m outbox.Migration, known int, begin BeginMigrate) (bool, error) {
	tx, commit, rollback, err := begin(ctx)
	if err != nil {
		return false, fmt.Errorf("begin: %w", err)
	}
	defer rollback(ctx)
	if err := tx.Prepare(ctx); err != nil {
		return false, fmt.Errorf("prepare: %w", err)
	}
	versions, err := tx.Applied(ctx, component)
	if err != nil {
		return false, fmt.Errorf("applied versions: %w", err)
	}
	if n := len(versions); n > 0 && versions[n-1] > known {
		return false, fmt.Errorf("the database is at version %d, newer than the %d this binary knows; upgrade the binary", versions[n-1], known)
	}
	if slices.Contains(versions, m.Version) {
		return false, nil
	}
	if err := tx.Exec(ctx, m.SQL); err != nil {
		return false, err
	}
	if err := tx.Record(ctx, component, m); err != nil {
		return false, fmt.Errorf("record: %w", err)
	}
	if err := commit(ctx); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	return true, nil
}
