package demo

import (
	"context"
	"fmt"

	"github.com/outboxgen/outboxgen/examples/fitness/metrics"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
)

// Store is the example's database: the outbox and the metric tables, on
// SQLite or PostgreSQL.
type Store struct {
	Outbox  outbox.Store
	Metrics *metrics.Metrics
	// Where says where the data lives, for people.
	Where string
	close func()
}

// OpenStore opens and migrates the store: PostgreSQL when databaseURL is
// set, else the SQLite file at sqlitePath.
func OpenStore(ctx context.Context, sqlitePath, databaseURL string) (*Store, error) {
	if databaseURL != "" {
		s, err := pgstore.Open(ctx, databaseURL, 10)
		if err != nil {
			return nil, err
		}
		st := &Store{Outbox: s, Metrics: metrics.NewPostgres(s), Where: "PostgreSQL", close: s.Close}
		return st, st.migrate(ctx, s.Migrate)
	}
	s, err := sqlitestore.Open(ctx, sqlitePath)
	if err != nil {
		return nil, err
	}
	st := &Store{Outbox: s, Metrics: metrics.NewSQLite(s), Where: "SQLite file " + sqlitePath, close: func() { s.Close() }}
	return st, st.migrate(ctx, s.Migrate)
}

func (s *Store) migrate(ctx context.Context, outboxMigrate func(context.Context) error) error {
	if err := outboxMigrate(ctx); err != nil {
		s.Close()
		return fmt.Errorf("migrate the outbox: %w", err)
	}
	if err := s.Metrics.Migrate(ctx); err != nil {
		s.Close()
		return fmt.Errorf("migrate the metric tables: %w", err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() { s.close() }
