package outbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/outboxgen/outboxgen/internal/pgtest"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/httpsender"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
)

// backend is a real HTTP server that records deliveries by idempotency key
// and notices a key delivered twice at the same time.
type backend struct {
	*httptest.Server
	mu         sync.Mutex
	inFlight   map[string]bool
	received   map[string]int   // deliveries per idempotency key
	versions   map[string][]int // versions per entity, in arrival order
	arrivals   map[string][]time.Time
	overlaps   []string
	respond    func(key string, n int) (status int, header http.Header) // nth delivery of key
	deliveries chan struct{}
}

func newBackend(t *testing.T) *backend {
	b := &backend{
		inFlight:   map[string]bool{},
		received:   map[string]int{},
		versions:   map[string][]int{},
		arrivals:   map[string][]time.Time{},
		deliveries: make(chan struct{}, 1),
	}
	b.Server = httptest.NewServer(http.HandlerFunc(b.handle))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) handle(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	var body struct{ Version int }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || key == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	if b.inFlight[key] {
		b.overlaps = append(b.overlaps, key)
	}
	b.inFlight[key] = true
	b.received[key]++
	n := b.received[key]
	b.arrivals[key] = append(b.arrivals[key], time.Now())
	respond := b.respond
	b.mu.Unlock()

	status, header := http.StatusCreated, http.Header{}
	if respond != nil {
		status, header = respond(key, n)
	}
	b.mu.Lock()
	if entity := r.Header.Get("X-Outbox-Meta-Entity"); status < 300 && entity != "" {
		b.versions[entity] = append(b.versions[entity], body.Version)
	}
	delete(b.inFlight, key)
	b.mu.Unlock()
	for k, vs := range header {
		w.Header()[k] = vs
	}
	w.WriteHeader(status)
	select {
	case b.deliveries <- struct{}{}:
	default:
	}
}

// A 503 with Retry-After: the retry waits as long as the backend asked,
// though the processor's own backoff is a millisecond.
func TestProcessorHonoursRetryAfter(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		b := newBackend(t)
		b.respond = func(_ string, n int) (int, http.Header) {
			if n == 1 {
				return http.StatusServiceUnavailable, http.Header{"Retry-After": {"1"}}
			}
			return http.StatusCreated, nil
		}
		sender, err := httpsender.New(b.URL, map[string]string{"weight.updated": "/v1/weight"}, httpsender.WithTimeout(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sender.CloseIdleConnections)
		stored := s.enqueue(t, event("w1", 1))[0]
		rec := start(t, s, sender, fast(t))
		rec.waitFor(t, outbox.Delivered, 1, 10*time.Second)

		b.mu.Lock()
		at := b.arrivals[stored.ID.String()]
		b.mu.Unlock()
		if len(at) != 2 {
			t.Fatalf("%d deliveries, want 2", len(at))
		}
		if gap := at[1].Sub(at[0]); gap < 990*time.Millisecond {
			t.Fatalf("retried after %s; the backend asked for 1 s", gap)
		}
	})
}

// Three processors, each with its own pool, share one PostgreSQL database
// and deliver 5,000 events to a real HTTP server: every event arrives, no
// event is ever in flight twice at once, and each entity's events arrive in
// order.
func TestThreeProcessorsShareOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("delivers 5,000 events over HTTP")
	}
	url := pgtest.NewDatabase(t)
	const entities, versions = 500, 10
	b := newBackend(t)
	routes := map[string]string{"weight.updated": "/v1/weight"}

	stores := make([]outbox.Store, 3)
	for i := range stores {
		s := outboxtest.NewPostgresStore(t, url)
		stores[i] = s
		if i == 0 {
			for v := 1; v <= versions; v++ {
				var batch []outbox.Event
				for e := range entities {
					ev := event(fmt.Sprintf("e%03d", e), v)
					ev.Metadata = map[string]string{"entity": ev.AggregateID}
					batch = append(batch, ev)
				}
				outboxtest.EnqueuePostgres(t, s, batch...)
			}
		}
	}
	var recs []*recorder
	for i, s := range stores {
		sender, err := httpsender.New(b.URL, routes, httpsender.WithTimeout(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sender.CloseIdleConnections)
		cfg := fast(t)
		cfg.Owner = fmt.Sprintf("processor-%d", i)
		cfg.Concurrency = 16
		cfg.BatchSize = 32
		recs = append(recs, start(t, s, sender, cfg))
	}

	deadline := time.After(2 * time.Minute)
	for {
		b.mu.Lock()
		got := len(b.received)
		b.mu.Unlock()
		if got == entities*versions {
			break
		}
		select {
		case <-b.deliveries:
		case <-deadline:
			t.Fatalf("%d of %d events delivered in 2 minutes", got, entities*versions)
		}
	}
	outboxtest.Drain(t, stores[0], &outboxtest.Sender{}, time.Minute)

	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.overlaps) > 0 {
		t.Fatalf("%d events were delivered concurrently twice, e.g. %s", len(b.overlaps), b.overlaps[0])
	}
	for entity, vs := range b.versions {
		for i, v := range vs {
			if v != i+1 {
				t.Fatalf("entity %s received versions %v; want 1 to %d in order", entity, vs, versions)
			}
		}
	}
	st, err := stores[0].Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Counts[outbox.StatusCompleted] != entities*versions {
		t.Fatalf("completed %d of %d", st.Counts[outbox.StatusCompleted], entities*versions)
	}
	for i, r := range recs {
		t.Logf("processor-%d delivered %d events", i, r.count(outbox.Delivered))
	}
}
