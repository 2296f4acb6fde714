package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/outboxgen/outboxgen/examples/fitness/metrics"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
)

const (
	groupSave    = "1. Save cost: 8 concurrent writers, fixed duration"
	groupSaveCPU = "1b. CPU per save during the same measurement"
)

// The save measurements.
var (
	mSavePlain  = def{"save.plain", groupSave, "PostgreSQL: plain single-row INSERT transaction", "tx/s", true}
	mSaveOurs   = def{"save.ours", groupSave, "PostgreSQL: generated SaveWeight (entity + outbox event)", "tx/s", true}
	mSaveRiver  = def{"save.river", groupSave, "PostgreSQL: entity INSERT + River InsertTx", "tx/s", true}
	mSaveSQLite = def{"save.sqlite", groupSave, "SQLite: generated SaveWeight (synchronous=FULL)", "tx/s", true}
)

// saveWriters is how many goroutines save at once.
const saveWriters = 8

// savePoolSize is the connection pool of every PostgreSQL save measurement.
const savePoolSize = 16

// entityDDL is metric_weight as the generated package creates it, so that
// the plain INSERT and River's transaction write the same row shape to the
// same kind of table as the generated Save.
const entityDDL = `
CREATE TABLE metric_weight (
    id          uuid        PRIMARY KEY,
    user_id     text        NOT NULL,
    recorded_at timestamptz NOT NULL,
    bucket      text        NOT NULL,
    kg          double precision,
    version     bigint      NOT NULL,
    backend_id  text,
    sync_status text        NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    deleted_at  timestamptz
);
CREATE UNIQUE INDEX metric_weight__bucket ON metric_weight (user_id, bucket) WHERE deleted_at IS NULL;
CREATE INDEX metric_weight__user_recorded ON metric_weight (user_id, recorded_at);`

// insertEntity is the plain INSERT of one weight entry.
const insertEntity = `INSERT INTO metric_weight (id, user_id, recorded_at, bucket, kg, version, sync_status, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, 1, 'pending', $6, $6)`

// saveOp performs writer w's i-th save.
type saveOp func(ctx context.Context, w, i int) error

// entryKey gives writer w's i-th save a (user, day) of its own, so that
// every save inserts (the weight metric keeps one entry per user per day).
func entryKey(w, i int) (user string, day time.Time) {
	const days = 3650
	base := time.Date(2000, 1, 1, 12, 0, 0, 0, time.UTC)
	return fmt.Sprintf("w%d-%d", w, i/days), base.AddDate(0, 0, i%days)
}

// saveResult is one save measurement.
type saveResult struct {
	Rate float64 // saves per second
	Done int64   // saves completed in the measured window
	CPU  cpuUse  // spent in the measured window
}

// cpuPerSave is the CPU, in microseconds, each save completed in the
// window cost in this process and in PostgreSQL.
func (r saveResult) cpuPerSave() (self, pg float64) {
	n := float64(max(r.Done, 1))
	return float64(r.CPU.Self.Microseconds()) / n, float64(r.CPU.Postgres.Microseconds()) / n
}

// runWriters runs op in saveWriters goroutines for warm + dur and returns
// the saves per second completed during dur, and the CPU they took.
func runWriters(ctx context.Context, warm, dur time.Duration, op saveOp) (saveResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		count    atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for w := range saveWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				if err := op(ctx, w, i); err != nil {
					if ctx.Err() == nil {
						errOnce.Do(func() { firstErr = fmt.Errorf("writer %d, save %d: %w", w, i, err) })
						cancel()
					}
					return
				}
				count.Add(1)
			}
		}()
	}
	sleep(ctx, warm)
	c0, t0, cpu0 := count.Load(), time.Now(), takeCPU()
	sleep(ctx, dur)
	c1, elapsed, cpu1 := count.Load(), time.Since(t0), takeCPU()
	cancel()
	wg.Wait()
	if firstErr != nil {
		return saveResult{}, firstErr
	}
	if err := ctx.Err(); err != nil && elapsed < dur {
		return saveResult{}, err
	}
	return saveResult{Rate: float64(c1-c0) / elapsed.Seconds(), Done: c1 - c0, CPU: cpu1.since(cpu0)}, nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// saves runs the save measurements once.
func (b *bench) saves(ctx context.Context) {
	b.measureSave(ctx, mSavePlain, b.savePlain, true)
	b.measureSave(ctx, mSaveOurs, b.saveOurs, true)
	b.measureSave(ctx, mSaveRole, b.saveAsAppRole, true)
	b.measureSave(ctx, mSaveRiver, b.saveRiver, true)
	b.measureSave(ctx, mSaveSQLite, b.saveSQLite, false)
}

// measureSave runs one save measurement and records its rate and its CPU
// per save (PostgreSQL's too, when pg is set).
func (b *bench) measureSave(ctx context.Context, d def, run func(context.Context) (saveResult, error), pg bool) {
	if ctx.Err() != nil {
		return
	}
	stopProfile, err := startProfile(b.profilePath(d.Key))
	if err != nil {
		b.res.fail(d.Name, err)
		return
	}
	res, err := run(ctx)
	stopProfile()
	if err != nil {
		b.res.fail(d.Name, err)
		return
	}
	b.res.add(d, res.Rate)
	goCPU, pgCPU := res.cpuPerSave()
	b.res.add(def{"cpu." + d.Key + ".go", groupSaveCPU, d.Name + ": Go process", "µs/tx", false}, goCPU)
	if pg {
		b.res.add(def{"cpu." + d.Key + ".pg", groupSaveCPU, d.Name + ": PostgreSQL", "µs/tx", false}, pgCPU)
	}
	b.logf("%s: %s tx/s (CPU per tx: Go %.0f µs, PostgreSQL %.0f µs)", d.Name, format(res.Rate, "tx/s"), goCPU, pgCPU)
}

// savePlain: BEGIN; INSERT one row; COMMIT.
func (b *bench) savePlain(ctx context.Context) (saveResult, error) {
	dbURL, done, err := b.srv.fresh(ctx, "save_plain", "")
	if err != nil {
		return saveResult{}, err
	}
	defer done()
	if err := execSQL(ctx, dbURL, entityDDL); err != nil {
		return saveResult{}, fmt.Errorf("create entity table: %w", err)
	}
	pool, err := openPool(ctx, dbURL, savePoolSize)
	if err != nil {
		return saveResult{}, err
	}
	defer pool.Close()
	return runWriters(ctx, b.sizes.SaveWarm, b.sizes.SaveDur, func(ctx context.Context, w, i int) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			return insertWeight(ctx, tx, w, i)
		})
	})
}

// insertWeight inserts writer w's i-th entry with a plain INSERT.
func insertWeight(ctx context.Context, tx pgx.Tx, w, i int) error {
	user, day := entryKey(w, i)
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	_, err = tx.Exec(ctx, insertEntity, id, user, day, day.Format("2006-01-02"), 70.5, now)
	return err
}

// saveOurs: the generated SaveWeight on PostgreSQL.
func (b *bench) saveOurs(ctx context.Context) (saveResult, error) {
	return b.saveGenerated(ctx, "save_ours", "")
}

// saveGenerated runs the generated SaveWeight on a fresh database named
// after name, after running alter on it unless alter is "" (the what-ifs
// of -diagnose whatif).
func (b *bench) saveGenerated(ctx context.Context, name, alter string) (saveResult, error) {
	dbURL, done, err := b.srv.fresh(ctx, name, "")
	if err != nil {
		return saveResult{}, err
	}
	defer done()
	store, m, err := openMetricsPG(ctx, dbURL, savePoolSize)
	if err != nil {
		return saveResult{}, err
	}
	defer store.Close()
	if alter != "" {
		if _, err := store.Pool().Exec(ctx, alter); err != nil {
			return saveResult{}, fmt.Errorf("alter the schema: %w", err)
		}
	}
	return runWriters(ctx, b.sizes.SaveWarm, b.sizes.SaveDur, saveWeights(m))
}

// saveWeights is the save operation of the generated code: writer w's
// i-th weight entry through m.SaveWeight.
func saveWeights(m *metrics.Metrics) saveOp {
	return func(ctx context.Context, w, i int) error {
		user, day := entryKey(w, i)
		_, err := m.SaveWeight(ctx, metrics.WeightInput{UserID: user, RecordedAt: day, Kg: 70.5})
		return err
	}
}

// openMetricsPG opens a PostgreSQL outbox store, migrates it and the
// generated metric tables, and returns both.
func openMetricsPG(ctx context.Context, dbURL string, poolSize int) (*pgstore.Store, *metrics.Metrics, error) {
	store, err := pgstore.Open(ctx, dbURL, poolSize, pgstore.WithLogger(quiet))
	if err != nil {
		return nil, nil, err
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, nil, fmt.Errorf("migrate outbox: %w", err)
	}
	m := metrics.NewPostgres(store)
	if err := m.Migrate(ctx); err != nil {
		store.Close()
		return nil, nil, fmt.Errorf("migrate metrics: %w", err)
	}
	return store, m, nil
}

// saveRiver: the same entity INSERT plus River's InsertTx, in one
// transaction, through an insert-only River client.
func (b *bench) saveRiver(ctx context.Context) (saveResult, error) {
	dbURL, done, err := b.srv.fresh(ctx, "save_river", "")
	if err != nil {
		return saveResult{}, err
	}
	defer done()
	pool, err := openPool(ctx, dbURL, savePoolSize)
	if err != nil {
		return saveResult{}, err
	}
	defer pool.Close()
	if err := migrateRiver(ctx, pool); err != nil {
		return saveResult{}, err
	}
	if err := execSQL(ctx, dbURL, entityDDL); err != nil {
		return saveResult{}, fmt.Errorf("create entity table: %w", err)
	}
	client, err := newInsertOnlyRiver(pool)
	if err != nil {
		return saveResult{}, err
	}
	return runWriters(ctx, b.sizes.SaveWarm, b.sizes.SaveDur, func(ctx context.Context, w, i int) error {
		_, err := riverSave(ctx, pool, client, w, i)
		return err
	})
}

// riverSave inserts writer w's i-th entry and its River job in one
// transaction and returns the job's id.
func riverSave(ctx context.Context, pool *pgxpool.Pool, client *river.Client[pgx.Tx], w, i int) (int64, error) {
	var jobID int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		user, day := entryKey(w, i)
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		if _, err := tx.Exec(ctx, insertEntity, id, user, day, day.Format("2006-01-02"), 70.5, now); err != nil {
			return fmt.Errorf("insert entity: %w", err)
		}
		res, err := client.InsertTx(ctx, tx, weightArgs{PayloadVersion: 1, ID: id, UserID: user, RecordedAt: day, Kg: 70.5, Version: 1}, nil)
		if err != nil {
			return fmt.Errorf("river InsertTx: %w", err)
		}
		jobID = res.Job.ID
		return nil
	})
	return jobID, err
}

// saveSQLite: the generated SaveWeight on an SQLite file in a temporary
// directory, with the store's defaults (WAL, synchronous=FULL).
func (b *bench) saveSQLite(ctx context.Context) (saveResult, error) {
	dir, err := os.MkdirTemp("", "obbench-sqlite-*")
	if err != nil {
		return saveResult{}, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "bench.db"))
	if err != nil {
		return saveResult{}, err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return saveResult{}, fmt.Errorf("migrate outbox: %w", err)
	}
	m := metrics.NewSQLite(store)
	if err := m.Migrate(ctx); err != nil {
		return saveResult{}, fmt.Errorf("migrate metrics: %w", err)
	}
	return runWriters(ctx, b.sizes.SaveWarm, b.sizes.SaveDur, saveWeights(m))
}
