package backend_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/outboxgen/outboxgen/examples/fitness/backend"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/httpsender"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T) (*backend.Server, string) {
	t.Helper()
	be, err := backend.Open(t.Context(), filepath.Join(t.TempDir(), "backend.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	url, err := be.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return be, url
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

func TestReceivesDedupesAndValidates(t *testing.T) {
	be, url := start(t)
	id, key := uuid.NewString(), uuid.NewString()
	body := `{"payload_version":1,"id":"` + id + `","user_id":"ada","version":1,"kg":70}`
	code, first := postFor(t, url+"/v1/weight", key, "weight.created", body)
	if code != http.StatusCreated || first != `{"id":"be-`+id+`"}` {
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
	updated := strings.Replace(body, `"version":1`, `"version":2`, 1)
	if code := post(t, url+"/v1/weight", uuid.NewString(), "weight.updated", updated); code != http.StatusCreated {
		t.Fatalf("update: %d", code)
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
	if got := counts["weight"]; got.Records != 1 || got.Deliveries != 2 || got.Duplicates != 1 {
		t.Fatalf("counts %+v; want 1 record from 2 deliveries and 1 duplicate", got)
	}
}

// A repeat that arrives while the first request with its key is still
// being processed is answered 409, and the first one completes.
func TestRepeatWhileInProgressIsConflict(t *testing.T) {
	be, url := start(t)
	be.SetFaults(backend.Faults{SlowShare: 1, SlowBy: time.Hour}) // the first request is held until it is cut off
	key, body := uuid.NewString(), entry(uuid.NewString(), 1, `"kg":70`)
	ctx, cancel := context.WithCancel(t.Context())
	firstDone := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/weight", strings.NewReader(body))
		req.Header.Set("Idempotency-Key", key)
		req.Header.Set("X-Outbox-Event-Type", "weight.created")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			firstDone <- resp.StatusCode
			return
		}
		firstDone <- 0
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
	code, text := postFor(t, url+"/v1/weight", key, "weight.created", body)
	if code != http.StatusConflict || !strings.Contains(text, "still being processed") {
		t.Fatalf("a repeat while the first is in progress: %d %s, want 409", code, text)
	}
	cancel()
	<-firstDone
	be.SetFaults(backend.Faults{})
	// The server notices the first request's end a moment after its
	// client does: until then a repeat is still in progress.
	deadline := time.Now().Add(10 * time.Second)
	for code = post(t, url+"/v1/weight", key, "weight.created", body); code == http.StatusConflict && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond) // polling the server
		code = post(t, url+"/v1/weight", key, "weight.created", body)
	}
	if code != http.StatusCreated {
		t.Fatalf("a repeat once the first completed: %d, want its original 201", code)
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
	return fmt.Sprintf(`{"payload_version":1,"id":%q,"user_id":"ada","version":%d,%s}`, id, version, fields)
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
		name string
		ev   *outbox.Event
		want string
	}{
		{"created", event(t, "weight.created", entry(weight, 1, `"kg":70`)), "delivered"},
		{"other metric", event(t, "mood.created", entry(mood, 1, `"score":4`)), "delivered"},
		{"updated, odd spacing", event(t, "weight.updated", entry(weight, 2, " \"kg\" :\n 71 ")), "delivered"},
		{"invalid payload", event(t, "weight.created", `{"payload_version":1}`), "permanent"},
		{"not json", event(t, "weight.created", `"kg"`), "permanent"},
		{"wrong metric", event(t, "sleep.created", entry(uuid.NewString(), 1, `"hours":8`)), "permanent"},
		{"unknown path", event(t, "water.created", entry(uuid.NewString(), 1, `"ml":250`)), "permanent"},
		{"no route", event(t, "steps.created", entry(uuid.NewString(), 1, `"count":9000`)), "permanent"},
	}
	evs := make([]*outbox.Event, len(cases))
	for i, c := range cases {
		evs[i] = c.ev
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
			if res[i].Receipt != rc {
				t.Errorf("%s, %s: batched receipt %+v, alone %+v", round, c.name, res[i].Receipt, rc)
			}
			if c.want == "delivered" && !strings.HasPrefix(rc.RemoteID, "be-") {
				t.Errorf("%s, %s: remote id %q, want the backend's", round, c.name, rc.RemoteID)
			}
			// The same reason, whichever request carried the event.
			if err != nil && afterRoute(res[i].Err.Error()) != afterRoute(err.Error()) {
				t.Errorf("%s, %s: batched error %q, alone %q", round, c.name, res[i].Err, err)
			}
		}
	}

	for name, get := range map[string]func(*backend.Server) (any, error){
		"received":       func(be *backend.Server) (any, error) { return be.Received() },
		"weight records": func(be *backend.Server) (any, error) { return be.Records("weight") },
		"mood records":   func(be *backend.Server) (any, error) { return be.Records("mood") },
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
	if got := string(records[weight].Payload); got != entry(weight, 2, " \"kg\" :\n 71 ") {
		t.Errorf("stored payload %q, want the update's bytes", got)
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
