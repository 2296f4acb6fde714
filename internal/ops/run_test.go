package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/outboxgen/outboxgen/internal/cli"
	"github.com/outboxgen/outboxgen/internal/pgtest"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
)

// run delivers to a real HTTP backend, serves /healthz and /metrics while
// it does, and stops cleanly when its context ends.
func TestRunServesMetricsThatMove(t *testing.T) {
	eachTarget(t, testRunServesMetricsThatMove)
}

// eachTarget runs test on a new SQLite file and a new PostgreSQL database,
// migrated (with the metric tables of testCatalog) by the migrate command;
// flags point a command at it, and enqueue writes events into it.
func eachTarget(t *testing.T, test func(t *testing.T, spec string, flags []string, enqueue func(...outbox.Event))) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			spec := testCatalog
			flags := []string{"--db", filepath.Join(dir, "app.db")}
			if kind == "postgres" {
				flags = []string{"--database-url", pgtest.NewDatabase(t)}
			}
			if code, out, errOut := runCLI(t, append(append([]string{"migrate"}, flags...), "--catalog", spec)...); code != cli.ExitOK || !strings.Contains(out, "metric tables") {
				t.Fatal(out, errOut)
			}
			var enqueue func(...outbox.Event)
			if kind == "postgres" {
				s, err := pgstore.Open(t.Context(), flags[1], 2)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(s.Close)
				enqueue = func(evs ...outbox.Event) { outboxtest.EnqueuePostgres(t, s, evs...) }
			} else {
				s, err := sqlitestore.Open(t.Context(), flags[1])
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				enqueue = func(evs ...outbox.Event) { outboxtest.EnqueueSQLite(t, s, evs...) }
			}
			test(t, spec, flags, enqueue)
		})
	}
}

func testRunServesMetricsThatMove(t *testing.T, spec string, flags []string, enqueue func(...outbox.Event)) {

	var received atomic.Int64
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/weight" {
			http.Error(w, "no such route", http.StatusNotFound)
			return
		}
		<-release // hold deliveries until the first scrape is done
		received.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	defer backend.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	const n = 5
	var evs []outbox.Event
	for range n {
		evs = append(evs, outbox.Event{Type: "weight.created", Aggregate: "weight", AggregateID: uuid.NewString(), Payload: []byte(`{}`)})
	}
	enqueue(evs...)

	ctx, cancel := context.WithCancel(t.Context())
	addr := make(chan string, 1)
	var logs bytes.Buffer
	e := &env{Ctx: ctx, Stdout: io.Discard, Stderr: &logs, Stdin: eofReader{}, Now: time.Now, Listening: func(a string) { addr <- a }}
	done := make(chan int, 1)
	go func() {
		done <- testProgram().Run(e, append([]string{"run", "--catalog", spec, "--backend", backend.URL, "--listen", "127.0.0.1:0", "--poll", "100ms"}, flags...))
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case code := <-done:
		t.Fatalf("run exited %d:\n%s", code, logs.String())
	}

	delivered := regexp.MustCompile(`outbox_deliveries_total\{event_type="weight.created",outcome="delivered"\} (\d+)`)
	scrape := func() string {
		t.Helper()
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	before := scrape()
	sendLimit := regexp.MustCompile(`(?m)^outbox_send_limit [1-9][0-9]*$`)
	if delivered.MatchString(before) || !strings.Contains(before, "outbox_completed_events 0") || !strings.Contains(before, `outbox_build_info{`) || !sendLimit.MatchString(before) {
		t.Fatalf("first scrape, deliveries held back:\n%s", grepOutbox(before))
	}
	waitFor(t, "the 5 held deliveries to show in flight", func() bool { return strings.Contains(scrape(), "outbox_in_flight 5") })
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := delivered.FindStringSubmatch(scrape())
		if m != nil && m[1] == "5" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries counter never reached 5:\n%s", grepOutbox(scrape()))
		}
		time.Sleep(20 * time.Millisecond) // polling an external endpoint
	}
	// The outcomes are counted once recorded, and the slots freed just after.
	waitFor(t, "nothing in flight", func() bool { return strings.Contains(scrape(), "outbox_in_flight 0") })
	if after := scrape(); !strings.Contains(after, "outbox_completed_events 5") {
		t.Fatalf("after delivery:\n%s", grepOutbox(after))
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	var health struct {
		SendLimit int `json:"send_limit"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&health); err != nil || health.SendLimit < 1 {
		t.Fatalf("healthz send_limit %d, %v; want the processor's limit of sends", health.SendLimit, err)
	}
	resp.Body.Close()

	cancel()
	if code := <-done; code != cli.ExitOK {
		t.Fatalf("run exited %d on stop:\n%s", code, logs.String())
	}
	if received.Load() != n || !strings.Contains(logs.String(), "outbox processor stopped") {
		t.Fatalf("backend received %d; logs:\n%s", received.Load(), logs.String())
	}
}

func grepOutbox(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "outbox_") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// run --batch-route posts events through the backend's batch endpoint,
// --send-batch at a time, and never one by one.
func TestRunPostsBatches(t *testing.T) {
	eachTarget(t, func(t *testing.T, spec string, flags []string, enqueue func(...outbox.Event)) {
		var mu sync.Mutex
		var sizes []int
		delivered := map[string]bool{}
		all := make(chan struct{})
		var allOnce sync.Once
		backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/batch" {
				http.Error(w, "want batches only, got "+r.URL.Path, http.StatusBadRequest)
				return
			}
			var req struct {
				Events []struct{ ID, Path string } `json:"events"`
			}
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			var results []map[string]any
			mu.Lock()
			sizes = append(sizes, len(req.Events))
			for _, ev := range req.Events {
				results = append(results, map[string]any{"id": ev.ID, "status": http.StatusCreated})
				if ev.Path == "/v1/weight" {
					delivered[ev.ID] = true
				}
			}
			if len(delivered) == 5 {
				allOnce.Do(func() { close(all) })
			}
			mu.Unlock()
			_ = json.NewEncoder(w).Encode(map[string]any{"results": results})
		}))
		defer backend.Close()

		var evs []outbox.Event
		for range 5 {
			evs = append(evs, outbox.Event{Type: "weight.created", Aggregate: "weight", AggregateID: uuid.NewString(), Payload: []byte(`{}`)})
		}
		enqueue(evs...)

		ctx, cancel := context.WithCancel(t.Context())
		var logs bytes.Buffer
		e := &env{Ctx: ctx, Stdout: io.Discard, Stderr: &logs, Stdin: eofReader{}, Now: time.Now}
		done := make(chan int, 1)
		go func() {
			done <- testProgram().Run(e, append([]string{"run", "--catalog", spec, "--backend", backend.URL, "--batch-route", "/v1/batch", "--send-batch", "2", "--poll", "100ms"}, flags...))
		}()
		select {
		case <-all:
		case code := <-done:
			t.Fatalf("run exited %d:\n%s", code, logs.String())
		case <-time.After(10 * time.Second):
			t.Fatalf("the backend did not get all 5 events in batches:\n%s", logs.String())
		}
		cancel()
		if code := <-done; code != cli.ExitOK {
			t.Fatalf("run exited %d on stop:\n%s", code, logs.String())
		}
		mu.Lock()
		defer mu.Unlock()
		for _, n := range sizes {
			if n < 1 || n > 2 {
				t.Fatalf("batch sizes %v, want 1 or 2 events each (--send-batch 2)", sizes)
			}
		}
	})
}
