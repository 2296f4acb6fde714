// Package pgstore is the PostgreSQL outbox store, built on pgx/v5 and pgxpool.
//
// It is safe for many processors in many processes sharing one database:
// claims take rows with FOR UPDATE SKIP LOCKED, so processors never wait on
// each other's claims, and processors learn about new events through
// LISTEN/NOTIFY rather than by polling.
//
// Its queries live in queries.sql and migrations/, and are turned into typed
// Go by sqlc (go generate ./runtime/...).
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/internal/storekit"
	"github.com/outboxgen/outboxgen/runtime/internal/wake"
	"github.com/outboxgen/outboxgen/runtime/pgstore/internal/pgdb"
)

//go:generate go tool sqlc generate

//go:embed migrations/*.sql schema/migrations_table.sql
var sqlFiles embed.FS

// Component is the name under which the outbox's own migrations are recorded.
const Component = "outbox"

// DefaultChannel is the LISTEN/NOTIFY channel used unless WithChannel says otherwise.
const DefaultChannel = "outboxgen_events"

// DeliveredHook runs in the transaction that completes a delivered event.
// Returning an error rolls that completion back; the event is retried.
type DeliveredHook func(ctx context.Context, tx pgx.Tx, d outbox.Delivery) error

// DeliveredBatchHook is a DeliveredHook for every delivered event of one
// type in a recorded batch at once, so that it can update
// them all with one statement instead of a round trip each. Returning an
// error rolls the batch's completions back; they are then recorded one at
// a time, the hook called with one delivery each, so that only the events
// whose hook fails alone are retried.
type DeliveredBatchHook func(ctx context.Context, tx pgx.Tx, ds []outbox.Delivery) error

// Store is the PostgreSQL outbox. Create it with New or Open and call
// Migrate before first use. It implements outbox.Store.
type Store struct {
	pool       *pgxpool.Pool
	ownsPool   bool
	q          *pgdb.Queries
	clock      func() time.Time
	maxPayload int
	channel    string
	log        *slog.Logger

	local    wake.Hub
	notifier notifier

	hooksMu sync.RWMutex
	hooks   map[string]DeliveredBatchHook
}

// Option configures a Store.
type Option func(*Store)

// WithClock makes the store read time from now instead of the database's
// clock. Tests use it to move time without sleeping; production should not.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.clock = now } }

// WithMaxPayloadBytes bounds event payloads at enqueue (default
// outbox.DefaultMaxPayloadBytes).
func WithMaxPayloadBytes(n int) Option { return func(s *Store) { s.maxPayload = n } }

// WithChannel sets the LISTEN/NOTIFY channel (default DefaultChannel).
func WithChannel(name string) Option { return func(s *Store) { s.channel = name } }

// WithLogger sets where the store logs connection trouble (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// New returns a store on an existing pool. Close does not close the pool.
// Set the pool's AfterConnect to PrepareConn for the binary uuid encoding
// that Open's pools use. The pool's query exec mode must ask the server for
// parameter types (not exec or simple_protocol), as Open requires.
func New(pool *pgxpool.Pool, opts ...Option) *Store {
	s := &Store{
		pool:       pool,
		q:          pgdb.New(pool),
		maxPayload: outbox.DefaultMaxPayloadBytes,
		channel:    DefaultChannel,
		log:        slog.Default(),
		hooks:      make(map[string]DeliveredBatchHook),
	}
	for _, o := range opts {
		o(s)
	}
	s.notifier = notifier{pool: pool, channel: s.channel, origin: uuid.NewString(), log: s.log}
	return s
}

// Open connects to the database at url (a postgres:// URL or a libpq
// keyword string) with a pool of maxConns connections (0 means 10).
// Close closes the pool.
func Open(ctx context.Context, url string, maxConns int, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: parse database url: %w", err)
	}
	if err := checkExecMode(cfg.ConnConfig.DefaultQueryExecMode); err != nil {
		return nil, err
	}
	if maxConns <= 0 {
		maxConns = 10
	}
	cfg.MaxConns = int32(maxConns)
	cfg.AfterConnect = PrepareConn
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connect to %s: %w", cfg.ConnConfig.Host, err)
	}
	s := New(pool, opts...)
	s.ownsPool = true
	return s, nil
}

// checkExecMode refuses the query exec modes in which pgx picks parameter
// types from Go values instead of asking the server (exec and
// simple_protocol): there a payload, a []byte, goes to a json parameter as
// bytea text, and every enqueue fails with "invalid input syntax for type
// json". Refused at Open, with what to use instead, rather than at the
// first save.
func checkExecMode(m pgx.QueryExecMode) error {
	var name string // as the URL spells it; m.String() does not
	switch m {
	case pgx.QueryExecModeExec:
		name = "exec"
	case pgx.QueryExecModeSimpleProtocol:
		name = "simple_protocol"
	default:
		return nil
	}
	return fmt.Errorf("pgstore: default_query_exec_mode=%s is not supported: the store's statements need their parameter types from the server; use cache_statement (the default), cache_describe or describe_exec", name)
}

// Pool returns the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close waits for pending notifications and closes the pool if Open made it.
func (s *Store) Close() {
	s.notifier.close()
	if s.ownsPool {
		s.pool.Close()
	}
}

// Migrate creates or upgrades the outbox tables. It is idempotent and safe
// to run from several processes at once.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := outbox.LoadMigrations(sqlFiles, "migrations")
	if err != nil {
		return err
	}
	_, err = s.ApplyMigrations(ctx, Component, ms)
	return err
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
		tx, err := s.pool.BeginTx(ctx, readCommitted)
		if err != nil {
			return nil, nil, nil, err
		}
		rollback := func(ctx context.Context) { _ = tx.Rollback(ctx) }
		return &migrateTx{tx: tx, q: s.q.WithTx(tx), bootstrap: string(bootstrap)}, tx.Commit, rollback, nil
	})
}

// migrationLock is the advisory lock key that serialises migrators.
const migrationLock = 0x6f7574626f78 // "outbox"

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

// Enqueue adds ev to the outbox inside tx, the caller's transaction: the
// event exists exactly when the caller's own changes commit. It returns the
// event with its defaults filled in (ID, ordering key, priority, attempts).
//
// Processors in this process learn of the event when InTx commits or when
// Notify is called after the caller's own commit; otherwise the poll finds it.
func (s *Store) Enqueue(ctx context.Context, tx pgx.Tx, ev outbox.Event) (outbox.Event, error) {
	return s.enqueue(ctx, tx, ev)
}

// enqueue runs the Enqueue statement on db: a transaction, or a batch that
// will run in one.
func (s *Store) enqueue(ctx context.Context, db pgdb.DBTX, ev outbox.Event) (outbox.Event, error) {
	ev, err := outbox.Prepare(ev, s.maxPayload)
	if err != nil {
		return outbox.Event{}, err
	}
	meta, err := outbox.EncodeMetadata(ev.Metadata)
	if err != nil {
		return outbox.Event{}, err
	}
	var runAt *time.Time
	if !ev.RunAt.IsZero() {
		runAt = &ev.RunAt
	}
	err = pgdb.New(db).Enqueue(ctx, pgdb.EnqueueParams{
		ID:            ev.ID,
		EventType:     ev.Type,
		Aggregate:     ev.Aggregate,
		AggregateID:   ev.AggregateID,
		UserID:        ev.UserID,
		OrderingKey:   ev.OrderingKey,
		IsNewRecord:   ev.IsNewRecord,
		EntityVersion: ev.EntityVersion,
		Payload:       ev.Payload,
		Metadata:      meta,
		Priority:      int32(ev.Priority),
		MaxAttempts:   int32(ev.MaxAttempts),
		RunAt:         runAt,
		Now:           s.now(),
	})
	if err != nil {
		return outbox.Event{}, fmt.Errorf("enqueue %s: %w", ev.Type, err)
	}
	return ev, nil
}

// InTx runs fn in a transaction, commits it when fn returns nil, and then
// wakes processors. It is how generated repositories write.
func (s *Store) InTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if err := pgx.BeginTxFunc(ctx, s.pool, readCommitted, fn); err != nil {
		return err
	}
	s.Notify()
	return nil
}

// Write runs fn in a transaction, enqueues the event fn returns in that
// same transaction, commits, and wakes processors. Generated repositories
// write through it, so none of their writes can commit without its event.
//
// fn gets a Querier, not a pgx.Tx, so that the statements travel in as few
// round trips as they can: BEGIN goes with fn's first statement, and the
// enqueue with COMMIT. If the enqueue fails, the server skips the COMMIT and
// the transaction is rolled back. To run anything else in an outbox
// transaction (savepoints, COPY), use InTx with Enqueue.
func (s *Store) Write(ctx context.Context, fn func(q Querier) (outbox.Event, error)) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection is pooled again only when it is outside a transaction;
	// pgxpool closes one released mid-transaction.
	defer conn.Release()
	tx := &lazyTx{conn: conn.Conn()}
	committed := false
	defer func() {
		if tx.begun && !committed {
			_, _ = tx.conn.Exec(ctx, "ROLLBACK")
		}
	}()
	ev, err := fn(tx)
	if err != nil {
		return err
	}
	var b pgx.Batch
	if !tx.begun {
		tx.begun = true
		b.Queue(beginReadCommitted)
	}
	if ev, err = s.enqueue(ctx, batchQueue{&b}, ev); err != nil {
		return err
	}
	b.Queue("COMMIT")
	if err := tx.conn.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("enqueue %s and commit: %w", ev.Type, err)
	}
	committed = true
	s.Notify()
	return nil
}

// Querier runs statements in Write's transaction: what sqlc's generated
// queries need (their DBTX interface), and no more.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// lazyTx is Write's transaction: it begins with its first statement, sent
// together with BEGIN.
type lazyTx struct {
	conn  *pgx.Conn
	begun bool
}

// begin sends BEGIN and the first statement in one round trip, and returns
// with BEGIN's result read.
func (t *lazyTx) begin(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	t.begun = true
	var b pgx.Batch
	b.Queue(beginReadCommitted)
	b.Queue(sql, args...)
	br := t.conn.SendBatch(ctx, &b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return nil, err
	}
	return br, nil
}

func (t *lazyTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.begun {
		return t.conn.Exec(ctx, sql, args...)
	}
	br, err := t.begin(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

func (t *lazyTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.begun {
		return t.conn.Query(ctx, sql, args...)
	}
	br, err := t.begin(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

func (t *lazyTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.begun {
		return t.conn.QueryRow(ctx, sql, args...)
	}
	br, err := t.begin(ctx, sql, args)
	if err != nil {
		return errRow{err}
	}
	return batchRow{row: br.QueryRow(), br: br}
}

// batchRow is a row read from a batch; scanning it also ends the batch,
// which frees the connection.
type batchRow struct {
	row pgx.Row
	br  pgx.BatchResults
}

func (r batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

// batchRows are rows read from a batch; closing them also ends the batch.
type batchRows struct {
	pgx.Rows
	br     pgx.BatchResults
	closed bool
	err    error
}

func (r *batchRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	r.err = r.br.Close()
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

// batchQueue is a pgdb.DBTX that queues statements in a batch instead of
// running them. It serves statements that return no rows.
type batchQueue struct{ b *pgx.Batch }

func (q batchQueue) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	q.b.Queue(sql, args...)
	return pgconn.CommandTag{}, nil
}

func (batchQueue) Query(context.Context, string, ...any) (pgx.Rows, error) {
	return nil, errors.New("pgstore: a batched statement cannot return rows")
}

func (batchQueue) QueryRow(context.Context, string, ...any) pgx.Row {
	return errRow{errors.New("pgstore: a batched statement cannot return rows")}
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// ApplySchema brings the tables of a generated metrics package up to date:
// it runs ddl (CREATE … IF NOT EXISTS statements) and adds each listed
// column its table lacks. It never drops or changes anything, and
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
		return fmt.Errorf("apply schema: %w", err)
	}
	return nil
}

// Notify wakes processors: those in this process at once, others through
// NOTIFY (sent after the caller's commit, coalesced, never inside it, so
// writers do not serialise on the notification queue). Call it after
// committing a transaction that enqueued events without InTx.
func (s *Store) Notify() {
	s.local.Notify()
	s.notifier.kick()
}

// OnDelivered registers hook to run, for every delivered event of
// eventType, in the transaction that marks it completed. A later
// registration for the same type, by OnDelivered or OnDeliveredBatch,
// replaces the earlier one.
func (s *Store) OnDelivered(eventType string, hook DeliveredHook) {
	s.OnDeliveredBatch(eventType, func(ctx context.Context, tx pgx.Tx, ds []outbox.Delivery) error {
		for _, d := range ds {
			if err := hook(ctx, tx, d); err != nil {
				return err
			}
		}
		return nil
	})
}

// OnDeliveredBatch registers hook to run, for the delivered events of
// eventType in each recorded batch, in the transaction that marks them
// completed. Generated code registers its hooks this way. A later
// registration for the same type replaces the earlier one.
func (s *Store) OnDeliveredBatch(eventType string, hook DeliveredBatchHook) {
	s.hooksMu.Lock()
	defer s.hooksMu.Unlock()
	s.hooks[eventType] = hook
}

func (s *Store) hook(eventType string) DeliveredBatchHook {
	s.hooksMu.RLock()
	defer s.hooksMu.RUnlock()
	return s.hooks[eventType]
}

// now is the time parameter of every query: nil lets the database decide.
func (s *Store) now() *time.Time {
	if s.clock == nil {
		return nil
	}
	t := s.clock()
	return &t
}

// IsNoRows reports whether err means a query found no row.
func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
