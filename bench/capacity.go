package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/httpsender"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
)

const groupCapacity = "3c. HTTP toward a backend of limited capacity (5–20 ms a request, 503 beyond N in progress), pre-filled backlog"

// capSlots are the backend capacities tried, in requests in progress; the
// outage is measured at the first.
var capSlots = []int{64, 16}

// capBackoff spaces the retries of refused events. The default (30 s, then
// 1 m …) would leave every refused event waiting past the end of the
// measurement; with this one they come back within it, so that a run shows
// whether they are delivered or spend their attempts and go dead.
var capBackoff = outbox.Backoff{Base: 250 * time.Millisecond, Max: 2 * time.Second, Jitter: 0.2}

// capConfig is one processor configuration of the capacity measurements.
type capConfig struct {
	key, label string
	cfg        outbox.Config
}

var (
	capAdaptive = capConfig{"adaptive", "adaptive, ceiling Concurrency 256, BatchSize 256", outbox.Config{Concurrency: 256, BatchSize: 256}}
	capFixed    = capConfig{"fixed", "FixedConcurrency 256, BatchSize 256", outbox.Config{Concurrency: 256, BatchSize: 256, FixedConcurrency: true}}
	capDefault  = capConfig{"default", "adaptive, " + defaultLabel, outbox.Config{}}
)

// capSteadyConfigs are the configurations of the steady drain at n slots:
// the adaptive limit under a ceiling of 256, the same ceiling fixed, and
// the default Config, whose ceiling is above every capacity tried.
func capSteadyConfigs(int) []capConfig { return []capConfig{capAdaptive, capFixed, capDefault} }

// The backend's own figures at n slots.
func capBackendDef(n int) def {
	return def{fmt.Sprintf("capacity.backend.n%d", n), groupCapacity, fmt.Sprintf("N %d: backend capacity, N ÷ mean time a request holds its slot", n), "events/s", true}
}

func capClientDef(n int) def {
	return def{fmt.Sprintf("capacity.client.n%d", n), groupCapacity, fmt.Sprintf("N %d: a plain client holding exactly %d requests in flight", n, n), "events/s", true}
}

// capSteadyDefs are the figures of the steady drain of c at n slots.
type capSteadyDefs struct{ rate, share, refused, limit, limitLast, dead def }

func capSteady(c capConfig, n int) capSteadyDefs {
	k := fmt.Sprintf("capacity.steady.%s.n%d", c.key, n)
	name := fmt.Sprintf("N %d, %s", n, c.label)
	return capSteadyDefs{
		rate:      def{k, groupCapacity, name + ": delivered", "events/s", true},
		share:     def{k + ".share", groupCapacity, name + ": delivered ÷ capacity", "%", true},
		refused:   def{k + ".refused", groupCapacity, name + ": requests refused (503 ÷ all)", "%", false},
		limit:     def{k + ".limit", groupCapacity, name + ": State().Limit, mean of samples every 50 ms", "sends", false},
		limitLast: def{k + ".limit.last", groupCapacity, name + ": State().Limit at the end", "sends", false},
		dead:      def{k + ".dead", groupCapacity, name + ": events dead at the end", "events", false},
	}
}

// capOutageDefs are the figures of the drain after an outage of c at n
// slots; all but dead count from the end of the outage.
type capOutageDefs struct{ rate, resume, peak, beyond, refused, limit, dead def }

func capOutage(c capConfig, n int) capOutageDefs {
	k := fmt.Sprintf("capacity.outage.%s.n%d", c.key, n)
	name := fmt.Sprintf("after an outage, N %d, %s", n, c.label)
	return capOutageDefs{
		rate:    def{k, groupCapacity, name + ": delivered, from the first accepted request", "events/s", true},
		resume:  def{k + ".resume", groupCapacity, name + ": from recovery to the first accepted request", "s", false},
		peak:    def{k + ".peak", groupCapacity, name + ": most requests arriving at once", "requests", false},
		beyond:  def{k + ".beyond", groupCapacity, name + ": requests beyond capacity (refused)", "requests", false},
		refused: def{k + ".refused", groupCapacity, name + ": requests refused (503 ÷ all)", "%", false},
		limit:   def{k + ".limit", groupCapacity, name + ": State().Limit, mean of samples every 50 ms", "sends", false},
		dead:    def{k + ".dead", groupCapacity, name + ": events dead at the end", "events", false},
	}
}

// capacities runs the measurements toward a backend of limited capacity
// once: at each capacity, the backend alone, then steady drains; then a
// drain after an outage.
func (b *bench) capacities(ctx context.Context) {
	steadyN, outageN := b.sizes.SmallBacklog, b.sizes.Backlog
	tmpl, tmplErr := b.templates(ctx, oursFiller, steadyN, outageN)
	capacity := map[int]float64{}
	for _, n := range capSlots {
		capacity[n] = b.capBackend(ctx, n)
		for _, c := range capSteadyConfigs(n) {
			ds := capSteady(c, n)
			if tmplErr != nil {
				b.res.fail(ds.rate.Name, tmplErr)
				continue
			}
			r, ok := b.capDrain(ctx, ds.rate, tmpl[steadyN], steadyN, c.cfg, n, 0, b.sizes.CapacityCap)
			if !ok {
				continue
			}
			rate := r.rate(r.start)
			b.res.add(ds.rate, rate)
			if r.capped {
				b.res.capped(ds.rate, int(r.delivered), r.total)
			}
			if capacity[n] > 0 {
				b.res.add(ds.share, 100*rate/capacity[n])
			}
			b.res.add(ds.refused, r.server.RefusedPct())
			b.res.add(ds.limit, r.limitMean)
			b.res.add(ds.limitLast, float64(r.limitLast))
			b.res.add(ds.dead, float64(r.dead))
			b.logf("%s: %s events/s (%.0f %% of %s), %.2f %% refused, limit mean %.0f last %d; %s",
				ds.rate.Name, format(rate, "events/s"), 100*rate/max(capacity[n], 1), format(capacity[n], "events/s"),
				r.server.RefusedPct(), r.limitMean, r.limitLast, r.summary())
		}
	}
	n := capSlots[0]
	for _, c := range []capConfig{capAdaptive, capFixed} {
		ds := capOutage(c, n)
		if tmplErr != nil {
			b.res.fail(ds.rate.Name, tmplErr)
			continue
		}
		r, ok := b.capDrain(ctx, ds.rate, tmpl[outageN], outageN, c.cfg, n, b.sizes.Outage, b.sizes.DrainCap+b.sizes.Outage)
		if !ok {
			continue
		}
		if r.server.FirstAccepted.IsZero() {
			b.res.fail(ds.rate.Name, fmt.Errorf("no request accepted after the outage (%s)", r.summary()))
			continue
		}
		rate := r.rate(r.server.FirstAccepted)
		b.res.add(ds.rate, rate)
		if r.capped {
			b.res.capped(ds.rate, int(r.delivered), r.total)
		}
		b.res.add(ds.resume, r.server.FirstAccepted.Sub(r.recovered).Seconds())
		b.res.add(ds.peak, float64(r.server.PeakArriving))
		b.res.add(ds.beyond, float64(r.server.Refused))
		b.res.add(ds.refused, r.server.RefusedPct())
		b.res.add(ds.limit, r.limitMean)
		b.res.add(ds.dead, float64(r.dead))
		b.logf("%s: %s events/s after %s to resume; peak %d arriving at once (N %d), %d beyond capacity (%.2f %%), limit mean %.0f; %s",
			ds.rate.Name, format(rate, "events/s"), r.server.FirstAccepted.Sub(r.recovered).Round(time.Millisecond),
			r.server.PeakArriving, n, r.server.Refused, r.server.RefusedPct(), r.limitMean, r.summary())
	}
}

// capBackend measures the backend with n slots on its own and returns its
// capacity, or 0 when it could not be measured.
func (b *bench) capBackend(ctx context.Context, n int) float64 {
	s, err := startCapServer(n)
	if err != nil {
		b.res.fail(capBackendDef(n).Name, err)
		return 0
	}
	defer func() {
		if err := s.stop(); err != nil {
			b.res.fail(capBackendDef(n).Name, err)
		}
	}()
	client, capacity, err := s.calibrate(ctx, n, 2*time.Second)
	if err != nil {
		b.res.fail(capBackendDef(n).Name, err)
		return 0
	}
	b.res.add(capBackendDef(n), capacity)
	b.res.add(capClientDef(n), client)
	b.logf("backend N %d: capacity %s events/s, a client holding %d in flight %s events/s", n, format(capacity, "events/s"), n, format(client, "events/s"))
	return capacity
}

// capDrain copies template into a fresh database and drains it into a
// fresh backend of n slots; ok is false when it failed (and is recorded so).
func (b *bench) capDrain(ctx context.Context, d def, template string, total int, cfg outbox.Config, n int, outage, limit time.Duration) (capResult, bool) {
	if ctx.Err() != nil {
		return capResult{}, false
	}
	dbURL, done, err := b.srv.fresh(ctx, "capacity", template)
	if err != nil {
		b.res.fail(d.Name, err)
		return capResult{}, false
	}
	defer done()
	s, err := startCapServer(n)
	if err != nil {
		b.res.fail(d.Name, err)
		return capResult{}, false
	}
	defer func() {
		if err := s.stop(); err != nil {
			b.res.fail(d.Name, err)
		}
	}()
	r, err := drainCapacity(ctx, dbURL, total, cfg, s, outage, limit)
	if err != nil {
		b.res.fail(d.Name, err)
		return r, false
	}
	return r, true
}

// capResult is the outcome of one drain toward a capServer.
type capResult struct {
	total                             int
	delivered, dead, retried, release int64
	start, recovered                  time.Time // recovered is start when there was no outage
	last                              time.Time // of the last delivery, or the cap
	capped                            bool
	server                            capCounts // since recovery
	limitMean                         float64   // State().Limit, mean since recovery
	limitLast                         int
	left                              map[outbox.Status]int64 // events not completed, by status, after the processor stopped
}

// rate is the events delivered per second from since to the last delivery
// (or to the cap).
func (r capResult) rate(since time.Time) float64 {
	if !r.last.After(since) {
		return 0
	}
	return float64(r.delivered) / r.last.Sub(since).Seconds()
}

// summary says what became of the events.
func (r capResult) summary() string {
	return fmt.Sprintf("%s of %s delivered, %d dead, %d counted retries, %d releases; left in the store: %d pending, %d failed (awaiting a retry), %d processing, %d dead",
		thousands(r.delivered), thousands(int64(r.total)), r.dead, r.retried, r.release,
		r.left[outbox.StatusPending], r.left[outbox.StatusFailed], r.left[outbox.StatusProcessing], r.left[outbox.StatusDead])
}

// capObserver counts a processor's outcomes and says when every event is
// finished: delivered or dead.
type capObserver struct {
	total                             int64
	delivered, dead, retried, release atomic.Int64
	last                              atomic.Int64 // Unix nanoseconds of the latest delivery
	once                              sync.Once
	all                               chan struct{}
}

func (o *capObserver) Recorded(out outbox.Outcome, _ time.Duration) {
	switch out.Kind {
	case outbox.Delivered:
		o.last.Store(time.Now().UnixNano())
		o.delivered.Add(1)
	case outbox.Dead:
		o.dead.Add(1)
	case outbox.Retry:
		o.retried.Add(1)
	default:
		o.release.Add(1)
	}
	if o.delivered.Load()+o.dead.Load() >= o.total {
		o.once.Do(func() { close(o.all) })
	}
}
func (o *capObserver) Paused(time.Duration, error) {}
func (o *capObserver) Resumed()                    {}

// limitSampler samples a processor's State().Limit every 50 ms.
type limitSampler struct {
	mu         sync.Mutex
	sum, count int64
	last       int
}

func (l *limitSampler) run(ctx context.Context, p *outbox.Processor) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			v := p.State().Limit
			l.mu.Lock()
			l.sum, l.count, l.last = l.sum+int64(v), l.count+1, v
			l.mu.Unlock()
		}
	}
}

// reset forgets the samples so far.
func (l *limitSampler) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sum, l.count = 0, 0
}

func (l *limitSampler) result() (mean float64, last int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count == 0 {
		return 0, l.last
	}
	return float64(l.sum) / float64(l.count), l.last
}

// drainCapacity runs a processor with cfg through httpsender toward s
// until every one of the total events is delivered or dead, or limit
// passes. With outage > 0, s refuses everything for that long first, and
// the server's counts and the limit's samples start at its end.
func drainCapacity(ctx context.Context, dbURL string, total int, cfg outbox.Config, s *capServer, outage, limit time.Duration) (capResult, error) {
	res := capResult{total: total}
	store, err := pgstore.Open(ctx, dbURL, 10, pgstore.WithLogger(quiet))
	if err != nil {
		return res, err
	}
	defer store.Close()
	client := keepAliveClient(max(cfg.Concurrency, 16))
	defer client.CloseIdleConnections()
	sender, err := httpsender.New(s.url, map[string]string{benchEventType: benchRoute}, httpsender.WithLogger(quiet), httpsender.WithClient(client))
	if err != nil {
		return res, err
	}
	obs := &capObserver{total: int64(total), all: make(chan struct{})}
	cfg.Logger, cfg.Observer, cfg.Backoff = quiet, obs, capBackoff
	proc, err := outbox.NewProcessor(store, sender, cfg)
	if err != nil {
		return res, err
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var sampler limitSampler
	go sampler.run(runCtx, proc)
	s.down.Store(outage > 0)
	s.mark()
	res.start = time.Now()
	res.recovered = res.start
	ran := make(chan error, 1)
	go func() { ran <- proc.Run(runCtx) }()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	if outage > 0 {
		select {
		case <-time.After(outage):
		case <-ctx.Done():
		}
		s.mark()
		sampler.reset()
		s.down.Store(false)
		res.recovered = time.Now()
	}
	select {
	case <-obs.all:
	case <-timer.C:
		res.capped = true
	case <-ctx.Done():
	}
	res.server = s.counts()
	res.limitMean, res.limitLast = sampler.result()
	stop()
	if err := <-ran; err != nil {
		return res, fmt.Errorf("processor: %w", err)
	}
	res.delivered, res.dead, res.retried, res.release = obs.delivered.Load(), obs.dead.Load(), obs.retried.Load(), obs.release.Load()
	if res.capped {
		res.last = res.start.Add(limit)
	} else {
		res.last = time.Unix(0, obs.last.Load())
	}
	st, err := store.Stats(context.WithoutCancel(ctx))
	if err != nil {
		return res, fmt.Errorf("count what is left: %w", err)
	}
	res.left = st.Counts
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if res.delivered == 0 {
		return res, fmt.Errorf("no event was delivered (%s)", res.summary())
	}
	return res, nil
}

// capacityTargets checks the goals of the adaptive limit on the medians of
// the adaptive processor's figures.
func (r *results) capacityTargets() []target {
	var ts []target
	for _, n := range capSlots {
		ds := capSteady(capAdaptive, n)
		if share, ok := r.median(ds.share.Key); ok {
			rate, _ := r.median(ds.rate.Key)
			capacity, _ := r.median(capBackendDef(n).Key)
			ts = append(ts, target{
				Goal:     fmt.Sprintf("Backend of capacity N %d: the adaptive processor delivers ≥ 80 %% of its capacity", n),
				Measured: fmt.Sprintf("%.1f %% (%s of %s events/s)", share, format(rate, "events/s"), format(capacity, "events/s")),
				Met:      share >= 80,
			})
		}
		if refused, ok := r.median(ds.refused.Key); ok {
			ts = append(ts, target{
				Goal:     fmt.Sprintf("Backend of capacity N %d: the adaptive processor has < 1 %% of its requests refused", n),
				Measured: fmt.Sprintf("%.2f %%", refused),
				Met:      refused < 1,
			})
		}
	}
	ds := capOutage(capAdaptive, capSlots[0])
	if refused, ok := r.median(ds.refused.Key); ok {
		peak, _ := r.median(ds.peak.Key)
		beyond, _ := r.median(ds.beyond.Key)
		ts = append(ts, target{
			Goal: fmt.Sprintf("After an outage with a backlog, the adaptive processor drains without exceeding the capacity (N %d): < 1 %% of requests refused after recovery", capSlots[0]),
			Measured: fmt.Sprintf("%.2f %% (%s requests beyond capacity, at most %s arriving at once)",
				refused, format(beyond, "requests"), format(peak, "requests")),
			Met: refused < 1,
		})
	}
	return ts
}
