// Package outboxprom exposes an outbox to Prometheus. It lives apart from
// the runtime so that applications that do not use Prometheus do not
// depend on its client.
//
// A Metrics is both a processor Observer (deliveries by outcome, latencies,
// attempts, pause state) and a prometheus.Collector (events by status and
// the age of the oldest waiting event, read from the store at each scrape):
//
//	m := outboxprom.New(store)
//	prometheus.MustRegister(m)
//	proc := outbox.NewProcessor(store, sender, outbox.Config{Observer: m})
//
// Labels carry event types and outcomes only, never user or entity ids:
// events are about people.
package outboxprom

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// Metrics observes a processor and describes its store.
type Metrics struct {
	store   outbox.Inspector
	timeout time.Duration

	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	endToEnd   *prometheus.HistogramVec
	attempts   *prometheus.HistogramVec
	paused     prometheus.Gauge
	pausedAt   prometheus.Gauge
	pauseClass *prometheus.GaugeVec
	pauses     prometheus.Counter
	isPaused   atomic.Bool

	events         *prometheus.Desc
	oldestWaiting  *prometheus.Desc
	operatorPaused *prometheus.Desc
	scrapeErrors   prometheus.Counter
}

// New returns the metrics of store's outbox. Register it with a
// prometheus.Registerer and pass it as the processor's Observer.
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
		events: prometheus.NewDesc("outbox_events",
			"Events in the outbox, by status and event type.", []string{"status", "event_type"}, nil),
		oldestWaiting: prometheus.NewDesc("outbox_oldest_waiting_seconds",
			"Age of the oldest event waiting for delivery (pending, processing or failed); 0 when none is.", nil, nil),
		operatorPaused: prometheus.NewDesc("outbox_operator_paused",
			`1 for each event type whose delivery an operator paused (the pause command); event_type="*" when every type is.`, []string{"event_type"}, nil),
		scrapeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_scrape_errors_total",
			Help: "Scrapes that could not read the outbox's counts.",
		}),
	}
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

// IsPaused reports whether the observed processor is paused.
func (m *Metrics) IsPaused() bool { return m.isPaused.Load() }

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.events
	ch <- m.oldestWaiting
	ch <- m.operatorPaused
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector. Counts are read from the store
// at each scrape, so they are right whichever processor did the work.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	defer cancel()
	st, err := m.store.Stats(ctx)
	var pauses []outbox.Pause
	if err == nil {
		pauses, err = m.store.Pauses(ctx)
	}
	if err != nil {
		m.scrapeErrors.Inc()
	}
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
	if err != nil {
		return
	}
	for _, p := range pauses {
		typ := p.EventType
		if p.Every() {
			typ = "*"
		}
		ch <- prometheus.MustNewConstMetric(m.operatorPaused, prometheus.GaugeValue, 1, typ)
	}
	for typ, counts := range st.ByType {
		for _, status := range outbox.Statuses() {
			ch <- prometheus.MustNewConstMetric(m.events, prometheus.GaugeValue, float64(counts[status]), string(status), typ)
		}
	}
	age := 0.0
	if !st.OldestPending.IsZero() {
		age = time.Since(st.OldestPending).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(m.oldestWaiting, prometheus.GaugeValue, age)
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.deliveries, m.latency, m.endToEnd, m.attempts, m.paused, m.pausedAt, m.pauseClass, m.pauses, m.scrapeErrors}
}

var (
	_ outbox.Observer      = (*Metrics)(nil)
	_ prometheus.Collector = (*Metrics)(nil)
)
