package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/outboxgen/outboxgen/examples/fitness/metrics"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
)

// The SQLite measurements: the embedded store a phone or a small server
// runs. A backlog is enqueued once per size into a template file, which
// each measurement copies; the processor then drains it with a no-op
// sender, against the raw claim-and-complete loop on the same file
// settings (sqlitestore's: WAL, synchronous=FULL, immediate transactions).

const groupSQLite = "8. SQLite: no-op drains of a pre-filled backlog, against the raw claim-and-complete loop"

func sqliteDrainDef(cfg string, n int) def {
	return def{fmt.Sprintf("sqlite.drain.%s.%d", cfg, n), groupSQLite,
		fmt.Sprintf("outboxgen processor, %s, backlog of %s", sqliteConfigNames[cfg], thousands(int64(n))), "events/s", true}
}

func sqliteRawDef(batch, n int) def {
	return def{fmt.Sprintf("sqlite.raw.%d.%d", batch, n), groupSQLite,
		fmt.Sprintf("raw loop, claims of %d, backlog of %s", batch, thousands(int64(n))), "events/s", true}
}

var (
	mSQLiteBusySaves   = def{"sqlite.busy.saves", groupSQLite, "while draining: generated SaveWeight, 8 writers", "tx/s", true}
	mSQLiteBusyDrained = def{"sqlite.busy.drained", groupSQLite, "while saving: delivered by the default processor", "events/s", true}
	mSQLiteBusyLocked  = def{"sqlite.busy.locked", groupSQLite, `while draining: saves that failed with "database is locked"`, "errors", false}
)

// sqliteConfigs are the processor configurations the SQLite drains try.
var (
	sqliteConfigs = map[string]outbox.Config{
		"default": {},
		"1000":    {Concurrency: 1000, BatchSize: 1000},
	}
	sqliteConfigNames = map[string]string{
		"default": defaultLabel,
		"1000":    "Concurrency 1000, BatchSize 1000",
	}
)

// sqlites runs the SQLite measurements.
func (b *bench) sqlites(ctx context.Context) {
	dir, err := os.MkdirTemp("", "outboxgen-bench-sqlite-")
	if err != nil {
		b.res.fail("sqlite", err)
		return
	}
	defer os.RemoveAll(dir)
	sizes := b.sizes.SQLiteBacklogs
	mid := sizes[len(sizes)/2]
	templates := map[int]string{}
	for _, n := range sizes {
		path := filepath.Join(dir, fmt.Sprintf("template-%d.db", n))
		start := time.Now()
		if err := fillSQLite(ctx, path, n); err != nil {
			b.res.fail(fmt.Sprintf("sqlite: fill %d", n), err)
			return
		}
		b.logf("sqlite: enqueued %s events in %s", thousands(int64(n)), time.Since(start).Round(time.Millisecond))
		templates[n] = path
	}
	copyOf := func(n int) (string, error) {
		path := filepath.Join(dir, "drain.db")
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(path + suffix)
		}
		return path, copyFile(templates[n], path)
	}
	measure := func(d def, n int, drain func(path string) (drainResult, error)) {
		if ctx.Err() != nil {
			return
		}
		path, err := copyOf(n)
		if err != nil {
			b.res.fail(d.Name, err)
			return
		}
		res, err := drain(path)
		if err != nil {
			b.res.fail(d.Name, err)
			return
		}
		b.res.add(d, res.Rate())
		if res.Capped {
			b.res.capped(d, res.Done, res.Total)
		}
		b.logf("%s: %s events/s (%s of %s in %s)", d.Name, format(res.Rate(), "events/s"), thousands(int64(res.Done)), thousands(int64(res.Total)), res.Elapsed.Round(time.Millisecond))
	}
	for _, n := range sizes {
		measure(sqliteDrainDef("default", n), n, func(path string) (drainResult, error) {
			return drainSQLite(ctx, path, n, sqliteConfigs["default"], b.sizes.DrainCap)
		})
	}
	measure(sqliteDrainDef("1000", mid), mid, func(path string) (drainResult, error) {
		return drainSQLite(ctx, path, mid, sqliteConfigs["1000"], b.sizes.DrainCap)
	})
	for _, batch := range []int{100, 1000} {
		measure(sqliteRawDef(batch, mid), mid, func(path string) (drainResult, error) {
			return rawSQLiteLoop(ctx, path, mid, batch, b.sizes.DrainCap)
		})
	}
	// The raw loop on the smallest and largest backlogs too: how much of
	// the default drain's slowing with the backlog's size is SQLite's own.
	for _, n := range []int{sizes[0], sizes[len(sizes)-1]} {
		if n != mid {
			measure(sqliteRawDef(100, n), n, func(path string) (drainResult, error) {
				return rawSQLiteLoop(ctx, path, n, 100, b.sizes.DrainCap)
			})
		}
	}
	if path, err := copyOf(mid); err != nil {
		b.res.fail(mSQLiteBusySaves.Name, err)
	} else if busy, err := drainWhileSaving(ctx, path, b.sizes.SaveWarm, b.sizes.SaveDur); err != nil {
		b.res.fail(mSQLiteBusySaves.Name, err)
	} else {
		b.res.add(mSQLiteBusySaves, busy.saves)
		b.res.add(mSQLiteBusyDrained, busy.drained)
		b.res.add(mSQLiteBusyLocked, float64(busy.locked))
		b.logf("sqlite, busy: %s saves/s and %s delivered/s; %d saves failed as locked", format(busy.saves, "tx/s"), format(busy.drained, "events/s"), busy.locked)
	}
}

// fillSQLite creates an outbox at path holding n pending events, each of
// its own entity, and checkpoints it so that one file is the whole of it.
func fillSQLite(ctx context.Context, path string, n int) error {
	s, err := sqlitestore.Open(ctx, path)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		return err
	}
	if err := metrics.NewSQLite(s).Migrate(ctx); err != nil {
		return err
	}
	for start := 0; start < n; start += fillBatch {
		err := s.InTx(ctx, func(tx *sql.Tx) error {
			for i := start; i < min(start+fillBatch, n); i++ {
				ev, err := benchEvent(i)
				if err != nil {
					return err
				}
				if _, err := s.Enqueue(ctx, tx, ev); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("enqueue events from %d: %w", start, err)
		}
	}
	if _, err := s.DB().ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// drainSQLite runs a processor with a no-op sender on the outbox at path
// until its total events are delivered or limit passes.
func drainSQLite(ctx context.Context, path string, total int, cfg outbox.Config, limit time.Duration) (drainResult, error) {
	s, err := sqlitestore.Open(ctx, path)
	if err != nil {
		return drainResult{}, err
	}
	defer s.Close()
	c := newCounter(total)
	cfg.Logger, cfg.Observer = quiet, &countingObserver{c: c}
	noop := outbox.SenderFunc(func(context.Context, *outbox.Event) (outbox.Receipt, error) { return outbox.Receipt{}, nil })
	proc, err := outbox.NewProcessor(s, noop, cfg)
	if err != nil {
		return drainResult{}, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	start := time.Now()
	ran := make(chan error, 1)
	go func() { ran <- proc.Run(runCtx) }()
	res := c.wait(ctx, start, limit)
	stop()
	if err := <-ran; err != nil {
		return res, fmt.Errorf("processor: %w", err)
	}
	return res, nil
}

// rawSQLiteLoop is the physical limit the processor is measured against:
// one goroutine that claims a batch in one statement, as the store's claim
// does (its index, in claim order), and records it delivered in a second
// transaction of two set-based statements: the events completed, and the
// row after each in its key made the key's head (the store's promotion,
// without revived events). It sends nothing, keeps no lease token and no
// attempt log.
func rawSQLiteLoop(ctx context.Context, path string, total, batch int, limit time.Duration) (drainResult, error) {
	s, err := sqlitestore.Open(ctx, path)
	if err != nil {
		return drainResult{}, err
	}
	defer s.Close()
	db := s.DB()
	res := drainResult{Total: total}
	start := time.Now()
	for res.Done < total {
		if time.Since(start) > limit {
			res.Capped = true
			break
		}
		now := time.Now().UnixMicro()
		var seqs []int64
		err := inTx(ctx, db, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `UPDATE outbox_events SET status = 'processing', attempts = attempts + 1, lease_until = ?1 + 60000000, updated_at = ?1
				WHERE seq IN (SELECT seq FROM outbox_events INDEXED BY outbox_events_claim_order
					WHERE is_head AND status IN ('pending', 'failed') AND run_at <= ?1 ORDER BY priority DESC, seq LIMIT ?2)
				RETURNING seq`, now, batch)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var seq int64
				if err := rows.Scan(&seq); err != nil {
					return err
				}
				seqs = append(seqs, seq)
			}
			return rows.Err()
		})
		if err != nil {
			return res, fmt.Errorf("claim: %w", err)
		}
		if len(seqs) == 0 {
			return res, errors.New("the raw loop found nothing to claim before the backlog was drained")
		}
		seqJSON, _ := json.Marshal(seqs)
		err = inTx(ctx, db, func(tx *sql.Tx) error {
			for _, st := range []string{
				`UPDATE outbox_events SET status = 'completed', is_head = 0, lease_until = NULL, completed_at = ?2, updated_at = ?2
					WHERE seq IN (SELECT value FROM json_each(?1))`,
				`UPDATE outbox_events SET is_head = 1 WHERE seq IN (
					SELECT (SELECT n.seq FROM outbox_events AS n INDEXED BY outbox_events_key
						WHERE n.ordering_key = f.ordering_key AND n.seq > f.seq ORDER BY n.seq LIMIT 1)
					FROM outbox_events AS f WHERE f.seq IN (SELECT value FROM json_each(?1)))`,
			} {
				if _, err := tx.ExecContext(ctx, st, string(seqJSON), time.Now().UnixMicro()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("complete: %w", err)
		}
		res.Done += len(seqs)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// busyResult is a drain while the application saves.
type busyResult struct {
	saves, drained float64 // per second
	locked         int64   // saves that failed with "database is locked"
}

// drainWhileSaving runs the default processor on the backlog at path while
// eight writers save weights through the generated package for dur after
// warm, and counts saves, deliveries and saves refused as locked.
func drainWhileSaving(ctx context.Context, path string, warm, dur time.Duration) (busyResult, error) {
	s, err := sqlitestore.Open(ctx, path)
	if err != nil {
		return busyResult{}, err
	}
	defer s.Close()
	m := metrics.NewSQLite(s)
	obs := &countingObserver{c: newCounter(1 << 40)}
	noop := outbox.SenderFunc(func(context.Context, *outbox.Event) (outbox.Receipt, error) { return outbox.Receipt{}, nil })
	proc, err := outbox.NewProcessor(s, noop, outbox.Config{Logger: quiet, Observer: obs})
	if err != nil {
		return busyResult{}, err
	}
	metrics.RegisterSQLite(s)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- proc.Run(runCtx) }()
	var locked atomic.Int64
	before := obs.c.done.Load()
	saved, err := runWriters(ctx, warm, dur, func(ctx context.Context, w, i int) error {
		user, day := entryKey(w, i)
		_, err := m.SaveWeight(ctx, metrics.WeightInput{UserID: user, RecordedAt: day, Kg: 70.5})
		if err != nil && strings.Contains(err.Error(), "database is locked") {
			locked.Add(1)
			return nil // counted, and the writer goes on
		}
		return err
	})
	drained := obs.c.done.Load() - before
	stop()
	if err := <-ran; err != nil {
		return busyResult{}, fmt.Errorf("processor: %w", err)
	}
	if err != nil {
		return busyResult{}, err
	}
	return busyResult{saves: saved.Rate, drained: float64(drained) / (warm + dur).Seconds(), locked: locked.Load()}, nil
}

// sqliteRunKeys are the keys of the SQLite measurements the targets
// compare, found among those measured (the backlogs' sizes vary with -quick).
type sqliteRunKeys struct {
	defaultSmallest, defaultMid, defaultLargest, best, raw100, raw1000 string
}

func (r *results) sqliteKeys() (k sqliteRunKeys, ok bool) {
	var sizes []int
	for _, m := range r.order {
		var n int
		if _, err := fmt.Sscanf(m.Key, "sqlite.drain.default.%d", &n); err == nil {
			sizes = append(sizes, n)
		}
	}
	if len(sizes) == 0 {
		return k, false
	}
	slices.Sort(sizes)
	mid := sizes[len(sizes)/2]
	k = sqliteRunKeys{
		defaultSmallest: sqliteDrainDef("default", sizes[0]).Key,
		defaultMid:      sqliteDrainDef("default", mid).Key,
		defaultLargest:  sqliteDrainDef("default", sizes[len(sizes)-1]).Key,
		best:            sqliteDrainDef("1000", mid).Key,
		raw100:          sqliteRawDef(100, mid).Key,
		raw1000:         sqliteRawDef(1000, mid).Key,
	}
	return k, true
}
