package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/outboxgen/outboxgen/examples/fitness/metrics"
	outbox "github.com/outboxgen/outboxgen/runtime"
)

const groupLatency = "4. Latency from commit to delivery at a steady rate"

// The latency measurements.
var (
	mLatencyOursP50      = def{"latency.ours.p50", groupLatency, "outboxgen, default processor config: save commit → send, p50", "ms", false}
	mLatencyOursP99      = def{"latency.ours.p99", groupLatency, "outboxgen, default processor config: save commit → send, p99", "ms", false}
	mLatencyRiverP50     = def{"latency.river.p50", groupLatency, "River, default config (FetchCooldown 100 ms, MaxWorkers 100): insert commit → work start, p50", "ms", false}
	mLatencyRiverP99     = def{"latency.river.p99", groupLatency, "River, default config (FetchCooldown 100 ms, MaxWorkers 100): insert commit → work start, p99", "ms", false}
	mLatencyRiverFastP50 = def{"latency.river10.p50", groupLatency, "River, FetchCooldown 10 ms (MaxWorkers 100): insert commit → work start, p50", "ms", false}
	mLatencyRiverFastP99 = def{"latency.river10.p99", groupLatency, "River, FetchCooldown 10 ms (MaxWorkers 100): insert commit → work start, p99", "ms", false}
)

// latencyInflightBudget bounds the saves in flight at once.
const latencyInflightBudget = 64

// stamps pairs, per item, the time its transaction committed with the
// time it was delivered. Either may come first.
type stamps[K comparable] struct {
	mu        sync.Mutex
	committed map[K]time.Time
	delivered map[K]time.Time
}

func newStamps[K comparable]() *stamps[K] {
	return &stamps[K]{committed: map[K]time.Time{}, delivered: map[K]time.Time{}}
}

func (s *stamps[K]) commit(k K, t time.Time) {
	s.mu.Lock()
	s.committed[k] = t
	s.mu.Unlock()
}

func (s *stamps[K]) deliver(k K, t time.Time) {
	s.mu.Lock()
	if _, dup := s.delivered[k]; !dup {
		s.delivered[k] = t
	}
	s.mu.Unlock()
}

// waitAll waits until every committed item was delivered, or limit passes.
func (s *stamps[K]) waitAll(ctx context.Context, want int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		s.mu.Lock()
		n, c := len(s.delivered), len(s.committed)
		s.mu.Unlock()
		if n >= want && c >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d items delivered %s after the last commit", n, want, limit)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// percentiles returns the p50 and p99 of delivered − committed over the
// items committed at or after from, in milliseconds.
func (s *stamps[K]) percentiles(from time.Time) (p50, p99 float64, n int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ds []time.Duration
	for k, c := range s.committed {
		if c.Before(from) {
			continue
		}
		d, ok := s.delivered[k]
		if !ok {
			return 0, 0, 0, errors.New("an item was committed and never delivered")
		}
		ds = append(ds, d.Sub(c))
	}
	if len(ds) == 0 {
		return 0, 0, 0, errors.New("no item was committed in the measured window")
	}
	slices.Sort(ds)
	rank := func(p float64) float64 {
		i := int(p*float64(len(ds))+0.5) - 1
		i = max(0, min(i, len(ds)-1))
		return float64(ds[i].Microseconds()) / 1000
	}
	return rank(0.50), rank(0.99), len(ds), nil
}

// paced calls save(i) at rate per second for warm + dur, each in a
// goroutine of its own (at most latencyInflightBudget at once), so that a
// slow save does not slow the arrivals down. It returns how many saves it
// started and when the measured window began.
func paced(ctx context.Context, rate int, warm, dur time.Duration, save func(ctx context.Context, i int) error) (n int, measuredFrom time.Time, err error) {
	interval := time.Second / time.Duration(rate)
	total := int((warm + dur) / interval)
	sem := make(chan struct{}, latencyInflightBudget)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	measuredFrom = start.Add(warm)
	for i := range total {
		sleep(ctx, time.Until(start.Add(time.Duration(i)*interval)))
		if ctx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		n++
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := save(ctx, i); err != nil && ctx.Err() == nil {
				errOnce.Do(func() { firstErr = fmt.Errorf("save %d: %w", i, err) })
				cancel()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return n, measuredFrom, firstErr
	}
	return n, measuredFrom, ctx.Err()
}

// latencies runs the latency measurements once.
func (b *bench) latencies(ctx context.Context) {
	b.measureLatency(ctx, mLatencyOursP50, mLatencyOursP99, b.latencyOurs)
	b.measureLatency(ctx, mLatencyRiverP50, mLatencyRiverP99, func(ctx context.Context) (float64, float64, int, error) {
		return b.latencyRiver(ctx, 0)
	})
	b.measureLatency(ctx, mLatencyRiverFastP50, mLatencyRiverFastP99, func(ctx context.Context) (float64, float64, int, error) {
		return b.latencyRiver(ctx, 10*time.Millisecond)
	})
}

func (b *bench) measureLatency(ctx context.Context, d50, d99 def, run func(context.Context) (p50, p99 float64, n int, err error)) {
	if ctx.Err() != nil {
		return
	}
	p50, p99, n, err := run(ctx)
	if err != nil {
		b.res.fail(d50.Name, err)
		return
	}
	b.res.add(d50, p50)
	b.res.add(d99, p99)
	b.logf("%s: p50 %.2f ms, p99 %.2f ms over %d events", d50.Name, p50, p99, n)
}

// latencyOurs saves weights with the generated SaveWeight at a steady rate
// while a processor with the default configuration delivers them in the
// same process through a no-op sender that notes when each was sent.
func (b *bench) latencyOurs(ctx context.Context) (p50, p99 float64, n int, err error) {
	dbURL, done, err := b.srv.fresh(ctx, "latency_ours", "")
	if err != nil {
		return 0, 0, 0, err
	}
	defer done()
	store, m, err := openMetricsPG(ctx, dbURL, 10)
	if err != nil {
		return 0, 0, 0, err
	}
	defer store.Close()
	st := newStamps[string]()
	sender := outbox.SenderFunc(func(_ context.Context, ev *outbox.Event) (outbox.Receipt, error) {
		st.deliver(ev.AggregateID, time.Now())
		return outbox.Receipt{}, nil
	})
	proc, err := outbox.NewProcessor(store, sender, outbox.Config{Backoffs: metrics.Backoffs(), Logger: quiet})
	if err != nil {
		return 0, 0, 0, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- proc.Run(runCtx) }()
	sleep(ctx, 300*time.Millisecond) // let the processor start and LISTEN

	saved, from, err := paced(ctx, b.sizes.LatencyRate, b.sizes.LatencyWarm, b.sizes.LatencyDur, func(ctx context.Context, i int) error {
		user, day := entryKey(9, i)
		id, err := m.SaveWeight(ctx, metrics.WeightInput{UserID: user, RecordedAt: day, Kg: 70.5})
		if err != nil {
			return err
		}
		st.commit(id.String(), time.Now())
		return nil
	})
	if err == nil {
		err = st.waitAll(ctx, saved, 10*time.Second)
	}
	stop()
	if runErr := <-ran; err == nil && runErr != nil {
		err = fmt.Errorf("processor: %w", runErr)
	}
	if err != nil {
		return 0, 0, 0, err
	}
	return st.percentiles(from)
}

// latencyWorker notes when each job starts being worked.
type latencyWorker struct {
	river.WorkerDefaults[weightArgs]
	st *stamps[int64]
}

// Work implements river.Worker.
func (w *latencyWorker) Work(_ context.Context, job *river.Job[weightArgs]) error {
	w.st.deliver(job.ID, time.Now())
	return nil
}

// latencyRiver inserts an entity and its job in one transaction at a
// steady rate while a River client (MaxWorkers 100, the given
// FetchCooldown; zero is River's default) works them.
func (b *bench) latencyRiver(ctx context.Context, cooldown time.Duration) (p50, p99 float64, n int, err error) {
	dbURL, done, err := b.srv.fresh(ctx, "latency_river", "")
	if err != nil {
		return 0, 0, 0, err
	}
	defer done()
	pool, err := openPool(ctx, dbURL, 20)
	if err != nil {
		return 0, 0, 0, err
	}
	defer pool.Close()
	if err := migrateRiver(ctx, pool); err != nil {
		return 0, 0, 0, err
	}
	if err := execSQL(ctx, dbURL, entityDDL); err != nil {
		return 0, 0, 0, fmt.Errorf("create entity table: %w", err)
	}
	st := newStamps[int64]()
	client, err := newWorkingRiver(pool, riverWorking{MaxWorkers: 100, FetchCooldown: cooldown, Register: func(ws *river.Workers) {
		river.AddWorker(ws, &latencyWorker{st: st})
	}})
	if err != nil {
		return 0, 0, 0, err
	}
	if err := client.Start(ctx); err != nil {
		return 0, 0, 0, fmt.Errorf("river start: %w", err)
	}
	sleep(ctx, 300*time.Millisecond) // let the client start and LISTEN

	saved, from, err := paced(ctx, b.sizes.LatencyRate, b.sizes.LatencyWarm, b.sizes.LatencyDur, func(ctx context.Context, i int) error {
		id, err := riverSave(ctx, pool, client, 9, i)
		if err != nil {
			return err
		}
		st.commit(id, time.Now())
		return nil
	})
	if err == nil {
		err = st.waitAll(ctx, saved, 10*time.Second)
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if stopErr := client.Stop(stopCtx); err == nil && stopErr != nil {
		err = fmt.Errorf("river stop: %w", stopErr)
	}
	if err != nil {
		return 0, 0, 0, err
	}
	return st.percentiles(from)
}
