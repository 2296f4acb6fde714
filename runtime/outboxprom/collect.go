package outboxprom

import (
	"context"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// scrapeDescs are the metrics read at each scrape.
type scrapeDescs struct {
	events, completed, oldestWaiting, oldestByType, operatorPaused, inFlight, sendLimit, buildInfo *prometheus.Desc
	errors                                                                                         prometheus.Counter
}

func newScrapeDescs() scrapeDescs {
	return scrapeDescs{
		events: prometheus.NewDesc("outbox_events",
			"Events in the outbox that wait for delivery or are dead, by status (pending, processing, failed, dead) and event type; counted exactly.",
			[]string{"status", "event_type"}, nil),
		completed: prometheus.NewDesc("outbox_completed_events",
			"Completed events kept in the outbox until retention deletes them. Exact on SQLite; on PostgreSQL exact up to 10,000 and an estimate beyond (the statistics' count of live rows less the exact counts).",
			nil, nil),
		oldestWaiting: prometheus.NewDesc("outbox_oldest_waiting_seconds",
			"Age of the oldest event waiting for delivery (pending, processing or failed); 0 when none is.", nil, nil),
		oldestByType: prometheus.NewDesc("outbox_oldest_waiting_by_type_seconds",
			"Age of the oldest event of each event type waiting for delivery; types with none waiting are left out.", []string{"event_type"}, nil),
		operatorPaused: prometheus.NewDesc("outbox_operator_paused",
			`1 for each event type whose delivery an operator paused (the pause command); event_type="*" when every type is.`, []string{"event_type"}, nil),
		inFlight: prometheus.NewDesc("outbox_in_flight",
			"Events this processor claimed and has not recorded an outcome for yet: being delivered, waiting for a send slot, or their outcome being written.", nil, nil),
		sendLimit: prometheus.NewDesc("outbox_send_limit",
			"Sends this processor may have in flight at once now: its Concurrency, or less while its adaptive limit holds back from a backend that refuses for capacity (429, 503) or slows down.", nil, nil),
		buildInfo: prometheus.NewDesc("outbox_build_info",
			"1, labelled with the outboxgen version, the VCS revision of the binary's build and the Go version.", []string{"version", "revision", "go_version"}, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_scrape_errors_total",
			Help: "Scrapes that could not read the outbox's counts.",
		}),
	}
}

// waiting are the statuses of events still to be delivered, and dead: those
// outbox_events counts.
var waiting = []outbox.Status{outbox.StatusPending, outbox.StatusProcessing, outbox.StatusFailed, outbox.StatusDead}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	d := m.scrape
	for _, desc := range []*prometheus.Desc{d.events, d.completed, d.oldestWaiting, d.oldestByType, d.operatorPaused, d.inFlight, d.sendLimit, d.buildInfo} {
		ch <- desc
	}
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector. Counts are read from the store
// at each scrape, so they are right whichever processor did the work.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	d := m.scrape
	ch <- prometheus.MustNewConstMetric(d.buildInfo, prometheus.GaugeValue, 1, build.version, build.revision, build.goVersion)
	if state := m.tracked.Load(); state != nil {
		st := (*state)()
		ch <- prometheus.MustNewConstMetric(d.inFlight, prometheus.GaugeValue, float64(st.InFlight))
		ch <- prometheus.MustNewConstMetric(d.sendLimit, prometheus.GaugeValue, float64(st.Limit))
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	defer cancel()
	st, err := m.store.Stats(ctx)
	var pauses []outbox.Pause
	if err == nil {
		pauses, err = m.store.Pauses(ctx)
	}
	if err != nil {
		d.errors.Inc()
	}
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
	if err != nil {
		return
	}
	now := time.Now()
	for typ, counts := range st.ByType {
		for _, status := range waiting {
			ch <- prometheus.MustNewConstMetric(d.events, prometheus.GaugeValue, float64(counts[status]), string(status), typ)
		}
	}
	ch <- prometheus.MustNewConstMetric(d.completed, prometheus.GaugeValue, float64(st.Counts[outbox.StatusCompleted]))
	age := 0.0
	if !st.OldestPending.IsZero() {
		age = now.Sub(st.OldestPending).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(d.oldestWaiting, prometheus.GaugeValue, age)
	for typ, oldest := range st.OldestByType {
		ch <- prometheus.MustNewConstMetric(d.oldestByType, prometheus.GaugeValue, now.Sub(oldest).Seconds(), typ)
	}
	for _, p := range pauses {
		typ := p.EventType
		if p.Every() {
			typ = "*"
		}
		ch <- prometheus.MustNewConstMetric(d.operatorPaused, prometheus.GaugeValue, 1, typ)
	}
}

// build is what outbox_build_info says of this binary.
var build = func() (b struct{ version, revision, goVersion string }) {
	b.version, b.goVersion = outbox.Version(), runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				b.revision = s.Value
			}
		}
	}
	return b
}()
