package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/outboxgen/outboxgen/internal/cli"
	outbox "github.com/outboxgen/outboxgen/runtime"
)

// A daemon whose backend answers 503 to everything pauses, and says so
// everywhere an operator looks: its log, /healthz, /metrics, and the
// status and processors verbs, which read its heartbeat from the database.
// Nothing dies. Once it stops, it is no longer listed.
func TestRunReportsAPause(t *testing.T) {
	eachTarget(t, func(t *testing.T, spec string, flags []string, enqueue func(...outbox.Event)) {
		backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "upstream down", http.StatusServiceUnavailable)
		}))
		defer backend.Close()
		enqueue(outbox.Event{Type: "weight.created", Aggregate: "weight", AggregateID: uuid.NewString(), Payload: []byte(`{}`)})

		ctx, cancel := context.WithCancel(t.Context())
		addr := make(chan string, 1)
		var logs syncBuffer
		e := &env{Ctx: ctx, Stdout: io.Discard, Stderr: &logs, Stdin: eofReader{}, Now: time.Now, Listening: func(a string) { addr <- a }}
		done := make(chan int, 1)
		go func() {
			done <- testProgram().Run(e, append([]string{"run", "--catalog", spec, "--backend", backend.URL, "--listen", "127.0.0.1:0", "--poll", "100ms"}, flags...))
		}()
		base := "http://" + <-addr

		var h health
		waitFor(t, "/healthz to report the pause", func() bool {
			resp, err := http.Get(base + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			h = health{}
			return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&h) == nil && h.Paused
		})
		if h.Status != "ok" || h.PausedSince == nil || h.PauseClass != "transient" || !strings.Contains(h.PauseReason, "503 Service Unavailable") {
			t.Fatalf("healthz %+v; want ok, paused since when, transient, the 503", h)
		}
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{"outbox_processor_paused 1", `outbox_processor_pause_class{class="transient"} 1`, "outbox_processor_pauses_total 1"} {
			if !strings.Contains(string(metrics), want) {
				t.Errorf("metrics lack %q:\n%s", want, grepOutbox(string(metrics)))
			}
		}
		var out string
		waitFor(t, "status to show the pause", func() bool {
			_, out, _ = runCLI(t, append([]string{"status"}, flags...)...)
			return strings.Contains(out, "paused for")
		})
		if !strings.Contains(out, "processors:           1 alive") || !strings.Contains(out, "transient: POST /v1/weight: 503 Service Unavailable") ||
			!strings.Contains(out, "dead             0") {
			t.Fatalf("status:\n%s", out)
		}
		code, out, errOut := runCLI(t, append([]string{"processors"}, flags...)...)
		if code != cli.ExitOK || !strings.Contains(out, "paused for") {
			t.Fatalf("processors (%d):\n%s%s", code, out, errOut)
		}
		if !strings.Contains(logs.String(), "outbox delivery paused") {
			t.Errorf("the log does not say delivery paused:\n%s", logs.String())
		}

		cancel()
		if code := <-done; code != cli.ExitOK {
			t.Fatalf("run exited %d:\n%s", code, logs.String())
		}
		if code, out, _ := runCLI(t, append([]string{"processors", "--json"}, flags...)...); code != cli.ExitOK || strings.TrimSpace(out) != "[]" {
			t.Fatalf("processors after a clean stop (%d): %s", code, out)
		}
	})
}

// waitFor polls cond, an effect another goroutine or process brings about,
// until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling an external effect
	}
}

// syncBuffer is a bytes.Buffer safe for the daemon's goroutines.
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
