package backend_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/outboxgen/outboxgen/examples/fitness/backend"
	"github.com/outboxgen/outboxgen/examples/fitness/metrics"
	"github.com/outboxgen/outboxgen/examples/fitness/metrics/wire"
	"github.com/outboxgen/outboxgen/internal/pgtest"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/httpsender"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T) (*backend.Server, string) {
	t.Helper()
	be, err := backend.Open(t.Context(), filepath.Join(t.TempDir(), "backend.db"))
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, be)
}

// startPostgres starts a backend on a new PostgreSQL database.
func startPostgres(t *testing.T) (*backend.Server, string) {
	t.Helper()
	be, err := backend.OpenPostgres(t.Context(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, be)
}

func serve(t *testing.T, be *backend.Server) (*backend.Server, string) {
	t.Helper()
	t.Cleanup(func() { be.Close() })
	url, err := be.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return be, url
}

// eachBackend runs test on a backend on SQLite and one on PostgreSQL.
func eachBackend(t *testing.T, test func(t *testing.T, start func(*testing.T) (*backend.Server, string))) {
	t.Run("sqlite", func(t *testing.T) { test(t, start) })
	t.Run("postgres", func(t *testing.T) { test(t, startPostgres) })
}

func post(t *testing.T, url, key, eventType, body string, header ...string) int {
	t.Helper()
	code, _ := postFor(t, url, key, eventType, body, header...)
	return code
}

// postFor posts body and returns the status and the response body.
func postFor(t *testing.T, url, key, eventType, body string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("X-Outbox-Event-Type", eventType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(got)
}

// The backend is the generated receiver: a repeat gets the original
// answer, the same key with another body is 422, a stale version is
// acknowledged without effect, and what is not an event is refused.
func TestReceivesDedupesAndValidates(t *testing.T) {
	eachBackend(t, func(t *testing.T, start func(*testing.T) (*backend.Server, string)) {
		be, url := start(t)
		id, key := uuid.NewString(), uuid.NewString()
		body := entry(id, 1, `"kg":70`)
		code, first := postFor(t, url+"/v1/weight", key, "weight.created", body)
		var receipt struct {
			ID      string
			Applied bool
		}
		if err := json.Unmarshal([]byte(first), &receipt); code != http.StatusCreated || err != nil || !receipt.Applied || receipt.ID == "" {
			t.Fatalf("first delivery: %d %s", code, first)
		}
		// A repeat gets the original response again, and changes nothing.
		if code, again := postFor(t, url+"/v1/weight", key, "weight.created", body); code != http.StatusCreated || again != first {
			t.Fatalf("repeated delivery: %d %s, want the original %s", code, again, first)
		}
		// The same key with another body is a client's bug.
		if code := post(t, url+"/v1/weight", key, "weight.created", strings.Replace(body, "70", "71", 1)); code != http.StatusUnprocessableEntity {
			t.Fatalf("the key with another body: %d, want 422", code)
		}
		updated := entry(id, 2, `"kg":72`)
		if code, text := postFor(t, url+"/v1/weight", uuid.NewString(), "weight.updated", updated); code != http.StatusOK || !strings.Contains(text, receipt.ID) {
			t.Fatalf("update: %d %s, want 200 with %s", code, text, receipt.ID)
		}
		if code, text := postFor(t, url+"/v1/weight", uuid.NewString(), "weight.updated", entry(id, 1, `"kg":60`)); code != http.StatusOK || !strings.Contains(text, `"applied":false`) {
			t.Fatalf("a stale version: %d %s, want 200 not applied", code, text)
		}
		for name, c := range map[string]struct{ key, typ, body string }{
			"no key":        {"", "weight.created", body},
			"wrong route":   {uuid.NewString(), "mood.created", body},
			"not json":      {uuid.NewString(), "weight.created", `{"payload_version":`},
			"missing parts": {uuid.NewString(), "weight.created", `{"payload_version":1}`},
		} {
			if code := post(t, url+"/v1/weight", c.key, c.typ, c.body); code/100 != 4 {
				t.Errorf("%s: %d, want a 4xx", name, code)
			}
		}
		counts, err := be.Counts("ada")
		if err != nil {
			t.Fatal(err)
		}
		if got := counts["weight"]; got.Records != 1 || got.Deliveries != 3 || got.Duplicates != 1 {
			t.Fatalf("counts %+v; want 1 record from 3 deliveries (one stale) and 1 duplicate", got)
		}
		records, err := be.Records("weight")
		if err != nil {
			t.Fatal(err)
		}
		var values struct{ Kg float64 }
		if r := records[id]; r.Version != 2 || r.Deleted || json.Unmarshal(r.Payload, &values) != nil || values.Kg != 72 {
			t.Fatalf("record %+v (%s), want version 2 at 72 kg", r, r.Payload)
		}
	})
}

// A repeat that arrives while the first request's answer is held (the
// backend answers slowly, after storing) gets the stored answer: the
// change is not applied twice.
func TestRepeatWhileHeldGetsTheStoredAnswer(t *testing.T) {
	be, url := start(t)
	be.SetFaults(backend.Faults{SlowShare: 1, SlowBy: time.Hour}) // the first answer is held until it is cut off
	key, body := uuid.NewString(), entry(uuid.NewString(), 1, `"kg":70`)
	ctx, cancel := context.WithCancel(t.Context())
	firstDone := make(chan struct{})
	go func() {
		defer close(firstDone)
		req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/weight", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		req.Header.Set("X-Outbox-Event-Type", "weight.created")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	// The first request is stored before its slow answer: wait for it.
	for {
		got, err := be.Received()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := got[key]; ok {
			break
		}
		time.Sleep(5 * time.Millisecond) // polling the backend's store, not synchronising on a guess
	}
	be.SetFaults(backend.Faults{})
	if code, text := postFor(t, url+"/v1/weight", key, "weight.created", body); code != http.StatusCreated || !strings.Contains(text, `"applied":true`) {
		t.Fatalf("a repeat while the first answer is held: %d %s, want its stored 201", code, text)
	}
	cancel()
	<-firstDone
	received, err := be.Received()
	if err != nil || received[key] != 1 {
		t.Fatalf("received %v (%v), want the key once with one duplicate", received, err)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestDownRefusesConnections(t *testing.T) {
	be, url := start(t)
	be.Down()
	if _, err := http.Post(url+"/v1/weight", "application/json", nil); err == nil {
		t.Fatal("a down backend accepted a connection")
	}
	if err := be.Up(); err != nil {
		t.Fatal(err)
	}
	if code := post(t, url+"/v1/weight", uuid.NewString(), "weight.created", `{}`); code != http.StatusUnprocessableEntity {
		t.Fatalf("after Up: %d", code)
	}
}

func TestRequiresToken(t *testing.T) {
	be, url := start(t)
	be.RequireToken("s3cret")
	if code := post(t, url+"/v1/weight", uuid.NewString(), "weight.created", `{}`); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	if code := post(t, url+"/v1/weight", uuid.NewString(), "weight.created", `{}`, "Authorization", "Bearer s3cret"); code != http.StatusUnprocessableEntity {
		t.Fatalf("with token: %d", code)
	}
}

// batchRoutes routes event types as the fitness metrics do, but for
// sleep.created, sent to the wrong metric, and water.created, sent to a
// path the backend does not serve.
var batchRoutes = map[string]string{
	"weight.created": "/v1/weight",
	"weight.updated": "/v1/weight",
	"mood.created":   "/v1/mood",
	"sleep.created":  "/v1/weight",
	"water.created":  "/v2/water",
}

// newSender returns a real sender to url with batchRoutes.
func newSender(t *testing.T, url string, opts ...httpsender.Option) *httpsender.Sender {
	t.Helper()
	s, err := httpsender.New(url, batchRoutes, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.CloseIdleConnections) // before the backend closes
	return s
}

// event returns a prepared event on its first attempt.
func event(t *testing.T, typ, payload string) *outbox.Event {
	t.Helper()
	ev, err := outbox.Prepare(outbox.Event{Type: typ, Aggregate: "entry", AggregateID: "1", Payload: []byte(payload)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ev.Attempts = 1
	return &ev
}

// entry is a metric entry's event payload.
func entry(id string, version int, fields string) string {
	return fmt.Sprintf(`{"payload_version":1,"id":%q,"user_id":"ada","recorded_at":"2026-05-01T07:00:00Z","version":%d,%s}`, id, version, fields)
}

// classOf names a delivery outcome: "delivered" or the error's class.
func classOf(err error) string {
	if err == nil {
		return "delivered"
	}
	class, _ := outbox.Classify(err)
	return class.String()
}

// An event delivered in a batch gets the answer it would get alone, and the
// backend ends up holding the same.
func TestBatchMatchesSingleDeliveries(t *testing.T) {
	beAlone, urlAlone := start(t)
	beBatch, urlBatch := start(t)
	alone := newSender(t, urlAlone)
	batch := newSender(t, urlBatch, httpsender.WithBatchRoute("/v1/batch"))

	weight, mood := uuid.NewString(), uuid.NewString()
	cases := []struct {
		name   string
		ev     *outbox.Event
		want   string
		entity string // of a delivered event
	}{
		{"created", event(t, "weight.created", entry(weight, 1, `"kg":70`)), "delivered", weight},
		{"other metric", event(t, "mood.created", entry(mood, 1, `"score":4`)), "delivered", mood},
		{"updated, odd spacing", event(t, "weight.updated", entry(weight, 2, " \"kg\" :\n 71 ")), "delivered", weight},
		{"invalid payload", event(t, "weight.created", `{"payload_version":1}`), "permanent", ""},
		{"not json", event(t, "weight.created", `"kg"`), "permanent", ""},
		{"wrong metric", event(t, "sleep.created", entry(uuid.NewString(), 1, `"hours":8`)), "permanent", ""},
		{"unknown path", event(t, "water.created", entry(uuid.NewString(), 1, `"ml":250`)), "permanent", ""},
		{"no route", event(t, "steps.created", entry(uuid.NewString(), 1, `"count":9000`)), "permanent", ""},
	}
	evs := make([]*outbox.Event, len(cases))
	for i, c := range cases {
		evs[i] = c.ev
	}
	// Each backend gives an entity an id of its own, the same on every
	// delivery of its events.
	ids := map[string]map[string]string{"alone": {}, "batch": {}}
	sameID := func(round, name, which, entity, id string) {
		if prev, ok := ids[which][entity]; ok && prev != id || id == "" {
			t.Errorf("%s, %s: %s remote id %q for %s, earlier %q", round, name, which, id, entity, prev)
		}
		ids[which][entity] = id
	}
	for _, round := range []string{"first delivery", "redelivery"} {
		res, err := batch.SendBatch(t.Context(), evs)
		if err != nil {
			t.Fatalf("%s: SendBatch: %v", round, err)
		}
		for i, c := range cases {
			rc, err := alone.Send(t.Context(), c.ev)
			got, gotAlone := classOf(res[i].Err), classOf(err)
			if got != c.want || gotAlone != c.want {
				t.Errorf("%s, %s: batched %s (%v), alone %s (%v); want %s", round, c.name, got, res[i].Err, gotAlone, err, c.want)
				continue
			}
			if c.want == "delivered" {
				sameID(round, c.name, "alone", c.entity, rc.RemoteID)
				sameID(round, c.name, "batch", c.entity, res[i].Receipt.RemoteID)
			}
			// The same reason, whichever request carried the event.
			if err != nil && afterRoute(res[i].Err.Error()) != afterRoute(err.Error()) {
				t.Errorf("%s, %s: batched error %q, alone %q", round, c.name, res[i].Err, err)
			}
		}
	}

	// Each backend picks its own ids for entries; all else is the same.
	recordsOf := func(metric string) func(*backend.Server) (any, error) {
		return func(be *backend.Server) (any, error) {
			rs, err := be.Records(metric)
			for id, r := range rs {
				if r.BackendID == "" {
					t.Errorf("%s entry %s has no backend id", metric, id)
				}
				r.BackendID = ""
				rs[id] = r
			}
			return rs, err
		}
	}
	for name, get := range map[string]func(*backend.Server) (any, error){
		"received":       func(be *backend.Server) (any, error) { return be.Received() },
		"weight records": recordsOf("weight"),
		"mood records":   recordsOf("mood"),
		"counts":         func(be *backend.Server) (any, error) { return be.Counts() },
	} {
		a, errA := get(beAlone)
		b, errB := get(beBatch)
		if err := errors.Join(errA, errB); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s differ:\n alone: %+v\n batch: %+v", name, a, b)
		}
	}
	counts, err := beBatch.Counts()
	if err != nil {
		t.Fatal(err)
	}
	if got := counts["weight"]; got.Records != 1 || got.Deliveries != 2 || got.Duplicates != 2 {
		t.Errorf("weight counts %+v; want 1 record from 2 deliveries, each delivered twice", got)
	}
	records, err := beBatch.Records("weight")
	if err != nil {
		t.Fatal(err)
	}
	var values struct{ Kg float64 }
	if err := json.Unmarshal(records[weight].Payload, &values); err != nil || values.Kg != 71 {
		t.Errorf("stored payload %q, want the update's values", records[weight].Payload)
	}
}

// afterRoute strips "POST <route>: " from a delivery error.
func afterRoute(msg string) string {
	if _, rest, ok := strings.Cut(msg, "): "); ok && strings.HasPrefix(msg, "POST /v1/batch (") {
		return rest
	}
	if rest, ok := strings.CutPrefix(msg, "POST "); ok {
		_, rest, _ = strings.Cut(rest, ": ")
		return rest
	}
	return msg
}

// What the backend answers to any request, it answers to a batch as a
// whole: the sender sees an outage, not bad events.
func TestBatchOutages(t *testing.T) {
	be, url := start(t)
	be.RequireToken("s3cret")
	withToken := newSender(t, url, httpsender.WithBatchRoute("/v1/batch"), httpsender.WithTokenSource(httpsender.StaticToken("s3cret")))
	sendOne := func(s *httpsender.Sender) ([]outbox.SendResult, error) {
		return s.SendBatch(t.Context(), []*outbox.Event{event(t, "weight.created", entry(uuid.NewString(), 1, `"kg":70`))})
	}
	received := func() int {
		got, err := be.Received()
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}

	_, err := sendOne(newSender(t, url, httpsender.WithBatchRoute("/v1/batch")))
	if got := classOf(err); got != "unavailable" || !strings.Contains(err.Error(), "401 Unauthorized") {
		t.Errorf("no token: %s (%v), want unavailable after a 401", got, err)
	}

	be.SetFaults(backend.Faults{FailShare: 1, FailStatus: http.StatusServiceUnavailable, RetryAfter: 7 * time.Second})
	res, err := sendOne(withToken)
	if class, after := outbox.Classify(err); err == nil || class != outbox.Transient || after != 7*time.Second || res != nil {
		t.Errorf("every request failing: %v, %v (%v, %v); want the batch transient after 7s", res, err, class, after)
	}

	be.SetFaults(backend.Faults{})
	be.Down()
	// Unanswered when the request went out on a kept-alive connection the
	// server closed as it went down: no evidence against the events either.
	if _, err := sendOne(withToken); classOf(err) != "unavailable" && classOf(err) != "unanswered" {
		t.Errorf("down: %s (%v), want unavailable or unanswered", classOf(err), err)
	}
	if n := received(); n != 0 {
		t.Errorf("%d events stored during outages, want none", n)
	}

	if err := be.Up(); err != nil {
		t.Fatal(err)
	}
	if res, err := sendOne(withToken); err != nil || res[0].Err != nil {
		t.Errorf("after the outages: %v, %v; want delivered", res, err)
	}
	if n := received(); n != 1 {
		t.Errorf("%d events stored, want 1", n)
	}
}

func TestBatchRejectsWhatIsNotABatch(t *testing.T) {
	_, url := start(t)
	many := `{"events":[` + strings.Repeat(`{},`, 1000) + `{}]}`
	for name, c := range map[string]struct {
		body string
		want int
	}{
		"not json":        {`{"events":`, http.StatusBadRequest},
		"a single event":  {entry(uuid.NewString(), 1, `"kg":70`), http.StatusBadRequest},
		"too many events": {many, http.StatusRequestEntityTooLarge},
		"empty batch":     {`{"events":[]}`, http.StatusOK},
	} {
		if code := post(t, url+"/v1/batch", "", "", c.body); code != c.want {
			t.Errorf("%s: %d, want %d", name, code, c.want)
		}
	}
	// The batch route does not shadow the metrics.
	if code := post(t, url+"/v1/weight", uuid.NewString(), "weight.created", entry(uuid.NewString(), 1, `"kg":70`)); code != http.StatusCreated {
		t.Errorf("single event after batches: %d", code)
	}
}

// Injected refusals and crashes come before the receiver: nothing of the
// refused or dropped events is stored, alone or in a batch.
func TestInjectedFaultsStoreNothing(t *testing.T) {
	be, url := start(t)
	sender := newSender(t, url, httpsender.WithBatchRoute("/v1/batch"))
	weight := uuid.NewString()
	ev := event(t, "weight.created", entry(weight, 1, `"kg":70`))

	be.SetFaults(backend.Faults{InProgressShare: 1})
	if code := post(t, url+"/v1/weight", uuid.NewString(), "weight.created", entry(weight, 1, `"kg":70`)); code != http.StatusConflict {
		t.Errorf("in progress, alone: %d, want 409", code)
	}
	if res, err := sender.SendBatch(t.Context(), []*outbox.Event{ev}); err == nil && res[0].Err == nil {
		t.Error("in progress, in a batch: delivered")
	}

	be.SetFaults(backend.Faults{DropEntity: weight})
	if _, err := sender.Send(t.Context(), ev); classOf(err) == "delivered" {
		t.Error("a dropped event, alone: delivered")
	}
	if res, err := sender.SendBatch(t.Context(), []*outbox.Event{ev}); err == nil && res[0].Err == nil {
		t.Error("a dropped event, in a batch: delivered")
	}
	if got, err := be.Received(); err != nil || len(got) != 0 {
		t.Fatalf("received %v (%v), want nothing", got, err)
	}

	be.SetFaults(backend.Faults{})
	if _, err := sender.Send(t.Context(), ev); err != nil {
		t.Fatalf("healthy again: %v", err)
	}
}

// Two backends on one PostgreSQL database behind a round-robin proxy take
// a processor's deliveries, batches and retries included: every event is
// received once, and each entry's record is the app's latest version.
func TestTwoBackendsOnOneDatabase(t *testing.T) {
	ctx := t.Context()
	db := pgtest.NewDatabase(t)
	var urls []*url.URL
	for range 2 {
		be, err := backend.OpenPostgres(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		_, base := serve(t, be)
		u, _ := url.Parse(base)
		urls = append(urls, u)
	}
	var next atomic.Int64
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(urls[next.Add(1)%2])
	}})
	defer proxy.Close()
	be, _ := backend.OpenPostgres(ctx, db) // reads the shared database
	defer be.Close()

	app := outboxtest.NewSQLiteStore(t)
	m := metrics.NewSQLite(app)
	if err := m.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	final := map[string]metrics.Weight{}
	day := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range 300 {
		w, err := m.Weight.Save(ctx, metrics.WeightInput{UserID: fmt.Sprint("user-", i%10), RecordedAt: day.AddDate(0, 0, i%7), Kg: 60 + float64(i)/10})
		if err != nil {
			t.Fatal(err)
		}
		final[w.ID.String()] = w
	}
	sender := newSender(t, proxy.URL, httpsender.WithBatchRoute(wire.BatchRoute))
	p, err := outbox.NewProcessor(app, sender, outbox.Config{
		Concurrency: 16, BatchSize: 16, SendBatch: 8,
		Backoff:            outbox.Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond},
		UnavailableBackoff: outbox.Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond},
		PollInterval:       20 * time.Millisecond,
		Logger:             slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	for {
		st, err := app.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if outboxtest.Unfinished(st) == 0 {
			if st.Counts[outbox.StatusDead] != 0 {
				t.Fatalf("%d events dead", st.Counts[outbox.StatusDead])
			}
			break
		}
		time.Sleep(10 * time.Millisecond) // polling the outbox's state, not synchronising
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	events, err := app.List(ctx, outbox.Filter{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	received, err := be.Received()
	if err != nil || len(received) != len(events) {
		t.Fatalf("received %d keys (%v), the app wrote %d events", len(received), err, len(events))
	}
	records, err := be.Records("weight")
	if err != nil {
		t.Fatal(err)
	}
	for id, w := range final {
		var values struct{ Kg float64 }
		r := records[id]
		if json.Unmarshal(r.Payload, &values) != nil || r.Version != w.Version || values.Kg != w.Kg {
			t.Errorf("entry %s: the app's version %d (%v kg), the backend's %d (%s)", id, w.Version, w.Kg, r.Version, r.Payload)
		}
	}
	if len(records) != len(final) {
		t.Errorf("%d records for %d entries", len(records), len(final))
	}
}
