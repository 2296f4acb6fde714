package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outboxgen/outboxgen/examples/fitness/metrics"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
)

const (
	groupBacklog = "2. Delivery throughput, no-op sender, pre-filled backlog"
	groupCPU     = "2b. CPU per delivered event during the no-op drain"
)

// oursConfig is one processor configuration the backlog drain tries.
type oursConfig struct {
	label string // e.g. "default (16/100)"
	key   string // e.g. "default"
	cfg   outbox.Config
}

// defaultLabel names the default Config in reports.
var defaultLabel = fmt.Sprintf("default config (Concurrency %d, BatchSize %d)", outbox.DefaultConcurrency, outbox.DefaultBatchSize)

// oursConfigs are the processor configurations of the no-op drain.
var oursConfigs = []oursConfig{
	{defaultLabel, "default", outbox.Config{}},
	{"Concurrency 256, BatchSize 256", "256", outbox.Config{Concurrency: 256, BatchSize: 256}},
	{"Concurrency 1000, BatchSize 1000", "1000", outbox.Config{Concurrency: 1000, BatchSize: 1000}},
	// Claims smaller than the capacity overlap with the recording of
	// earlier outcomes instead of waiting for it.
	{"Concurrency 1000, BatchSize 250", "1000x250", outbox.Config{Concurrency: 1000, BatchSize: 250}},
}

func backlogDef(c oursConfig) def {
	return def{"backlog.ours." + c.key, groupBacklog, "outboxgen processor, " + c.label, "events/s", true}
}

func backlogCPUDef(c oursConfig) def {
	return def{"cpu.ours." + c.key, groupCPU, "outboxgen, " + c.label, "µs/event", false}
}

// riverBacklogDef is the no-op drain of River configuration c.
func riverBacklogDef(c riverConfig) def {
	return def{"backlog.river." + c.key, groupBacklog, "River, no-op worker, " + c.label(), "events/s", true}
}

func backlogOursKeys() []string {
	keys := make([]string, len(oursConfigs))
	for i, c := range oursConfigs {
		keys[i] = backlogDef(c).Key
	}
	return keys
}

// The competitors' drain measurements.
var (
	mBacklogWatermill100  = def{"backlog.watermill.100", groupBacklog, "watermill-sql forwarder → no-op publisher, SubscribeBatchSize 100", "events/s", true}
	mBacklogWatermill1000 = def{"backlog.watermill.1000", groupBacklog, "watermill-sql forwarder → no-op publisher, SubscribeBatchSize 1000", "events/s", true}

	// Generated events run their delivered hook (marking the entry synced)
	// in the transaction that records them; the other backlogs have none.
	// Not a candidate for "ours best": neither River's nor watermill's
	// figure includes such a write.
	mBacklogHooks = def{"backlog.ours.hooks", groupBacklog, "outboxgen processor, generated weight events with their delivered hooks, Concurrency 1000, BatchSize 250", "events/s", true}
	mCPUHooks     = def{"cpu.ours.hooks", groupCPU, "outboxgen, generated events with hooks, Concurrency 1000, BatchSize 250", "µs/event", false}

	mCPUWatermill100  = def{"cpu.watermill.100", groupCPU, "watermill-sql, batch 100", "µs/event", false}
	mCPUWatermill1000 = def{"cpu.watermill.1000", groupCPU, "watermill-sql, batch 1000", "µs/event", false}
)

// fillBatch is how many events one prefill transaction writes.
const fillBatch = 1000

// drainResult is the outcome of one drain.
type drainResult struct {
	Done    int           // events completed
	Total   int           // events in the backlog
	Elapsed time.Duration // from start to the last completion (or to the cap)
	Capped  bool          // the cap ended the drain before the backlog did
	CPU     cpuUse
}

// Rate is the events completed per second.
func (r drainResult) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Done) / r.Elapsed.Seconds()
}

// cpuPerEvent is the CPU, in microseconds, each completed event cost in
// this process and in PostgreSQL.
func (r drainResult) cpuPerEvent() (self, pg float64) {
	if r.Done == 0 {
		return 0, 0
	}
	n := float64(r.Done)
	return float64(r.CPU.Self.Microseconds()) / n, float64(r.CPU.Postgres.Microseconds()) / n
}

// counter counts completions and says when the last one happened.
type counter struct {
	total  int64
	done   atomic.Int64
	failed atomic.Int64
	once   sync.Once
	all    chan struct{}
	last   atomic.Int64 // Unix nanoseconds of the latest completion
}

func newCounter(total int) *counter {
	return &counter{total: int64(total), all: make(chan struct{})}
}

// add counts n completions.
func (c *counter) add(n int64) {
	c.last.Store(time.Now().UnixNano())
	if c.done.Add(n) >= c.total {
		c.once.Do(func() { close(c.all) })
	}
}

// wait blocks until every event completed, limit passed, or ctx ended.
func (c *counter) wait(ctx context.Context, start time.Time, limit time.Duration) drainResult {
	t := time.NewTimer(limit)
	defer t.Stop()
	res := drainResult{Total: int(c.total)}
	select {
	case <-c.all:
		res.Elapsed = time.Unix(0, c.last.Load()).Sub(start)
	case <-t.C:
		res.Capped, res.Elapsed = true, time.Since(start)
	case <-ctx.Done():
		res.Elapsed = time.Since(start)
	}
	res.Done = int(min(c.done.Load(), c.total))
	return res
}

// countingObserver counts the outcomes a processor records.
type countingObserver struct {
	c      *counter
	paused atomic.Int64
}

func (o *countingObserver) Recorded(out outbox.Outcome, _ time.Duration) {
	if out.Kind == outbox.Delivered {
		o.c.add(1)
	} else {
		o.c.failed.Add(1)
	}
}
func (o *countingObserver) Paused(time.Duration, error) { o.paused.Add(1) }
func (o *countingObserver) Resumed()                    {}

// benchEventType is the type of every event of the backlogs.
const benchEventType = "bench.created"

// benchEvent returns the i-th event of a backlog: a weight-shaped payload
// and an ordering key of its own.
func benchEvent(i int) (outbox.Event, error) {
	w := benchWeight(i)
	payload, err := json.Marshal(w)
	if err != nil {
		return outbox.Event{}, fmt.Errorf("encode payload: %w", err)
	}
	return outbox.Event{
		Type: benchEventType, Aggregate: "bench", AggregateID: w.ID.String(), UserID: w.UserID,
		IsNewRecord: true, EntityVersion: 1, Payload: payload,
	}, nil
}

// fillOurs enqueues events from..from+n-1, fillBatch per transaction.
func fillOurs(ctx context.Context, dbURL string, from, n int) error {
	store, err := pgstore.Open(ctx, dbURL, 4, pgstore.WithLogger(quiet))
	if err != nil {
		return err
	}
	defer store.Close()
	for start := from; start < from+n; start += fillBatch {
		end := min(start+fillBatch, from+n)
		err := store.InTx(ctx, func(tx pgx.Tx) error {
			for i := start; i < end; i++ {
				ev, err := benchEvent(i)
				if err != nil {
					return err
				}
				if _, err := store.Enqueue(ctx, tx, ev); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("enqueue events %d to %d: %w", start, end-1, err)
		}
	}
	return nil
}

// filler builds pre-filled template databases of one system.
type filler struct {
	label  string
	schema func(ctx context.Context, dbURL string) error
	fill   func(ctx context.Context, dbURL string, from, n int) error
}

// fillers of the three systems.
var (
	oursFiller = filler{"tmpl_ours", func(ctx context.Context, dbURL string) error {
		store, err := pgstore.Open(ctx, dbURL, 2, pgstore.WithLogger(quiet))
		if err != nil {
			return err
		}
		defer store.Close()
		return store.Migrate(ctx)
	}, fillOurs}
	riverFiller = filler{"tmpl_river", func(ctx context.Context, dbURL string) error {
		pool, err := openPool(ctx, dbURL, 2)
		if err != nil {
			return err
		}
		defer pool.Close()
		return migrateRiver(ctx, pool)
	}, fillRiver}
	watermillFiller = filler{"tmpl_watermill", initWatermill, fillWatermill}
)

// templates returns template databases of f holding each of the sizes
// (ascending), building them the first time: one database is filled up to
// each size in turn, vacuumed and analysed, and copied.
func (b *bench) templates(ctx context.Context, f filler, sizes ...int) (map[int]string, error) {
	b.tmplMu.Lock()
	defer b.tmplMu.Unlock()
	if got, ok := b.tmpl[f.label]; ok {
		return got, nil
	}
	sizes = slices.Compact(slices.Sorted(slices.Values(sizes)))
	base, baseURL, err := b.srv.create(ctx, f.label+"_base", "")
	if err != nil {
		return nil, err
	}
	defer func() { _ = b.srv.drop(ctx, base) }()
	if err := f.schema(ctx, baseURL); err != nil {
		return nil, fmt.Errorf("%s: schema: %w", f.label, err)
	}
	out := map[int]string{}
	filled := 0
	for _, size := range sizes {
		start := time.Now()
		if err := f.fill(ctx, baseURL, filled, size-filled); err != nil {
			return nil, fmt.Errorf("%s: fill to %d: %w", f.label, size, err)
		}
		b.logf("prefilled %s to %d events in %s", f.label, size, time.Since(start).Round(time.Millisecond))
		filled = size
		if err := execSQL(ctx, baseURL, "VACUUM ANALYZE"); err != nil {
			return nil, fmt.Errorf("%s: %w", f.label, err)
		}
		name, _, err := b.srv.create(ctx, fmt.Sprintf("%s_%d", f.label, size), base)
		if err != nil {
			return nil, err
		}
		out[size] = name
	}
	b.tmpl[f.label] = out
	return out, nil
}

// backlogs runs the no-op drain measurements once.
func (b *bench) backlogs(ctx context.Context) {
	n := b.sizes.Backlog
	ours, errO := b.templates(ctx, oursFiller, b.sizes.SmallBacklog, n)
	rv, errR := b.templates(ctx, riverFiller, n)
	wm, errW := b.templates(ctx, watermillFiller, n)
	noop := outbox.SenderFunc(func(context.Context, *outbox.Event) (outbox.Receipt, error) { return outbox.Receipt{}, nil })
	for _, c := range oursConfigs {
		if errO != nil {
			b.res.fail(backlogDef(c).Name, errO)
			continue
		}
		b.measureDrain(ctx, backlogDef(c), backlogCPUDef(c), ours[n], func(ctx context.Context, dbURL string) (drainResult, error) {
			return drainOurs(ctx, dbURL, n, c.cfg, noop, b.sizes.DrainCap, b.profilePath("backlog-"+c.key))
		})
	}
	if errO != nil {
		for _, batch := range rawPGBatches {
			b.res.fail(rawPGDef(batch).Name, errO)
		}
	} else {
		b.rawBacklogs(ctx, ours[n])
	}
	if gen, err := b.templates(ctx, generatedFiller, n); err != nil {
		b.res.fail(mBacklogHooks.Name, err)
	} else {
		b.measureDrain(ctx, mBacklogHooks, mCPUHooks, gen[n], func(ctx context.Context, dbURL string) (drainResult, error) {
			cfg := outbox.Config{Concurrency: 1000, BatchSize: 250}
			hooks := func(s *pgstore.Store) { metrics.RegisterPostgres(s) }
			return drainStore(ctx, dbURL, n, cfg, noop, b.sizes.DrainCap, b.profilePath("backlog-hooks"), hooks)
		})
	}
	for _, rc := range riverConfigs {
		d := riverBacklogDef(rc)
		if errR != nil {
			b.res.fail(d.Name, errR)
			continue
		}
		cpu := def{"cpu.river." + rc.key, groupCPU, "River, " + rc.label(), "µs/event", false}
		b.measureDrain(ctx, d, cpu, rv[n], func(ctx context.Context, dbURL string) (drainResult, error) {
			return drainRiver(ctx, dbURL, n, riverWorking{MaxWorkers: rc.workers, FetchCooldown: rc.cooldown, Register: registerNoop}, b.riverCap(rc))
		})
	}
	for _, wc := range []struct {
		d, cpu def
		batch  int
	}{{mBacklogWatermill100, mCPUWatermill100, 100}, {mBacklogWatermill1000, mCPUWatermill1000, 1000}} {
		if errW != nil {
			b.res.fail(wc.d.Name, errW)
			continue
		}
		b.measureDrain(ctx, wc.d, wc.cpu, wm[n], func(ctx context.Context, dbURL string) (drainResult, error) {
			return drainWatermill(ctx, dbURL, n, wc.batch, b.sizes.DrainCap)
		})
	}
}

// measureDrain copies template into a fresh database, runs drain on it and
// records its rate (and, when cpu has a key, its CPU per event).
func (b *bench) measureDrain(ctx context.Context, d, cpu def, template string, drain func(ctx context.Context, dbURL string) (drainResult, error)) {
	if ctx.Err() != nil {
		return
	}
	dbURL, done, err := b.srv.fresh(ctx, "drain", template)
	if err != nil {
		b.res.fail(d.Name, err)
		return
	}
	defer done()
	res, err := drain(ctx, dbURL)
	if err != nil {
		b.res.fail(d.Name, err)
		return
	}
	b.res.add(d, res.Rate())
	if res.Capped {
		b.res.capped(d, res.Done, res.Total)
	}
	self, pg := res.cpuPerEvent()
	if cpu.Key != "" {
		goDef, pgDef := cpu, cpu
		goDef.Key, goDef.Name = cpu.Key+".go", cpu.Name+": Go process"
		pgDef.Key, pgDef.Name = cpu.Key+".pg", cpu.Name+": PostgreSQL"
		b.res.add(goDef, self)
		b.res.add(pgDef, pg)
	}
	b.logf("%s: %s events/s (%s of %s in %s; CPU/event: Go %.0f µs, PostgreSQL %.0f µs)", d.Name, format(res.Rate(), "events/s"),
		thousands(int64(res.Done)), thousands(int64(res.Total)), res.Elapsed.Round(time.Millisecond), self, pg)
}

// riverCap is how long a River drain of configuration c may run: a
// short sample when c runs at 1,000 jobs/s (riverConfig.slow).
func (b *bench) riverCap(c riverConfig) time.Duration {
	if c.slow() {
		return b.sizes.SlowCap
	}
	return b.sizes.DrainCap
}

// profilePath returns where to write a CPU profile of name, or "" when
// profiling is off.
func (b *bench) profilePath(name string) string {
	if b.profileDir == "" {
		return ""
	}
	return filepath.Join(b.profileDir, fmt.Sprintf("%s-run%d.pprof", name, b.run))
}

// startProfile starts a CPU profile written to path, unless path is "",
// and returns what stops it.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// drainOurs runs an outboxgen processor on a database holding total
// pending events and measures how fast they are delivered and recorded.
// With profile set, it writes a CPU profile of the drain there.
func drainOurs(ctx context.Context, dbURL string, total int, cfg outbox.Config, sender outbox.Sender, limit time.Duration, profile string) (res drainResult, err error) {
	return drainStore(ctx, dbURL, total, cfg, sender, limit, profile, nil)
}

// drainStore is drainOurs with setup, when not nil, called on the store
// before the processor starts (to register delivered hooks, say).
func drainStore(ctx context.Context, dbURL string, total int, cfg outbox.Config, sender outbox.Sender, limit time.Duration, profile string, setup func(*pgstore.Store)) (res drainResult, err error) {
	store, err := pgstore.Open(ctx, dbURL, 10, pgstore.WithLogger(quiet))
	if err != nil {
		return res, err
	}
	defer store.Close()
	if setup != nil {
		setup(store)
	}
	c := newCounter(total)
	obs := &countingObserver{c: c}
	cfg.Logger, cfg.Observer = quiet, obs
	proc, err := outbox.NewProcessor(store, sender, cfg)
	if err != nil {
		return res, err
	}

	stopProfile, err := startProfile(profile)
	if err != nil {
		return res, err
	}
	defer stopProfile()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	before := takeCPU()
	start := time.Now()
	ran := make(chan error, 1)
	go func() { ran <- proc.Run(runCtx) }()
	res = c.wait(ctx, start, limit)
	res.CPU = takeCPU().since(before)
	stop()
	if err := <-ran; err != nil {
		return res, fmt.Errorf("processor: %w", err)
	}
	if n := c.failed.Load(); n > 0 {
		return res, fmt.Errorf("%d outcomes were not deliveries (retries, releases or dead)", n)
	}
	if n := obs.paused.Load(); n > 0 {
		return res, fmt.Errorf("delivery paused %d times: the sender reported the backend unavailable", n)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if res.Done == 0 {
		return res, errors.New("no event was delivered")
	}
	return res, nil
}
