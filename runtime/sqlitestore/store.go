// Package sqlitestore is the embedded outbox store: one SQLite file, through
// the pure-Go driver modernc.org/sqlite, so it needs no server and no cgo.
//
// The file is opened in WAL mode with a busy timeout. Writes go through one
// connection, so they queue in Go instead of spinning on SQLite's lock;
// reads use a separate pool and never wait for writes. Several processes
// may share the file (an app and a processor, say): SQLite serialises their
// writes and leases fence their deliveries.
//
// Its queries live in queries.sql and migrations/, and are turned into typed
// Go by sqlc (go generate ./runtime/...).
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/internal/storekit"
	"github.com/outboxgen/outboxgen/runtime/internal/wake"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore/internal/sqlitedb"
)

//go:generate go tool sqlc generate

//go:embed migrations/*.sql schema/migrations_table.sql
var sqlFiles embed.FS

// Component is the name under which the outbox's own migrations are recorded.
const Component = "outbox"

// DeliveredHook runs in the transaction that completes a delivered event.
// Returning an error rolls that completion back; the event is retried.
// It must use tx, never the store's DB: the write connection is busy
// running the very transaction the hook is part of.
type DeliveredHook func(ctx context.Context, tx *sql.Tx, d outbox.Delivery) error

// Store is the SQLite outbox. Create it with Open and call Migrate before
// first use. It implements outbox.Store.
type Store struct {
	path  string
	write *sql.DB // one connection: every write transaction
	read  *sql.DB // readers, which WAL lets run beside the writer
	q     *sqlitedb.Queries
	// prepared holds the statements of the delivery path once prepared
	// (see delivery).
	prepared   atomic.Pointer[sqlitedb.Queries]
	clock      func() time.Time
	maxPayload int
	watchEvery time.Duration
	sync       string

	local wake.Hub
	// appTx counts the application's transactions (InTx) running or
	// waiting for the write connection: Finish records in smaller
	// transactions while there are any. A transaction begun elsewhere on
	// the file is not counted, and may wait behind a larger one (tens of
	// milliseconds on the benchmark machine).
	appTx atomic.Int64

	hooksMu sync.RWMutex
	hooks   map[string]DeliveredHook
}

// Option configures a Store.
type Option func(*Store)

// WithClock makes the store read time from now. Tests use it to move time
// without sleeping.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.clock = now } }

// WithMaxPayloadBytes bounds event payloads at enqueue (default
// outbox.DefaultMaxPayloadBytes).
func WithMaxPayloadBytes(n int) Option { return func(s *Store) { s.maxPayload = n } }

// WithWatchInterval sets how often a subscription checks the file for
// commits made by other processes (default 250 ms; 0 or less turns it off,
// leaving those commits to the processor's poll).
func WithWatchInterval(d time.Duration) Option { return func(s *Store) { s.watchEvery = d } }

// WithSynchronous sets SQLite's synchronous pragma: "FULL" (the default)
// makes every commit durable against power loss; "NORMAL" is faster and
// durable against a crash of the process, not of the machine.
func WithSynchronous(mode string) Option { return func(s *Store) { s.sync = mode } }

// Open opens (creating if needed, with mode 0600) the SQLite file at path.
// An existing file, and its -wal and -shm files, that other users may read
// are made private (mode 0600, or tighter); Open fails if they cannot be.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	s := &Store{
		path:       path,
		clock:      time.Now,
		maxPayload: outbox.DefaultMaxPayloadBytes,
		watchEvery: 250 * time.Millisecond,
		sync:       "FULL",
		hooks:      make(map[string]DeliveredHook),
	}
	for _, o := range opts {
		o(s)
	}
	switch s.sync {
	case "FULL", "NORMAL", "EXTRA", "OFF":
	default:
		return nil, fmt.Errorf("sqlitestore: synchronous mode %q: use FULL, NORMAL, EXTRA or OFF", s.sync)
	}
	// Create the file ourselves so that health data is never readable by
	// others, and tighten one that is.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	f.Close()
	if err := makePrivate(path); err != nil {
		return nil, err
	}

	if s.write, err = open(path, s.sync, "immediate"); err != nil {
		return nil, err
	}
	s.write.SetMaxOpenConns(1)
	if s.read, err = open(path, s.sync, "deferred"); err != nil {
		s.write.Close()
		return nil, err
	}
	s.read.SetMaxOpenConns(4)
	if err := s.write.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	// The WAL files exist now: another process may have made them.
	if err := makePrivate(path); err != nil {
		s.Close()
		return nil, err
	}
	s.q = sqlitedb.New(s.write)
	_ = s.prepare(ctx) // an outbox not migrated yet is prepared by Migrate
	return s, nil
}

// delivery returns the statements of the delivery path (claims and
// outcomes), prepared once on the write connection when the outbox's
// tables are current: SQLite takes longer to prepare such a statement than
// to run it, and preparing them at each use took 38 % of a drain's CPU.
// Until then, and for transactions of other connections, it returns the
// statements prepared at each use.
func (s *Store) delivery() *sqlitedb.Queries {
	if p := s.prepared.Load(); p != nil {
		return p
	}
	return s.q
}

// prepare prepares the store's statements on the write connection, unless
// they are or the outbox's tables lack migrations (their statements could
// not all be prepared).
func (s *Store) prepare(ctx context.Context) error {
	if s.prepared.Load() != nil {
		return nil
	}
	ms, err := Migrations()
	if err != nil {
		return err
	}
	applied, err := s.q.AppliedMigrations(ctx, Component)
	if err != nil || len(applied) < len(ms) {
		return nil // no bookkeeping table yet, or migrations to apply
	}
	p, err := sqlitedb.Prepare(ctx, s.write)
	if err != nil {
		return fmt.Errorf("sqlitestore: prepare the statements: %w", err)
	}
	if !s.prepared.CompareAndSwap(nil, p) {
		_ = p.Close()
	}
	return nil
}

func open(path, syncMode, txlock string) (*sql.DB, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + url.Values{
		"_pragma": {"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(" + syncMode + ")", "foreign_keys(1)"},
		"_txlock": {txlock},
	}.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	return db, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// DB returns the connection pool for reads. Write through InTx.
func (s *Store) DB() *sql.DB { return s.read }

// Close closes the database.
func (s *Store) Close() error {
	var closeStmts error
	if p := s.prepared.Load(); p != nil {
		closeStmts = p.Close()
	}
	return errors.Join(closeStmts, s.write.Close(), s.read.Close())
}

// Migrations returns the outbox's migrations that Migrate applies, in
// version order. The PostgreSQL store's have the same versions and names.
func Migrations() ([]outbox.Migration, error) {
	return outbox.LoadMigrations(sqlFiles, "migrations")
}

// Migrate creates or upgrades the outbox tables. It is idempotent.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	if _, err = s.ApplyMigrations(ctx, Component, ms); err != nil {
		return err
	}
	return s.prepare(ctx)
}

// ApplyMigrations applies the migrations of component that the database
// lacks and returns how many it applied. Generated metric packages use it
// for their own tables.
func (s *Store) ApplyMigrations(ctx context.Context, component string, ms []outbox.Migration) (int, error) {
	bootstrap, err := sqlFiles.ReadFile("schema/migrations_table.sql")
	if err != nil {
		return 0, err
	}
	return storekit.Migrate(ctx, component, ms, func(ctx context.Context) (storekit.MigrateTx, func(context.Context) error, func(context.Context), error) {
		tx, err := s.write.BeginTx(ctx, nil)
		if err != nil {
			return nil, nil, nil, err
		}
		commit := func(context.Context) error { return tx.Commit() }
		rollback := func(context.Context) { _ = tx.Rollback() }
		return &migrateTx{tx: tx, q: s.q.WithTx(tx), bootstrap: string(bootstrap), now: s.micros()}, commit, rollback, nil
	})
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

// Enqueue adds ev to the outbox inside tx, the caller's transaction: the
// event exists exactly when the caller's own changes commit. It returns the
// event with its defaults filled in (ID, ordering key, priority, attempts).
//
// tx must come from InTx (or from BeginTx on a *sql.DB opened on the same
// file); processors in this process learn of the event when InTx commits,
// or when Notify is called after the caller's own commit.
func (s *Store) Enqueue(ctx context.Context, tx *sql.Tx, ev outbox.Event) (outbox.Event, error) {
	ev, err := outbox.Prepare(ev, s.maxPayload)
	if err != nil {
		return outbox.Event{}, err
	}
	meta, err := outbox.EncodeMetadata(ev.Metadata)
	if err != nil {
		return outbox.Event{}, err
	}
	now := s.clock()
	if ev.RunAt.IsZero() {
		ev.RunAt = now
	}
	ev.CreatedAt, ev.UpdatedAt = now, now
	err = s.q.WithTx(tx).InsertEvent(ctx, sqlitedb.InsertEventParams{
		ID:            ev.ID.String(),
		EventType:     ev.Type,
		Aggregate:     ev.Aggregate,
		AggregateID:   ev.AggregateID,
		UserID:        ev.UserID,
		OrderingKey:   ev.OrderingKey,
		IsNewRecord:   ev.IsNewRecord,
		EntityVersion: ev.EntityVersion,
		Payload:       ev.Payload,
		Metadata:      sql.NullString{String: string(meta), Valid: meta != nil},
		Priority:      int64(ev.Priority),
		MaxAttempts:   int64(ev.MaxAttempts),
		RunAt:         micros(ev.RunAt),
		Now:           micros(now),
	})
	if err != nil {
		return outbox.Event{}, fmt.Errorf("enqueue %s: %w", ev.Type, err)
	}
	return ev, nil
}

// InTx runs fn in a write transaction, commits it when fn returns nil, and
// then wakes processors. It is how generated repositories write.
func (s *Store) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.appTx.Add(1)
	err := s.inTx(ctx, fn)
	s.appTx.Add(-1)
	if err != nil {
		return err
	}
	s.Notify()
	return nil
}

func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Write runs fn in a write transaction, enqueues the event fn returns in
// that same transaction, commits, and wakes processors. Generated
// repositories write through it, so none of their writes can commit
// without its event.
func (s *Store) Write(ctx context.Context, fn func(tx *sql.Tx) (outbox.Event, error)) error {
	return s.InTx(ctx, func(tx *sql.Tx) error {
		ev, err := fn(tx)
		if err != nil {
			return err
		}
		_, err = s.Enqueue(ctx, tx, ev)
		return err
	})
}

// ApplySchema brings the tables of a generated metrics package up to date:
// it runs ddl (CREATE … IF NOT EXISTS statements) and adds each listed
// column its table lacks. It never drops or changes anything.
func (s *Store) ApplySchema(ctx context.Context, ddl string, columns []outbox.Column) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, ddl); err != nil {
			return err
		}
		for _, c := range columns {
			var n int
			err := tx.QueryRowContext(ctx, "SELECT count(*) FROM pragma_table_info(?) WHERE name = ?", c.Table, c.Name).Scan(&n)
			if err != nil {
				return fmt.Errorf("column %s.%s: %w", c.Table, c.Name, err)
			}
			if n > 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, fmt.Sprintf(`ALTER TABLE "%s" ADD COLUMN "%s" %s`, c.Table, c.Name, c.Definition)); err != nil {
				return fmt.Errorf("add column %s.%s: %w", c.Table, c.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("apply schema: %w", err)
	}
	return nil
}

// Notify wakes processors in this process. Call it after committing a
// transaction that enqueued events without InTx. Processors in other
// processes notice commits by watching the file.
func (s *Store) Notify() { s.local.Notify() }

// OnDelivered registers hook to run, for every delivered event of
// eventType, in the transaction that marks it completed. A later
// registration for the same type replaces the earlier one.
func (s *Store) OnDelivered(eventType string, hook DeliveredHook) {
	s.hooksMu.Lock()
	defer s.hooksMu.Unlock()
	s.hooks[eventType] = hook
}

func (s *Store) hook(eventType string) DeliveredHook {
	s.hooksMu.RLock()
	defer s.hooksMu.RUnlock()
	return s.hooks[eventType]
}

func (s *Store) micros() int64 { return micros(s.clock()) }

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
