package main

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// weightArgs is the job River carries: the same fields as the generated
// weight payload, so that River moves as many bytes as the outbox does.
type weightArgs struct {
	PayloadVersion int       `json:"payload_version"`
	ID             uuid.UUID `json:"id"`
	UserID         string    `json:"user_id"`
	RecordedAt     time.Time `json:"recorded_at"`
	Kg             float64   `json:"kg"`
	Version        int64     `json:"version"`
}

// Kind implements river.JobArgs.
func (weightArgs) Kind() string { return "weight_created" }

// benchWeight returns the i-th entry of a backlog.
func benchWeight(i int) weightArgs {
	_, day := entryKey(0, i)
	id := uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "bench-%d", i))
	return weightArgs{PayloadVersion: 1, ID: id, UserID: fmt.Sprintf("u%d", i%1000), RecordedAt: day, Kg: 70.5, Version: 1}
}

// migrateRiver creates River's tables.
func migrateRiver(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: quiet})
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrate: %w", err)
	}
	return nil
}

// newInsertOnlyRiver returns a River client that inserts jobs and works none.
func newInsertOnlyRiver(pool *pgxpool.Pool) (*river.Client[pgx.Tx], error) {
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: quiet})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return c, nil
}

// riverConfig is one River configuration a drain measures.
type riverConfig struct {
	key      string        // the measurement key's suffix
	workers  int           // MaxWorkers of the default queue
	cooldown time.Duration // FetchCooldown; zero is River's default (100 ms)
}

// riverConfigs sweep River's two throughput knobs as oursConfigs sweep
// ours. River fetches at most MaxWorkers jobs per FetchCooldown, so at its
// default cooldown its rate is capped at ten fetches a second whatever the
// machine: 1,000 jobs/s at MaxWorkers 100 and 10,000 at 1000. The shorter
// cooldowns take that cap away (River's minimum is 1 ms), and 2000 workers
// check that 1000 workers are not the limit. The first is River's usual
// example (MaxWorkers has no default) at its default cooldown.
var riverConfigs = []riverConfig{
	{"100", 100, 0},
	{"1000", 1000, 0},
	{"1000.cd10", 1000, 10 * time.Millisecond},
	{"1000.cd1", 1000, time.Millisecond},
	{"2000.cd10", 2000, 10 * time.Millisecond},
}

// label names c in reports.
func (c riverConfig) label() string {
	if c.cooldown == 0 {
		return fmt.Sprintf("MaxWorkers %d (FetchCooldown 100 ms, River's default)", c.workers)
	}
	return fmt.Sprintf("MaxWorkers %d, FetchCooldown %d ms", c.workers, c.cooldown.Milliseconds())
}

// slow tells whether c runs at 1,000 jobs/s, River's fetch cap at
// MaxWorkers 100 and the default cooldown, which a short sample measures
// as well as a whole drain.
func (c riverConfig) slow() bool { return c.cooldown == 0 && c.workers <= 100 }

// riverKeys returns the keys of one measurement (riverBacklogDef, say) of
// every River configuration.
func riverKeys(measurement func(riverConfig) def) []string {
	keys := make([]string, len(riverConfigs))
	for i, c := range riverConfigs {
		keys[i] = measurement(c).Key
	}
	return keys
}

// riverWorking configures a River client that works jobs.
type riverWorking struct {
	MaxWorkers    int
	FetchCooldown time.Duration // zero: River's default (100 ms)
	Register      func(*river.Workers)
}

// newWorkingRiver returns a River client working the default queue.
func newWorkingRiver(pool *pgxpool.Pool, cfg riverWorking) (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	cfg.Register(workers)
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:        quiet,
		FetchCooldown: cfg.FetchCooldown,
		Queues:        map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.MaxWorkers}},
		Workers:       workers,
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return c, nil
}

// noopWorker completes every job at once.
type noopWorker struct {
	river.WorkerDefaults[weightArgs]
}

// Work implements river.Worker.
func (noopWorker) Work(context.Context, *river.Job[weightArgs]) error { return nil }

// registerNoop registers noopWorker.
func registerNoop(w *river.Workers) { river.AddWorker(w, noopWorker{}) }

// fillRiver inserts jobs from..from+n-1 with InsertManyFast, 1000 a call.
func fillRiver(ctx context.Context, dbURL string, from, n int) error {
	pool, err := openPool(ctx, dbURL, 4)
	if err != nil {
		return err
	}
	defer pool.Close()
	client, err := newInsertOnlyRiver(pool)
	if err != nil {
		return err
	}
	for start := from; start < from+n; start += fillBatch {
		end := min(start+fillBatch, from+n)
		params := make([]river.InsertManyParams, 0, end-start)
		for i := start; i < end; i++ {
			params = append(params, river.InsertManyParams{Args: benchWeight(i)})
		}
		if _, err := client.InsertManyFast(ctx, params); err != nil {
			return fmt.Errorf("river InsertManyFast of jobs %d to %d: %w", start, end-1, err)
		}
	}
	return nil
}

// drainRiver starts a River client on a database holding total available
// jobs and measures how fast they complete.
func drainRiver(ctx context.Context, dbURL string, total int, cfg riverWorking, limit time.Duration) (drainResult, error) {
	pool, err := openPool(ctx, dbURL, 20)
	if err != nil {
		return drainResult{}, err
	}
	defer pool.Close()
	client, err := newWorkingRiver(pool, cfg)
	if err != nil {
		return drainResult{}, err
	}
	events, unsubscribe := client.SubscribeConfig(&river.SubscribeConfig{
		Kinds:    []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed},
		ChanSize: total + 1000,
	})
	defer unsubscribe()
	c := newCounter(total)
	go func() {
		for ev := range events {
			if ev.Kind == river.EventKindJobCompleted {
				c.add(1)
			} else {
				c.failed.Add(1)
			}
		}
	}()

	before := takeCPU()
	start := time.Now()
	if err := client.Start(ctx); err != nil {
		return drainResult{}, fmt.Errorf("river start: %w", err)
	}
	res := c.wait(ctx, start, limit)
	res.CPU = takeCPU().since(before)
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := client.Stop(stopCtx); err != nil {
		return res, fmt.Errorf("river stop: %w", err)
	}
	if n := c.failed.Load(); n > 0 {
		return res, fmt.Errorf("%d River jobs failed", n)
	}
	return res, ctx.Err()
}
