// Package sqliteinbox keeps a receiver's memory in an SQLite file
// (modernc.org/sqlite, pure Go): the answer given to each idempotency key
// and each entity's highest applied version, as pginbox does on PostgreSQL.
// Its Store implements inbox.Store[*sql.Tx], for a receiver in one process
// whose application keeps its own data in the same file (the fitness
// example's demo backend does), and for tests.
//
// One connection writes, so transactions run one at a time: Claim need not
// lock anything, since no other transaction of the file runs meanwhile, and
// a repeat that arrives while its key is being processed in this process
// is answered 409 by the handler. Several processes may share the file,
// but then a repeat waits for the first request's commit instead of being
// answered 409, and gets its answer.
//
//go:generate go tool sqlc generate
package sqliteinbox

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/inbox"
	"github.com/outboxgen/outboxgen/runtime/inbox/sqliteinbox/internal/sqlitedb"
	"github.com/outboxgen/outboxgen/runtime/internal/storekit"
)

//go:embed migrations/*.sql schema/migrations_table.sql
var sqlFiles embed.FS

// Component names the inbox's migrations in outboxgen_migrations.
const Component = "inbox"

// Store is a receiver's memory in an SQLite file.
type Store struct {
	db  *sql.DB
	q   *sqlitedb.Queries
	now func() time.Time
}

var _ inbox.Store[*sql.Tx] = (*Store)(nil)

// Open opens (creating if needed, with mode 0600: it holds health data)
// the SQLite file at path, in WAL mode, with one connection that begins
// its transactions IMMEDIATE.
func Open(ctx context.Context, path string) (*Store, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqliteinbox: open %s: %w", path, err)
	}
	f.Close()
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + url.Values{
		"_pragma": {"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)"},
		"_txlock": {"immediate"},
	}.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqliteinbox: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqliteinbox: open %s: %w", path, err)
	}
	return &Store{db: db, q: sqlitedb.New(db), now: time.Now}, nil
}

// DB returns the store's database, for the application's reads. Write
// through InTx.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Migrate creates or upgrades the inbox's tables. It is idempotent.
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
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return nil, nil, nil, err
		}
		commit := func(context.Context) error { return tx.Commit() }
		rollback := func(context.Context) { _ = tx.Rollback() }
		return &migrateTx{tx: tx, q: s.q.WithTx(tx), bootstrap: string(bootstrap), now: s.now().UnixMicro()}, commit, rollback, nil
	})
	return err
}

type migrateTx struct {
	tx        *sql.Tx
	q         *sqlitedb.Queries
	bootstrap string
	now       int64
}

// Prepare needs no lock: the transaction began IMMEDIATE, holding SQLite's
// write lock.
func (m *migrateTx) Prepare(ctx context.Context) error {
	_, err := m.tx.ExecContext(ctx, m.bootstrap)
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
	_, err := m.tx.ExecContext(ctx, sql)
	return err
}

func (m *migrateTx) Record(ctx context.Context, component string, mig outbox.Migration) error {
	return m.q.RecordMigration(ctx, sqlitedb.RecordMigrationParams{
		Component: component, Version: int64(mig.Version), MigrationName: mig.Name, Now: m.now,
	})
}

// InTx runs fn in a transaction and commits it when fn returns nil.
func (s *Store) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Claim takes every key: the transaction holds the file's write lock, so
// no other transaction runs until it ends.
func (s *Store) Claim(_ context.Context, _ *sql.Tx, keys []string) ([]bool, error) {
	claimed := make([]bool, len(keys))
	for i := range claimed {
		claimed[i] = true
	}
	return claimed, nil
}

// Recall looks the keys up, counting a replay for each one stored with the
// same fingerprint.
func (s *Store) Recall(ctx context.Context, tx *sql.Tx, keys []inbox.Key) ([]inbox.Recalled, error) {
	q := s.q.WithTx(tx)
	out := make([]inbox.Recalled, len(keys))
	for i, k := range keys {
		r, err := q.GetKey(ctx, k.Key)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		same := string(r.Fingerprint) == string(k.Fingerprint)
		if same {
			if err := q.CountReplay(ctx, k.Key); err != nil {
				return nil, err
			}
		}
		out[i] = inbox.Recalled{Found: true, Same: same, Answer: inbox.Answer{Status: int(r.Status), BackendID: r.BackendID, Applied: r.Applied}}
	}
	return out, nil
}

// Advance moves each entity in turn.
func (s *Store) Advance(ctx context.Context, tx *sql.Tx, entities []inbox.Entity) ([]inbox.Advanced, error) {
	q := s.q.WithTx(tx)
	now := s.now().UnixMicro()
	out := make([]inbox.Advanced, len(entities))
	for i, e := range entities {
		id, err := q.Advance(ctx, sqlitedb.AdvanceParams{
			Metric: e.Metric, EntityID: e.ID.String(), UserID: e.UserID, Version: e.Version,
			Deleted: e.Deleted, BackendID: e.BackendID, Now: now,
		})
		switch {
		case err == nil:
			out[i] = inbox.Advanced{Advanced: true, First: id == e.BackendID, BackendID: id, UserID: e.UserID}
			continue
		case !errors.Is(err, sql.ErrNoRows):
			return nil, err
		}
		stored, err := q.GetEntity(ctx, sqlitedb.GetEntityParams{Metric: e.Metric, EntityID: e.ID.String()})
		if err != nil {
			return nil, fmt.Errorf("entity %s %s: %w", e.Metric, e.ID, err)
		}
		out[i] = inbox.Advanced{BackendID: stored.BackendID, UserID: stored.UserID}
	}
	return out, nil
}

// Remember stores the answers.
func (s *Store) Remember(ctx context.Context, tx *sql.Tx, records []inbox.Record) error {
	q := s.q.WithTx(tx)
	now := s.now().UnixMicro()
	for _, r := range records {
		err := q.Remember(ctx, sqlitedb.RememberParams{
			Key: r.Key, Fingerprint: r.Fingerprint, Metric: r.Metric, EntityID: r.EntityID.String(),
			Status: int64(r.Answer.Status), BackendID: r.Answer.BackendID, Applied: r.Answer.Applied, Now: now,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// purgeBatch is how many keys one statement of Purge deletes.
const purgeBatch = 5000

// Purge deletes the records of keys received more than retention ago and
// returns how many it deleted; entities' versions are kept (see
// pginbox.Store.Purge).
func (s *Store) Purge(ctx context.Context, retention time.Duration) (int64, error) {
	if retention <= 0 {
		return 0, errors.New("sqliteinbox: Purge: the retention must be positive")
	}
	before := s.now().Add(-retention).UnixMicro()
	var total int64
	for {
		n, err := s.q.PurgeKeys(ctx, sqlitedb.PurgeKeysParams{Before: before, MaxRows: purgeBatch})
		total += n
		if err != nil {
			return total, fmt.Errorf("sqliteinbox: purge keys: %w", err)
		}
		if n < purgeBatch {
			return total, nil
		}
	}
}
