// Package pginbox keeps a receiver's memory in PostgreSQL: the answer given
// to each idempotency key (table inbox_keys, purged after a retention) and
// each entity's highest applied version (inbox_entities, kept for good).
// Its Store implements inbox.Store[pgx.Tx]; several receivers, in several
// processes, may share one database.
//
// A key is claimed with a transaction-scoped advisory lock
// (pg_try_advisory_xact_lock, class LockClass, on hashtext(key)): a
// repeat that arrives while the first request is still being processed,
// by any receiver, finds the lock taken and is answered 409 at once, and a
// receiver that dies mid-request releases its locks with its connection.
// PostgreSQL keeps advisory locks in its shared lock table
// (max_locks_per_transaction × max_connections entries), which is why the
// handler takes at most 64 keys per transaction.
//
//go:generate go tool sqlc generate
package pginbox

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outboxgen/outboxgen/runtime/inbox"
	"github.com/outboxgen/outboxgen/runtime/inbox/pginbox/internal/pgdb"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
)

//go:embed migrations/*.sql schema/migrations_table.sql
var sqlFiles embed.FS

// Component names the inbox's migrations in outboxgen_migrations.
const Component = "inbox"

// LockClass is the first key of the advisory locks that claim idempotency
// keys ("ib" in ASCII); the second is hashtext(key).
const LockClass = 0x6962

// DefaultRetention is how long Purge keeps the record of a key. Past it, a
// redelivery of the key is not answered from the record but checked
// against its entity's version again: it is acknowledged (200, the same
// backend id) and not applied, so no change is applied twice whatever the
// retention.
const DefaultRetention = 7 * 24 * time.Hour

// Store is a receiver's memory in PostgreSQL.
type Store struct {
	pool     *pgxpool.Pool
	q        *pgdb.Queries
	ownsPool bool
}

var _ inbox.Store[pgx.Tx] = (*Store)(nil)

// New returns a store on pool. Connections should send UUIDs in binary
// (pgxpool.Config.AfterConnect = pgstore.PrepareConn), as Open's do.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, q: pgdb.New(pool)}
}

// Open connects to the database at url (a postgres:// URL or a libpq
// keyword string) with a pool of maxConns connections (0 means 10). Close
// closes the pool.
func Open(ctx context.Context, url string, maxConns int) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pginbox: parse database url: %w", err)
	}
	if maxConns <= 0 {
		maxConns = 10
	}
	cfg.MaxConns = int32(maxConns)
	cfg.AfterConnect = pgstore.PrepareConn
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pginbox: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pginbox: connect to %s: %w", cfg.ConnConfig.Host, err)
	}
	s := New(pool)
	s.ownsPool = true
	return s, nil
}

// Pool returns the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool if Open made it.
func (s *Store) Close() {
	if s.ownsPool {
		s.pool.Close()
	}
}

// readCommitted is the isolation of every transaction of the store,
// whatever the database's default: claims and version checks rely on
// seeing what others committed.
var readCommitted = pgx.TxOptions{IsoLevel: pgx.ReadCommitted}

// InTx runs fn in a READ COMMITTED transaction and commits it when fn
// returns nil.
func (s *Store) InTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, readCommitted, fn)
}

// Claim takes each key with an advisory lock held until tx ends.
func (s *Store) Claim(ctx context.Context, tx pgx.Tx, keys []string) ([]bool, error) {
	claimed, err := s.q.WithTx(tx).Claim(ctx, pgdb.ClaimParams{LockClass: LockClass, Keys: keys})
	if err == nil && len(claimed) != len(keys) {
		err = fmt.Errorf("%d claims for %d keys", len(claimed), len(keys))
	}
	return claimed, err
}

// Recall looks the keys up, counting a replay for each one stored with the
// same fingerprint.
func (s *Store) Recall(ctx context.Context, tx pgx.Tx, keys []inbox.Key) ([]inbox.Recalled, error) {
	q := s.q.WithTx(tx)
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Key
	}
	rows, err := q.Recall(ctx, names)
	if err != nil {
		return nil, err
	}
	found := make(map[string]pgdb.RecallRow, len(rows))
	for _, r := range rows {
		found[r.Key] = r
	}
	out := make([]inbox.Recalled, len(keys))
	var replayed []string
	for i, k := range keys {
		r, ok := found[k.Key]
		if !ok {
			continue
		}
		same := bytes.Equal(r.Fingerprint, k.Fingerprint)
		if same {
			replayed = append(replayed, k.Key)
		}
		out[i] = inbox.Recalled{Found: true, Same: same, Answer: inbox.Answer{Status: int(r.Status), BackendID: r.BackendID, Applied: r.Applied}}
	}
	if len(replayed) > 0 {
		if err := q.CountReplays(ctx, replayed); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// entityKey identifies an entity.
type entityKey struct {
	metric string
	id     uuid.UUID
}

// Advance moves the entities in one statement, then reads those it did not
// move.
func (s *Store) Advance(ctx context.Context, tx pgx.Tx, entities []inbox.Entity) ([]inbox.Advanced, error) {
	q := s.q.WithTx(tx)
	p := pgdb.AdvanceParams{}
	for _, e := range entities {
		p.Metrics = append(p.Metrics, e.Metric)
		p.EntityIds = append(p.EntityIds, e.ID)
		p.UserIds = append(p.UserIds, e.UserID)
		p.Versions = append(p.Versions, e.Version)
		p.Deleted = append(p.Deleted, e.Deleted)
		p.BackendIds = append(p.BackendIds, e.BackendID)
	}
	moved, err := q.Advance(ctx, p)
	if err != nil {
		return nil, err
	}
	backendIDs := make(map[entityKey]string, len(moved))
	for _, r := range moved {
		backendIDs[entityKey{r.Metric, r.EntityID}] = r.BackendID
	}
	out := make([]inbox.Advanced, len(entities))
	var staleIDs []uuid.UUID
	for i, e := range entities {
		if id, ok := backendIDs[entityKey{e.Metric, e.ID}]; ok {
			out[i] = inbox.Advanced{Advanced: true, First: id == e.BackendID, BackendID: id, UserID: e.UserID}
			continue
		}
		staleIDs = append(staleIDs, e.ID)
	}
	if len(staleIDs) == 0 {
		return out, nil
	}
	rows, err := q.Entities(ctx, staleIDs)
	if err != nil {
		return nil, err
	}
	stored := make(map[entityKey]pgdb.EntitiesRow, len(rows))
	for _, r := range rows {
		stored[entityKey{r.Metric, r.EntityID}] = r
	}
	for i, e := range entities {
		if out[i].Advanced {
			continue
		}
		r, ok := stored[entityKey{e.Metric, e.ID}]
		if !ok {
			return nil, fmt.Errorf("entity %s %s neither advanced nor stored", e.Metric, e.ID)
		}
		out[i] = inbox.Advanced{BackendID: r.BackendID, UserID: r.UserID}
	}
	return out, nil
}

// Remember stores the answers in one statement.
func (s *Store) Remember(ctx context.Context, tx pgx.Tx, records []inbox.Record) error {
	p := pgdb.RememberParams{}
	for _, r := range records {
		p.Keys = append(p.Keys, r.Key)
		p.Fingerprints = append(p.Fingerprints, r.Fingerprint)
		p.Metrics = append(p.Metrics, r.Metric)
		p.EntityIds = append(p.EntityIds, r.EntityID)
		p.Statuses = append(p.Statuses, int16(r.Answer.Status))
		p.BackendIds = append(p.BackendIds, r.Answer.BackendID)
		p.Applied = append(p.Applied, r.Answer.Applied)
	}
	return s.q.WithTx(tx).Remember(ctx, p)
}

// purgeBatch is how many keys one statement of Purge deletes.
const purgeBatch = 5000

// Purge deletes the records of keys received more than retention ago (by
// the database's clock), a few thousand per statement, and returns how
// many it deleted. Entities' versions are kept: they are what keeps a
// redelivery after the retention from being applied twice. Run it
// periodically, e.g. hourly with DefaultRetention; several receivers may
// run it at once.
func (s *Store) Purge(ctx context.Context, retention time.Duration) (int64, error) {
	if retention <= 0 {
		return 0, errors.New("pginbox: Purge: the retention must be positive")
	}
	var total int64
	for {
		n, err := s.q.PurgeKeys(ctx, pgdb.PurgeKeysParams{RetentionSeconds: retention.Seconds(), MaxRows: purgeBatch})
		total += n
		if err != nil {
			return total, fmt.Errorf("pginbox: purge keys: %w", err)
		}
		if n < purgeBatch {
			return total, nil
		}
	}
}
