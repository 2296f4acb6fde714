package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Every transaction the store begins runs at READ COMMITTED, whatever the
// database's default_transaction_isolation: the outbox's locking (key rows
// locked in key order, SKIP LOCKED claims, updates fenced by lease tokens)
// is built for it, and under REPEATABLE READ or SERIALIZABLE an enqueue of
// a key and the release of the same key by a processor fail each other with
// serialization errors (SQLSTATE 40001).
const beginReadCommitted = "BEGIN ISOLATION LEVEL READ COMMITTED"

// readCommitted begins the transactions of InTx, migrations, schema changes
// and operators' repairs.
var readCommitted = pgx.TxOptions{IsoLevel: pgx.ReadCommitted}

// processorTx begins a processor's transaction in one round trip. Its lock
// waits give up after 500 ms, shorter than PostgreSQL's default
// deadlock_timeout (1 s), so in a deadlock with an application's
// transaction (which may lock several keys in any order) the processor's
// side gives way and the application's commits. Its statements are planned
// for their actual arrays: a generic plan cannot see how many events a
// batch holds and may join them by a nested loop over the whole batch.
var processorTx = pgx.TxOptions{BeginQuery: beginReadCommitted + "; SET LOCAL lock_timeout = '500ms'; SET LOCAL plan_cache_mode = force_custom_plan"}

// statementTx is a pgdb.DBTX that runs one statement returning rows (a
// claim) in a transaction of its own at READ COMMITTED: BEGIN, the
// statement and COMMIT travel in one round trip. If the statement fails,
// the server skips the COMMIT, and the pool closes the connection it gets
// back mid-transaction.
type statementTx struct{ pool *pgxpool.Pool }

func (s statementTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	var b pgx.Batch
	b.Queue(beginReadCommitted)
	b.Queue(sql, args...)
	b.Queue("COMMIT")
	br := conn.SendBatch(ctx, &b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		conn.Release()
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		conn.Release()
		return nil, err
	}
	return &committedRows{Rows: rows, br: br, conn: conn}, nil
}

var errOneQuery = errors.New("pgstore: statementTx runs only queries that return rows")

func (statementTx) Exec(context.Context, string, ...any) (pgconn.CommandTag, error) {
	return pgconn.CommandTag{}, errOneQuery
}

func (statementTx) QueryRow(context.Context, string, ...any) pgx.Row { return errRow{errOneQuery} }

// committedRows are a statementTx's rows. Once the last row is read, or
// when they are closed, they read the COMMIT's result, so that Err reports
// a claim that did not commit (sqlc's code checks Err before it closes the
// rows), and give the connection back.
type committedRows struct {
	pgx.Rows
	br     pgx.BatchResults
	conn   *pgxpool.Conn
	closed bool
	err    error
}

func (r *committedRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *committedRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	r.err = r.br.Close()
	r.conn.Release()
}

func (r *committedRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}
