package outbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/httpsender"
	"github.com/outboxgen/outboxgen/runtime/outboxprom"
)

// statusServer answers every delivery with the status its handler picks.
func statusServer(t *testing.T, status func(r *http.Request) int) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status(r))
		fmt.Fprint(w, `{"error":"see the backend's logs"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func newSender(t *testing.T, url string, opts ...httpsender.Option) *httpsender.Sender {
	t.Helper()
	// A timeout that fits the tests' 5 s lease.
	opts = append([]httpsender.Option{httpsender.WithTimeout(2 * time.Second)}, opts...)
	s, err := httpsender.New(url, map[string]string{"weight.updated": "/v1/weight"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.CloseIdleConnections)
	return s
}

// A backend that always answers 401 is a credentials outage: every event
// stays waiting, none goes dead, and the processor pauses.
func TestPersistent401PausesWithoutKilling(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		var mu sync.Mutex
		requests := 0
		backend := statusServer(t, func(*http.Request) int {
			mu.Lock()
			defer mu.Unlock()
			requests++
			return http.StatusUnauthorized
		})
		for i := range 5 {
			s.enqueue(t, event(fmt.Sprintf("w%d", i), 1))
		}
		cfg := fast(t)
		cfg.Backoff = outbox.Backoff{Base: time.Millisecond, Max: time.Millisecond} // would kill in ms if attempts counted
		rec := start(t, s, newSender(t, backend.URL, httpsender.WithTokenSource(httpsender.StaticToken("expired"))), cfg)
		rec.waitFor(t, outbox.Release, 20, 10*time.Second)

		st, err := s.Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st.Counts[outbox.StatusDead] != 0 || st.Counts[outbox.StatusCompleted] != 0 {
			t.Fatalf("after %d rounds of 401: %v; want every event waiting", rec.count(outbox.Release), st.Counts)
		}
		rec.mu.Lock()
		paused := rec.paused
		rec.mu.Unlock()
		if paused == 0 {
			t.Fatal("the processor never paused")
		}
		evs, err := s.List(t.Context(), outbox.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Status == outbox.StatusProcessing {
				continue // in flight at this instant
			}
			if ev.Attempts != 0 || !strings.Contains(ev.LastError, "401") {
				t.Fatalf("event %s: attempts %d, last error %q; want no attempt spent and the 401 named", ev.AggregateID, ev.Attempts, ev.LastError)
			}
		}
	})
}

// A 403 is about one event: only it goes dead, once it is refused again
// and again while the backend takes other events.
func Test403KillsOnlyThatEvent(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		entity := func(key string) outbox.Event {
			ev := event(key, 1)
			ev.Metadata = map[string]string{"entity": key}
			return ev
		}
		var others atomic.Int64
		backend := statusServer(t, func(r *http.Request) int {
			if r.Header.Get("X-Outbox-Meta-Entity") == "forbidden" {
				// Other users keep saving meanwhile.
				s.enqueue(t, entity(fmt.Sprintf("other-%d", others.Add(1))))
				return http.StatusForbidden
			}
			return http.StatusCreated
		})
		s.enqueue(t, entity("forbidden"))
		rec := start(t, s, newSender(t, backend.URL, httpsender.WithTokenSource(httpsender.StaticToken("good"))), fast(t))
		rec.waitFor(t, outbox.Dead, 1, 10*time.Second)
		dead, err := s.List(t.Context(), outbox.Filter{Status: outbox.StatusDead})
		if err != nil || len(dead) != 1 || dead[0].AggregateID != "forbidden" || !strings.Contains(dead[0].LastError, "403") {
			t.Fatalf("dead events: %+v, %v", dead, err)
		}
	})
}

// A marker in a payload reaches none of the logs, the metrics or the stored
// errors, through failures of every kind.
func TestPayloadNeverLeaks(t *testing.T) {
	const marker = "MARKER-7f3a-weight-of-ada"
	eachStore(t, func(t *testing.T, s testStore) {
		statuses := []int{http.StatusInternalServerError, http.StatusBadRequest, http.StatusTooManyRequests, http.StatusUnauthorized}
		var mu sync.Mutex
		n := 0
		backend := statusServer(t, func(*http.Request) int {
			mu.Lock()
			defer mu.Unlock()
			n++
			return statuses[n%len(statuses)]
		})
		for i := range 8 {
			ev := event(fmt.Sprintf("w%d", i), 1)
			ev.Payload = json.RawMessage(fmt.Sprintf(`{"kg":70,"note":%q}`, marker))
			ev.MaxAttempts = 2
			s.enqueue(t, ev)
		}
		var logs syncBuffer
		cfg := fast(t)
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		metrics := outboxprom.New(s)
		reg := prometheus.NewRegistry()
		reg.MustRegister(metrics)
		rec := newRecorder()
		cfg.Observer = both{metrics, rec}

		p := newProcessor(t, s, newSender(t, backend.URL, httpsender.WithTokenSource(httpsender.StaticToken("t"))), cfg)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		// Nothing is ever delivered, so nothing dies: every event is
		// tried, failing each way, and given back.
		rec.waitFor(t, outbox.Release, 40, 20*time.Second)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}

		evs, err := s.List(t.Context(), outbox.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if strings.Contains(ev.LastError, marker) {
				t.Fatalf("last_error of %s holds the payload: %q", ev.AggregateID, ev.LastError)
			}
		}
		if strings.Contains(logs.String(), marker) {
			t.Fatalf("the logs hold the payload:\n%s", logs.String())
		}
		if !strings.Contains(logs.String(), "event_id=") {
			t.Fatalf("the logs are empty; the test proves nothing:\n%s", logs.String())
		}
		if count, err := testutil.GatherAndCount(reg); err != nil || count == 0 {
			t.Fatalf("no metrics gathered: %d, %v", count, err)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(fmt.Sprint(mfs), marker) {
			t.Fatal("the metrics hold the payload")
		}
	})
}

// syncBuffer is a bytes.Buffer safe for the processor's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
