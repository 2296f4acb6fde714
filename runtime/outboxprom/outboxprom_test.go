package outboxprom_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/outboxprom"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMetricsMoveWithDeliveries(t *testing.T) {
	store := outboxtest.NewSQLiteStore(t)
	outboxtest.EnqueueSQLite(t, store,
		outbox.Event{Type: "weight.created", Aggregate: "weight", AggregateID: "w1", UserID: "secret-user-7"},
		outbox.Event{Type: "weight.created", Aggregate: "weight", AggregateID: "w2", UserID: "secret-user-7"},
	)
	m := outboxprom.New(store)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)

	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP outbox_events Events in the outbox that wait for delivery or are dead, by status (pending, processing, failed, dead) and event type; counted exactly.
# TYPE outbox_events gauge
outbox_events{event_type="weight.created",status="dead"} 0
outbox_events{event_type="weight.created",status="failed"} 0
outbox_events{event_type="weight.created",status="pending"} 2
outbox_events{event_type="weight.created",status="processing"} 0
`), "outbox_events"); err != nil {
		t.Fatal(err)
	}

	evs, err := store.Claim(t.Context(), "t", 10, time.Minute)
	if err != nil || len(evs) != 2 {
		t.Fatal(evs, err)
	}
	m.Recorded(outbox.Outcome{Event: evs[0], Kind: outbox.Retry}, 20*time.Millisecond)
	m.Recorded(outbox.Outcome{Event: evs[1], Kind: outbox.Delivered}, 10*time.Millisecond)
	m.Paused(time.Second, outbox.UnavailableError(errors.New("refused")))

	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP outbox_deliveries_total Delivery attempts recorded, by event type and outcome (delivered, retry, dead, release).
# TYPE outbox_deliveries_total counter
outbox_deliveries_total{event_type="weight.created",outcome="delivered"} 1
outbox_deliveries_total{event_type="weight.created",outcome="retry"} 1
# HELP outbox_processor_paused 1 while delivery is paused because nothing gets through to the backend.
# TYPE outbox_processor_paused gauge
outbox_processor_paused 1
# HELP outbox_processor_pause_class 1 for the class of failure (transient, permanent, unavailable, unanswered) that began the current pause.
# TYPE outbox_processor_pause_class gauge
outbox_processor_pause_class{class="unavailable"} 1
# HELP outbox_delivery_attempts Attempts a delivered event took, by event type.
# TYPE outbox_delivery_attempts histogram
outbox_delivery_attempts_bucket{event_type="weight.created",le="1"} 1
outbox_delivery_attempts_bucket{event_type="weight.created",le="2"} 1
outbox_delivery_attempts_bucket{event_type="weight.created",le="3"} 1
outbox_delivery_attempts_bucket{event_type="weight.created",le="4"} 1
outbox_delivery_attempts_bucket{event_type="weight.created",le="5"} 1
outbox_delivery_attempts_bucket{event_type="weight.created",le="7"} 1
outbox_delivery_attempts_bucket{event_type="weight.created",le="10"} 1
outbox_delivery_attempts_bucket{event_type="weight.created",le="15"} 1
outbox_delivery_attempts_bucket{event_type="weight.created",le="20"} 1
outbox_delivery_attempts_bucket{event_type="weight.created",le="+Inf"} 1
outbox_delivery_attempts_sum{event_type="weight.created"} 1
outbox_delivery_attempts_count{event_type="weight.created"} 1
`), "outbox_deliveries_total", "outbox_processor_paused", "outbox_processor_pause_class", "outbox_delivery_attempts"); err != nil {
		t.Fatal(err)
	}
	if !m.IsPaused() {
		t.Fatal("not paused")
	}
	m.Resumed()
	if m.IsPaused() {
		t.Fatal("still paused")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
		for _, metric := range mf.GetMetric() {
			for _, l := range metric.GetLabel() {
				if strings.Contains(l.GetValue(), "secret-user-7") || l.GetValue() == "w1" || l.GetValue() == "w2" {
					t.Errorf("%s carries a user or entity id in label %s", mf.GetName(), l.GetName())
				}
			}
		}
	}
	for _, want := range []string{"outbox_delivery_duration_seconds", "outbox_end_to_end_seconds", "outbox_oldest_waiting_seconds", "outbox_processor_pauses_total"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("no %s among %v", want, names)
		}
	}
}

// Operators' pauses are read from the store at each scrape, whichever
// processor or command put them in force.
func TestOperatorPausesAreExported(t *testing.T) {
	store := outboxtest.NewSQLiteStore(t)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(outboxprom.New(store))
	if n, err := testutil.GatherAndCount(reg, "outbox_operator_paused"); err != nil || n != 0 {
		t.Fatalf("outbox_operator_paused series with nothing paused: %d, %v", n, err)
	}
	for _, typ := range []string{"", "weight.created"} {
		if err := store.Pause(t.Context(), outbox.Pause{EventType: typ, By: "ada", Reason: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP outbox_operator_paused 1 for each event type whose delivery an operator paused (the pause command); event_type="*" when every type is.
# TYPE outbox_operator_paused gauge
outbox_operator_paused{event_type="*"} 1
outbox_operator_paused{event_type="weight.created"} 1
`), "outbox_operator_paused"); err != nil {
		t.Fatal(err)
	}
}

// stateOf is a processor's State for Track.
type stateOf outbox.State

func (s stateOf) State() outbox.State { return outbox.State(s) }

// The scrape also reports completed events apart, the oldest waiting
// event of each type, the tracked processor's events in flight, expired
// leases and the build.
func TestScrapeReportsBacklogInFlightAndBuild(t *testing.T) {
	store := outboxtest.NewSQLiteStore(t)
	old := time.Now().Add(-time.Hour)
	outboxtest.EnqueueSQLite(t, store,
		outbox.Event{Type: "weight.created", Aggregate: "weight", AggregateID: "w1"},
		outbox.Event{Type: "mood.created", Aggregate: "mood", AggregateID: "m1"},
	)
	evs, err := store.Claim(t.Context(), "t", 1, time.Minute)
	if err != nil || len(evs) != 1 {
		t.Fatal(evs, err)
	}
	if _, err := store.Finish(t.Context(), []outbox.Outcome{{Event: evs[0], Kind: outbox.Delivered}}); err != nil {
		t.Fatal(err)
	}
	m := outboxprom.New(store)
	m.Track(stateOf{InFlight: 7, Limit: 12})
	m.LeasesExpired(2)
	m.LeasesExpired(1)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP outbox_completed_events Completed events kept in the outbox until retention deletes them. Exact on SQLite; on PostgreSQL exact up to 10,000 and an estimate beyond (the statistics' count of live rows less the exact counts).
# TYPE outbox_completed_events gauge
outbox_completed_events 1
# HELP outbox_in_flight Events this processor claimed and has not recorded an outcome for yet: being delivered, waiting for a send slot, or their outcome being written.
# TYPE outbox_in_flight gauge
outbox_in_flight 7
# HELP outbox_lease_expiries_total Events this processor reclaimed because their lease expired before an outcome was recorded: their processor died or stalled.
# TYPE outbox_lease_expiries_total counter
outbox_lease_expiries_total 3
# HELP outbox_send_limit Sends this processor may have in flight at once now: its Concurrency, or less while its adaptive limit holds back from a backend that refuses for capacity (429, 503) or slows down.
# TYPE outbox_send_limit gauge
outbox_send_limit 12
`), "outbox_completed_events", "outbox_in_flight", "outbox_lease_expiries_total", "outbox_send_limit"); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byType := map[string]float64{}
	var build map[string]string
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range metric.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "outbox_oldest_waiting_by_type_seconds":
				byType[labels["event_type"]] = metric.GetGauge().GetValue()
			case "outbox_build_info":
				build = labels
			}
		}
	}
	if len(byType) != 1 || byType["mood.created"] <= 0 || byType["mood.created"] > time.Since(old).Seconds() {
		t.Errorf("oldest waiting by type %v; want mood.created only, its age", byType)
	}
	if build["version"] == "" || !strings.HasPrefix(build["go_version"], "go") {
		t.Errorf("build info labels %v", build)
	}
}
