package httpsender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// batchItemSeen is an item of a batch request as a test server decodes it.
type batchItemSeen struct {
	ID       string            `json:"id"`
	Type     string            `json:"type"`
	Path     string            `json:"path"`
	Attempt  int               `json:"attempt"`
	Metadata map[string]string `json:"metadata"`
	Payload  json.RawMessage   `json:"payload"`
}

// decodeBatch decodes a batch request body, failing the test if it is not
// one.
func decodeBatch(t *testing.T, body []byte) []batchItemSeen {
	t.Helper()
	var doc struct {
		Events []batchItemSeen `json:"events"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Errorf("batch request body %q: %v", body, err)
	}
	return doc.Events
}

// results answers a batch: one result per item, made by result.
func results(items []batchItemSeen, result func(batchItemSeen) string) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = result(it)
	}
	return `{"results":[` + strings.Join(parts, ",") + `]}`
}

// batchServer answers requests to /v1/batch with answer(items) and counts
// the requests to other paths.
func batchServer(t *testing.T, answer func(w http.ResponseWriter, items []batchItemSeen)) (url string, others *atomic.Int32) {
	t.Helper()
	others = &atomic.Int32{}
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/batch" {
			others.Add(1)
			w.WriteHeader(http.StatusCreated)
			return
		}
		body, _ := io.ReadAll(r.Body)
		answer(w, decodeBatch(t, body))
	})
	return srv.URL, others
}

// sendBatch sends evs with s and fails the test on a batch error or on
// results that do not match evs.
func sendBatch(t *testing.T, s *Sender, evs ...*outbox.Event) []outbox.SendResult {
	t.Helper()
	res, err := s.SendBatch(context.Background(), evs)
	if err != nil {
		t.Fatalf("SendBatch: %v", err)
	}
	if len(res) != len(evs) {
		t.Fatalf("SendBatch returned %d results for %d events", len(res), len(evs))
	}
	return res
}

func TestBatchRequest(t *testing.T) {
	type seen struct {
		method, path string
		header       http.Header
		body         []byte
	}
	got := make(chan seen, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, r.Header.Clone(), body}
		items := decodeBatch(t, body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, results(items, func(it batchItemSeen) string {
			return fmt.Sprintf(`{"id":%q,"status":201,"remote_id":"r-%s"}`, it.ID, it.Type)
		}))
	})
	s := newSender(t, srv.URL+"/api/", WithBatchRoute("/v1/batch"), WithHeader("X-Api-Key", "k1"))

	weightPayload := "{ \"kg\" : 71.5,\n \"note\": \"caf\u00e9 <&>\" }" // odd spacing and HTML must survive
	weight := newEvent(t, "weight.created", weightPayload)
	weight.Attempts = 3
	weight.Metadata = map[string]string{"tenant": "acme", "Trace-Id": "abc-123", "bad key": "x", "multi": "a\nb"}
	meal := newEvent(t, "meal.created", `[1,2]`)
	res := sendBatch(t, s, weight, meal)

	r := <-got
	if r.method != http.MethodPost || r.path != "/api/v1/batch" {
		t.Errorf("request %s %s, want POST /api/v1/batch", r.method, r.path)
	}
	for k, v := range map[string]string{
		"Content-Type": "application/json", "User-Agent": "outboxgen", "X-Api-Key": "k1",
		"Idempotency-Key": "", "X-Outbox-Event-Type": "", "X-Outbox-Attempt": "", "Authorization": "",
	} {
		if g := r.header.Get(k); g != v {
			t.Errorf("header %s = %q, want %q", k, g, v)
		}
	}
	for k := range r.header {
		if strings.HasPrefix(k, "X-Outbox-") {
			t.Errorf("batch request carries the per-event header %s", k)
		}
	}

	items := decodeBatch(t, r.body)
	want := []batchItemSeen{
		{ID: weight.ID.String(), Type: "weight.created", Path: "/v1/weight", Attempt: 3,
			Metadata: map[string]string{"tenant": "acme", "Trace-Id": "abc-123"}, Payload: json.RawMessage(weightPayload)},
		{ID: meal.ID.String(), Type: "meal.created", Path: "/v1/meals", Attempt: 1, Payload: json.RawMessage(`[1,2]`)},
	}
	if len(items) != len(want) {
		t.Fatalf("%d items, want %d: %s", len(items), len(want), r.body)
	}
	for i, w := range want {
		g := items[i]
		if g.ID != w.ID || g.Type != w.Type || g.Path != w.Path || g.Attempt != w.Attempt ||
			fmt.Sprint(g.Metadata) != fmt.Sprint(w.Metadata) || !bytes.Equal(g.Payload, w.Payload) {
			t.Errorf("item %d = %+v (payload %s),\n want %+v (payload %s)", i, g, g.Payload, w, w.Payload)
		}
	}
	if n := strings.Count(string(r.body), `"metadata"`); n != 1 {
		t.Errorf("body has %d metadata fields, want 1: an event without metadata has none: %s", n, r.body)
	}

	for i, typ := range []string{"weight.created", "meal.created"} {
		if res[i].Err != nil || res[i].Receipt.RemoteID != "r-"+typ {
			t.Errorf("result %d = %+v, want delivered with remote id r-%s", i, res[i], typ)
		}
	}
}

func TestBatchRemoteIDField(t *testing.T) {
	cases := []struct {
		name   string
		opts   []Option
		result string // after the event's id
		want   string
	}{
		{"default", nil, `"remote_id":"r1"`, "r1"},
		{"number", nil, `"remote_id":42`, "42"},
		{"explicit id", []Option{WithRemoteIDField("id")}, `"remote_id":"r1"`, "r1"},
		{"custom field", []Option{WithRemoteIDField("uuid")}, `"uuid":"u1","remote_id":"no"`, "u1"},
		{"missing", nil, `"other":"x"`, ""},
		{"on 409 with WithConflictAsDelivered", []Option{WithConflictAsDelivered()}, `"remote_id":"old"`, "old"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status := 201
			if strings.HasPrefix(tc.name, "on 409") {
				status = 409
			}
			url, _ := batchServer(t, func(w http.ResponseWriter, items []batchItemSeen) {
				io.WriteString(w, results(items, func(it batchItemSeen) string {
					return fmt.Sprintf(`{"id":%q,"status":%d,%s}`, it.ID, status, tc.result)
				}))
			})
			s := newSender(t, url, append(tc.opts, WithBatchRoute("/v1/batch"))...)
			res := sendBatch(t, s, newEvent(t, "weight.created", `{}`))
			if res[0].Err != nil || res[0].Receipt.RemoteID != tc.want {
				t.Errorf("result %+v, want delivered with remote id %q", res[0], tc.want)
			}
		})
	}
}

// Each event's status in the results means what it would as the status of
// a response to the event alone.
func TestBatchResultStatuses(t *testing.T) {
	cases := []struct {
		status int
		want   string
	}{
		{200, "delivered"}, {201, "delivered"}, {204, "delivered"}, {409, "in progress"},
		{400, "permanent"}, {401, "unavailable"}, {403, "permanent"}, {404, "permanent"},
		{408, "transient"}, {410, "permanent"}, {422, "permanent"}, {425, "transient"},
		{429, "transient"}, {500, "transient"}, {502, "transient"}, {503, "transient"},
		{504, "transient"}, {301, "permanent"}, {302, "permanent"},
	}
	evs := make([]*outbox.Event, len(cases))
	statusOf := map[string]int{}
	for i, tc := range cases {
		evs[i] = newEvent(t, "weight.created", `{}`)
		statusOf[evs[i].ID.String()] = tc.status
	}
	url, _ := batchServer(t, func(w http.ResponseWriter, items []batchItemSeen) {
		slices.Reverse(items) // results may come in any order
		io.WriteString(w, results(items, func(it batchItemSeen) string {
			return fmt.Sprintf(`{"id":%q,"status":%d,"error":"echo of the payload %d","title":"reason\u0000 %d"}`, it.ID, statusOf[it.ID], statusOf[it.ID], statusOf[it.ID])
		}))
	})
	res := sendBatch(t, newSender(t, url, WithBatchRoute("/v1/batch")), evs...)
	for i, tc := range cases {
		err := res[i].Err
		if got := classOf(err); got != tc.want {
			t.Errorf("status %d: got %s (%v), want %s", tc.status, got, err, tc.want)
			continue
		}
		if err == nil {
			continue
		}
		if _, after := outbox.Classify(err); after != 0 {
			t.Errorf("status %d: RetryAfter %v, want 0: a result has no Retry-After", tc.status, after)
		}
		want := "POST /v1/batch (event for /v1/weight): " + statusText(tc.status)
		if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), `title "reason `+strconv.Itoa(tc.status)+`"`) ||
			strings.Contains(err.Error(), "echo") {
			t.Errorf("status %d: error %q should start with %q and quote the result's title, never its error text", tc.status, err, want)
		}
	}
}

// An answer the sender cannot read fails the events it leaves without a
// result as transient, so they are retried under the same key.
func TestBatchUnreadableResults(t *testing.T) {
	cases := []struct {
		name   string
		body   func(items []batchItemSeen) string
		wantOK []bool // per event; nil: none
		want   string // in the errors
	}{
		{"not json", func([]batchItemSeen) string { return "<html>ok</html>" }, nil, `not {"results":[...]}`},
		{"no results", func([]batchItemSeen) string { return `{"ok":true}` }, nil, `not {"results":[...]}`},
		{"null results", func([]batchItemSeen) string { return `{"results":null}` }, nil, `not {"results":[...]}`},
		{"array", func([]batchItemSeen) string { return `[]` }, nil, `not {"results":[...]}`},
		{"empty", func([]batchItemSeen) string { return `` }, nil, `not {"results":[...]}`},
		{"too large", func(items []batchItemSeen) string {
			return results(items, func(it batchItemSeen) string {
				return fmt.Sprintf(`{"id":%q,"status":201,"pad":%q}`, it.ID, strings.Repeat("x", maxBatchBodyBytes))
			})
		}, nil, "larger than 1024 KiB"},
		{"one missing", func(items []batchItemSeen) string {
			return results(items[:1], func(it batchItemSeen) string { return fmt.Sprintf(`{"id":%q,"status":201}`, it.ID) })
		}, []bool{true, false}, "no result for this event"},
		{"bad ids", func(items []batchItemSeen) string {
			return `{"results":[7,{"id":7,"status":201},{"id":"nope","status":201},` +
				fmt.Sprintf(`{"id":%q,"status":201}]}`, strings.ToUpper(items[1].ID))
		}, []bool{false, true}, "no result for this event"},
		{"status missing", func(items []batchItemSeen) string {
			return results(items, func(it batchItemSeen) string { return fmt.Sprintf(`{"id":%q}`, it.ID) })
		}, nil, "no valid status"},
		{"status a string", func(items []batchItemSeen) string {
			return results(items, func(it batchItemSeen) string { return fmt.Sprintf(`{"id":%q,"status":"201"}`, it.ID) })
		}, nil, "no valid status"},
		{"status out of range", func(items []batchItemSeen) string {
			return results(items, func(it batchItemSeen) string { return fmt.Sprintf(`{"id":%q,"status":2010}`, it.ID) })
		}, nil, "no valid status"},
		// A decoder that filled the first array's objects in place with the
		// second's would give the second event the first's status.
		{"results named twice", func(items []batchItemSeen) string {
			return fmt.Sprintf(`{"results":[{"id":%q,"status":201}],"Results":[{"id":%q}]}`, items[0].ID, items[1].ID)
		}, []bool{false, false}, ""},
		{"first result wins", func(items []batchItemSeen) string {
			return `{"results":[` + strings.Join([]string{
				fmt.Sprintf(`{"id":%q,"status":201}`, items[0].ID), fmt.Sprintf(`{"id":%q,"status":500}`, items[0].ID),
				fmt.Sprintf(`{"id":%q,"status":500}`, items[1].ID), fmt.Sprintf(`{"id":%q,"status":201}`, items[1].ID),
			}, ",") + `]}`
		}, []bool{true, false}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := batchServer(t, func(w http.ResponseWriter, items []batchItemSeen) { io.WriteString(w, tc.body(items)) })
			res := sendBatch(t, newSender(t, url, WithBatchRoute("/v1/batch")),
				newEvent(t, "weight.created", `{}`), newEvent(t, "meal.created", `{}`))
			for i, r := range res {
				if tc.wantOK != nil && tc.wantOK[i] {
					if r.Err != nil {
						t.Errorf("event %d: %v, want delivered", i, r.Err)
					}
					continue
				}
				if got := classOf(r.Err); got != "transient" {
					t.Errorf("event %d: got %s (%v), want transient", i, got, r.Err)
					continue
				}
				if tc.want == "" { // the result's own transient status
					continue
				}
				if msg := r.Err.Error(); !strings.HasPrefix(msg, "POST /v1/batch: 200 OK, but ") || !strings.Contains(msg, tc.want) ||
					!strings.Contains(msg, "same idempotency key") || len(msg) > 600 {
					t.Errorf("event %d: error %q should name the batch route, say %q and that it will be retried", i, msg, tc.want)
				}
			}
		})
	}
}

// A response that says "try again later" is the outcome of every event in
// the request.
func TestBatchWholeRequestStatus(t *testing.T) {
	cases := []struct {
		status     int
		retryAfter string
		wantMsg    string
	}{
		{503, "120", "503 Service Unavailable"},
		{429, "7", "429 Too Many Requests"},
		{500, "", "500 Internal Server Error"},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			url, others := batchServer(t, func(w http.ResponseWriter, _ []batchItemSeen) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				http.Error(w, "busy", tc.status)
			})
			s := newSender(t, url, WithBatchRoute("/v1/batch"))
			res, err := s.SendBatch(context.Background(), []*outbox.Event{newEvent(t, "weight.created", `{}`), newEvent(t, "meal.created", `{}`)})
			if res != nil {
				t.Errorf("results %+v, want none with a batch error", res)
			}
			if got := classOf(err); got != "transient" {
				t.Fatalf("got %s (%v), want transient", got, err)
			}
			if want := "POST /v1/batch: " + statusText(tc.status); !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q should start with %q and say %q", err, want, tc.wantMsg)
			}
			if _, after := outbox.Classify(err); tc.retryAfter != "" && strconv.Itoa(int(after.Seconds())) != tc.retryAfter {
				t.Errorf("RetryAfter %v, want %ss", after, tc.retryAfter)
			}
			if n := others.Load(); n != 0 {
				t.Errorf("%d requests to event routes, want none", n)
			}
		})
	}
}

// A batch refused as a whole with a status that says nothing about its
// events (no such endpoint, too large, a 4xx, a redirect) neither kills the
// events nor holds them back: each is sent on its own route, and gets that
// route's verdict; the refusal is logged once.
func TestBatchRefusedFallsBackToOneByOne(t *testing.T) {
	for _, status := range []int{404, 405, 501, 413, 400, 422, 409, 302} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			url, others := batchServer(t, func(w http.ResponseWriter, _ []batchItemSeen) {
				w.Header().Set("Location", "/elsewhere")
				http.Error(w, "no", status)
			})
			var logs strings.Builder
			s := newSender(t, url, WithBatchRoute("/v1/batch"), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			for range 2 {
				res := sendBatch(t, s, newEvent(t, "weight.created", `{}`), newEvent(t, "meal.created", `{}`))
				for i, r := range res {
					if r.Err != nil {
						t.Errorf("event %d: %v, want delivered on its own route", i, r.Err)
					}
				}
			}
			if n := others.Load(); n != 4 {
				t.Errorf("%d requests to event routes, want 4: every event, one by one", n)
			}
			if n := strings.Count(logs.String(), "refused a batch as a whole"); n != 1 {
				t.Errorf("the refusal logged %d times, want once:\n%s", n, logs.String())
			}
		})
	}
}

func TestBatchNetworkErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = newSender(t, "http://"+addr, WithBatchRoute("/v1/batch")).SendBatch(context.Background(), []*outbox.Event{newEvent(t, "weight.created", `{}`)})
	if got := classOf(err); got != "unavailable" || !strings.HasPrefix(err.Error(), "POST /v1/batch: ") {
		t.Errorf("connection refused: got %s (%v), want unavailable naming the batch route", got, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := hangingServer(t, cancel) // cancel once the request is in flight
	_, err = newSender(t, srv.URL, WithBatchRoute("/v1/batch")).SendBatch(ctx, []*outbox.Event{newEvent(t, "weight.created", `{}`)})
	if !errors.Is(err, context.Canceled) || classOf(err) != "unclassified" {
		t.Errorf("cancelled: err = %v (%s), want an unclassified context.Canceled", err, classOf(err))
	}
}

func TestBatchTokenRefresh(t *testing.T) {
	var mu sync.Mutex
	var auths []string
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		items := decodeBatch(t, body)
		if r.Header.Get("Authorization") != "Bearer t2" {
			http.Error(w, "token expired", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, results(items, func(it batchItemSeen) string { return fmt.Sprintf(`{"id":%q,"status":201}`, it.ID) }))
	})
	src := &rotatingSource{}
	res := sendBatch(t, newSender(t, srv.URL, WithBatchRoute("/v1/batch"), WithTokenSource(src)),
		newEvent(t, "weight.created", `{}`), newEvent(t, "meal.created", `{}`))
	for i, r := range res {
		if r.Err != nil {
			t.Errorf("event %d: %v", i, r.Err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(auths, ", "); got != "/v1/batch Bearer t1, /v1/batch Bearer t2" {
		t.Errorf("requests %q, want one batch with t1, then one with t2", got)
	}
	if gets, refreshes := src.counts(); gets != 1 || refreshes != 1 {
		t.Errorf("token source: %d gets, %d refreshes; want 1 and 1", gets, refreshes)
	}

	// A 401 that persists is an outage, not bad events.
	url, seen := authServer(t, "", http.StatusUnauthorized, "no")
	_, err := newSender(t, url, WithBatchRoute("/v1/batch"), WithTokenSource(&rotatingSource{})).
		SendBatch(context.Background(), []*outbox.Event{newEvent(t, "weight.created", `{}`)})
	if got := classOf(err); got != "unavailable" || !strings.Contains(err.Error(), "POST /v1/batch: 401 Unauthorized after refreshing") {
		t.Errorf("persistent 401: got %s (%v), want unavailable", got, err)
	}
	if n := len(seen()); n != 2 {
		t.Errorf("persistent 401: %d requests, want 2", n)
	}
}

// Events that cannot go in the batch request do not hold back the others.
func TestBatchUnbatchableEvents(t *testing.T) {
	var mu sync.Mutex
	var alone []string // path and route header of each request not to the batch route
	var batched []string
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != "/v1/batch" {
			alone = append(alone, r.URL.Path+" "+r.Header.Get("X-Tenant")+" "+string(body))
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"id":"single"}`)
			return
		}
		if r.Header.Get("X-Tenant") != "" {
			t.Errorf("the batch request carries the route header X-Tenant")
		}
		items := decodeBatch(t, body)
		for _, it := range items {
			batched = append(batched, it.Type)
		}
		io.WriteString(w, results(items, func(it batchItemSeen) string {
			return fmt.Sprintf(`{"id":%q,"status":201,"remote_id":"batched"}`, it.ID)
		}))
	})
	routes := map[string]string{"weight.created": "/v1/weight", "meal.created": "/v1/meals", "mood.created": "/v1/mood"}
	s, err := New(srv.URL, routes, WithBatchRoute("/v1/batch"), WithRouteHeader("meal.created", "X-Tenant", "acme"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.CloseIdleConnections)

	notJSON := newEvent(t, "mood.created", `{}`)
	notJSON.Payload = []byte(`{"unterminated`)
	evs := []*outbox.Event{
		newEvent(t, "weight.created", `{}`),
		newEvent(t, "sleep.logged", `{}`), // no route
		newEvent(t, "meal.created", `{}`), // route header
		nil,
		notJSON,
		newEvent(t, "mood.created", `{}`),
	}
	res := sendBatch(t, s, evs...)
	want := []struct{ class, remoteID string }{
		{"delivered", "batched"}, {"permanent", ""}, {"delivered", "single"}, {"permanent", ""}, {"delivered", "single"}, {"delivered", "batched"},
	}
	for i, w := range want {
		if got := classOf(res[i].Err); got != w.class || res[i].Receipt.RemoteID != w.remoteID {
			t.Errorf("event %d: %s %+v, want %s with remote id %q", i, got, res[i], w.class, w.remoteID)
		}
	}
	if msg := res[1].Err.Error(); !strings.Contains(msg, `no route for event type "sleep.logged"`) {
		t.Errorf("unrouted event: error %q should name its type", msg)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(alone)
	if got := strings.Join(alone, " | "); got != `/v1/meals acme {} | /v1/mood  {"unterminated` {
		t.Errorf("requests sent alone: %q", got)
	}
	if got := strings.Join(batched, " "); got != "weight.created mood.created" {
		t.Errorf("batched types %q, want weight.created mood.created", got)
	}
}

// When the batch request fails as a whole, events sent alone keep their own
// results.
func TestBatchFailureSparesEventsSentAlone(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/batch" {
			w.Header().Set("Retry-After", "30")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	s := newSender(t, srv.URL, WithBatchRoute("/v1/batch"), WithRouteHeader("meal.created", "X-Tenant", "acme"))
	res := sendBatch(t, s, newEvent(t, "weight.created", `{}`), newEvent(t, "meal.created", `{}`))
	if class, after := outbox.Classify(res[0].Err); res[0].Err == nil || class != outbox.Transient || after.Seconds() != 30 {
		t.Errorf("batched event: %v (%v, %v), want transient after 30s", res[0].Err, class, after)
	}
	if res[1].Err != nil {
		t.Errorf("event sent alone: %v, want delivered", res[1].Err)
	}
}

// Without a batch route every event is posted to its own route, all at
// once: the server answers none until it has all of them.
func TestBatchWithoutBatchRoute(t *testing.T) {
	const n = 8
	var arrived atomic.Int32
	all := make(chan struct{})
	var mu sync.Mutex
	paths := map[string]string{} // by idempotency key
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths[r.Header.Get("Idempotency-Key")] = r.URL.Path
		mu.Unlock()
		if arrived.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
		case <-r.Context().Done():
			return
		}
		if r.URL.Path == "/v1/meals" {
			http.Error(w, "bad meal", http.StatusUnprocessableEntity)
			return
		}
		fmt.Fprintf(w, `{"id":%q}`, r.Header.Get("Idempotency-Key"))
	})
	var evs []*outbox.Event
	for i := range n {
		typ := "weight.created"
		if i%2 == 1 {
			typ = "meal.created"
		}
		evs = append(evs, newEvent(t, typ, `{}`))
	}
	evs = append(evs, newEvent(t, "sleep.logged", `{}`))
	res := sendBatch(t, newSender(t, srv.URL), evs...)
	for i, ev := range evs {
		switch {
		case ev.Type == "sleep.logged":
			if classOf(res[i].Err) != "permanent" {
				t.Errorf("unrouted event: %v, want permanent", res[i].Err)
			}
		case ev.Type == "meal.created":
			if classOf(res[i].Err) != "permanent" || !strings.HasPrefix(res[i].Err.Error(), "POST /v1/meals: 422") {
				t.Errorf("event %d: %v, want the permanent 422 of /v1/meals", i, res[i].Err)
			}
		case res[i].Err != nil || res[i].Receipt.RemoteID != ev.ID.String():
			t.Errorf("event %d: %+v, want delivered with its own remote id", i, res[i])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) != n {
		t.Errorf("%d requests, want %d", len(paths), n)
	}
	for _, ev := range evs[:n] {
		if want := testRoutes[ev.Type]; paths[ev.ID.String()] != want {
			t.Errorf("%s went to %q, want %q", ev.Type, paths[ev.ID.String()], want)
		}
	}
}

func TestBatchEmpty(t *testing.T) {
	url, others := batchServer(t, func(w http.ResponseWriter, _ []batchItemSeen) {
		t.Error("a batch request for no events")
	})
	for _, opts := range [][]Option{nil, {WithBatchRoute("/v1/batch")}} {
		res, err := newSender(t, url, opts...).SendBatch(context.Background(), nil)
		if err != nil || len(res) != 0 {
			t.Errorf("SendBatch(nil) = %v, %v; want no results and no error", res, err)
		}
	}
	if n := others.Load(); n != 0 {
		t.Errorf("%d requests for no events", n)
	}
}
