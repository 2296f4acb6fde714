// Package outboxprom exposes an outbox to Prometheus. It lives apart from
// the runtime so that applications that do not use Prometheus do not
// depend on its client.
//
// A Metrics is both a processor Observer (deliveries by outcome, latencies,
// attempts, pause state, expired leases) and a prometheus.Collector
// (events by status, the age of the oldest waiting event, operators'
// pauses, read from the store at each scrape; the processor's events in
// flight; the build):
//
//	m := outboxprom.New(store)
//	prometheus.MustRegister(m)
//	proc := outbox.NewProcessor(store, sender, outbox.Config{Observer: m})
//	m.Track(proc)
//
// Labels carry event types and outcomes only, never user or entity ids:
// events are about people.
//
// A scrape's cost grows with the events waiting and dead, not with the
// completed ones: see outbox.Stats.
package outboxprom

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// Metrics observes a processor and describes its store.
type Metrics struct {
	store   outbox.Inspector
	timeout time.Duration
	tracked atomic.Pointer[func() outbox.State]

	deliveries    *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	endToEnd      *prometheus.HistogramVec
	attempts      *prometheus.HistogramVec
	paused        prometheus.Gauge
	pausedAt      prometheus.Gauge
	pauseClass    *prometheus.GaugeVec
	pauses        prometheus.Counter
	leaseExpiries prometheus.Counter
	isPaused      atomic.Bool

	scrape scrapeDescs
}

// New returns the metrics of store's outbox. Register it with a
// prometheus.Registerer, pass it as the processor's Observer, and Track
// the processor.
func New(store outbox.Inspector) *Metrics {
	return &Metrics{
		store:   store,
		timeout: 5 * time.Second,
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outbox_deliveries_total",
			Help: "Delivery attempts recorded, by event type and outcome (delivered, retry, dead, release).",
		}, []string{"event_type", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "outbox_delivery_duration_seconds",
			Help:    "How long one send to the backend took, by event type.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"event_type"}),
		endToEnd: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "outbox_end_to_end_seconds",
			Help:    "From enqueue (the save) to delivery, by event type.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 24),
		}, []string{"event_type"}),
		attempts: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "outbox_delivery_attempts",
			Help:    "Attempts a delivered event took, by event type.",
			Buckets: []float64{1, 2, 3, 4, 5, 7, 10, 15, 20},
		}, []string{"event_type"}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_processor_paused",
			Help: "1 while delivery is paused because nothing gets through to the backend.",
		}),
		pausedAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_processor_paused_since_seconds",
			Help: "When the current pause began, in Unix seconds; 0 while delivery flows.",
		}),
		pauseClass: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "outbox_processor_pause_class",
			Help: "1 for the class of failure (transient, permanent, unavailable, unanswered) that began the current pause.",
		}, []string{"class"}),
		pauses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_processor_pauses_total",
			Help: "Times delivery paused because nothing got through to the backend (pauses, not the probes during one).",
		}),
		leaseExpiries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_lease_expiries_total",
			Help: "Events this processor reclaimed because their lease expired before an outcome was recorded: their processor died or stalled.",
		}),
		scrape: newScrapeDescs(),
	}
}

// Track makes the metrics report p's events in flight.
func (m *Metrics) Track(p interface{ State() outbox.State }) {
	state := p.State
	m.tracked.Store(&state)
}

// Recorded implements outbox.Observer.
func (m *Metrics) Recorded(o outbox.Outcome, took time.Duration) {
	typ := o.Event.Type
	m.deliveries.WithLabelValues(typ, o.Kind.String()).Inc()
	if o.Kind == outbox.Release {
		return // no real attempt was made
	}
	m.latency.WithLabelValues(typ).Observe(took.Seconds())
	if o.Kind == outbox.Delivered {
		m.attempts.WithLabelValues(typ).Observe(float64(o.Event.Attempts))
		if !o.Event.CreatedAt.IsZero() {
			m.endToEnd.WithLabelValues(typ).Observe(time.Since(o.Event.CreatedAt).Seconds())
		}
	}
}

// Paused implements outbox.Observer.
func (m *Metrics) Paused(_ time.Duration, err error) {
	m.isPaused.Store(true)
	m.paused.Set(1)
	m.pausedAt.Set(float64(time.Now().Unix()))
	class, _ := outbox.Classify(err)
	m.pauseClass.Reset()
	m.pauseClass.WithLabelValues(class.String()).Set(1)
	m.pauses.Inc()
}

// Resumed implements outbox.Observer.
func (m *Metrics) Resumed() {
	m.isPaused.Store(false)
	m.paused.Set(0)
	m.pausedAt.Set(0)
	m.pauseClass.Reset()
}

// LeasesExpired implements outbox.LeaseObserver.
func (m *Metrics) LeasesExpired(n int) { m.leaseExpiries.Add(float64(n)) }

// IsPaused reports whether the observed processor is paused.
func (m *Metrics) IsPaused() bool { return m.isPaused.Load() }

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.deliveries, m.latency, m.endToEnd, m.attempts, m.paused, m.pausedAt, m.pauseClass, m.pauses,
		m.leaseExpiries, m.scrape.errors}
}

var (
	_ outbox.LeaseObserver = (*Metrics)(nil)
	_ prometheus.Collector = (*Metrics)(nil)
)
