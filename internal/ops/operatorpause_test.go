package ops

import (
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

// pause and resume record who paused what and why in the database, status
// shows it, and resume lifts one type's pause or every pause.
func TestPauseAndResume(t *testing.T) {
	eachOpsStore(t, func(t *testing.T, f opsFixture) {
		if code, _, errOut := f.ops(t, "pause", "--type", "mood.created"); code != cli.ExitUsage || !strings.Contains(errOut, "--reason") {
			t.Fatalf("pause without a reason: %d %s", code, errOut)
		}
		code, out, errOut := f.ops(t, "pause", "--type", "mood.created", "--reason", "mood route broken, INC-7", "--by", "ada")
		if code != cli.ExitOK || !strings.Contains(out, "paused delivery of mood.created") || !strings.Contains(out, `"outboxctl resume --type mood.created"`) {
			t.Fatalf("pause --type: %d %s %s", code, out, errOut)
		}
		if code, out, _ := f.ops(t, "pause", "--reason", "maintenance", "--by", "bob", "--json"); code != cli.ExitOK || !strings.Contains(out, `"every_type": true`) {
			t.Fatalf("pause --json: %d %s", code, out)
		}
		_, out, _ = f.ops(t, "status")
		for _, want := range []string{
			`delivery paused:      every event type, by bob`,
			`delivery paused:      mood.created, by ada`,
			`mood route broken, INC-7; "outboxctl resume --type mood.created" lifts it`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("status lacks %q:\n%s", want, out)
			}
		}
		_, out, _ = f.ops(t, "status", "--json")
		var r statusReport
		if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.OperatorPauses) != 2 || !r.OperatorPauses[0].EveryType ||
			r.OperatorPauses[1].EventType != "mood.created" || r.OperatorPauses[1].By != "ada" || r.OperatorPauses[1].Since.IsZero() {
			t.Fatalf("status --json pauses: %v %+v", err, r.OperatorPauses)
		}

		code, out, _ = f.ops(t, "resume", "--type", "mood.created")
		if code != cli.ExitOK || !strings.Contains(out, "resumed delivery of mood.created (paused by ada") ||
			!strings.Contains(out, "still paused:         every event type, by bob") {
			t.Fatalf("resume --type: %d\n%s", code, out)
		}
		code, out, _ = f.ops(t, "resume", "--json")
		var res struct {
			Lifted      []pauseJSON `json:"lifted"`
			StillPaused []pauseJSON `json:"still_paused"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || code != cli.ExitOK || len(res.Lifted) != 1 || !res.Lifted[0].EveryType || len(res.StillPaused) != 0 {
			t.Fatalf("resume --json: %d %v %s", code, err, out)
		}
		if code, out, _ := f.ops(t, "resume"); code != cli.ExitOK || !strings.Contains(out, "nothing to resume") {
			t.Fatalf("resume with nothing paused: %d %s", code, out)
		}
		if _, out, _ := f.ops(t, "status"); strings.Contains(out, "delivery paused") {
			t.Fatalf("status after resuming:\n%s", out)
		}
	})
}

// A running processor honours an operator's pause at its next claim, shows
// it on /healthz and /metrics, and delivers within a second of the resume,
// woken by the store rather than by its poll (a minute here).
func TestRunHonoursOperatorPauses(t *testing.T) {
	eachTarget(t, func(t *testing.T, spec string, flags []string, enqueue func(...outbox.Event)) {
		var mu sync.Mutex
		received := map[string]time.Time{} // event type → first delivery
		backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if typ := r.Header.Get("X-Outbox-Event-Type"); received[typ].IsZero() {
				received[typ] = time.Now()
			}
			mu.Unlock()
			w.WriteHeader(http.StatusCreated)
		}))
		defer backend.Close()
		deliveredAt := func(typ string) time.Time {
			mu.Lock()
			defer mu.Unlock()
			return received[typ]
		}
		cmd := func(args ...string) string {
			t.Helper()
			code, out, errOut := runCLI(t, append(args, flags...)...)
			if code != cli.ExitOK {
				t.Fatalf("%s: exit %d: %s", args[0], code, errOut)
			}
			return out
		}
		cmd("pause", "--type", "weight.created", "--reason", "route broken")

		ctx, cancel := context.WithCancel(t.Context())
		addr := make(chan string, 1)
		var logs syncBuffer
		e := &env{Ctx: ctx, Stdout: io.Discard, Stderr: &logs, Stdin: eofReader{}, Now: time.Now, Listening: func(a string) { addr <- a }}
		done := make(chan int, 1)
		go func() {
			done <- testProgram().Run(e, append([]string{"run", "--catalog", spec, "--backend", backend.URL, "--listen", "127.0.0.1:0", "--poll", "1m"}, flags...))
		}()
		base := "http://" + <-addr

		// created is older than updated: any claim that took updated would
		// have taken created first, had it not been paused.
		created := outbox.Event{Type: "weight.created", Aggregate: "weight", AggregateID: uuid.NewString(), Payload: []byte(`{}`)}
		updated := outbox.Event{Type: "weight.updated", Aggregate: "weight", AggregateID: uuid.NewString(), Payload: []byte(`{}`)}
		enqueue(created)
		enqueue(updated)
		waitFor(t, "the type that is not paused to be delivered", func() bool { return !deliveredAt("weight.updated").IsZero() })
		if !deliveredAt("weight.created").IsZero() {
			t.Fatal("a paused type was delivered")
		}
		if out := cmd("list", "--type", "weight.created", "--json"); !strings.Contains(out, `"status": "pending"`) || !strings.Contains(out, `"attempts": 0`) {
			t.Fatalf("the paused event spent an attempt or changed state:\n%s", out)
		}
		var h health
		getJSON(t, base+"/healthz", &h)
		if h.Status != "ok" || len(h.OperatorPauses) != 1 || h.OperatorPauses[0].EventType != "weight.created" || h.OperatorPauses[0].Reason != "route broken" {
			t.Fatalf("healthz %+v", h)
		}
		if metrics := getText(t, base+"/metrics"); !strings.Contains(metrics, `outbox_operator_paused{event_type="weight.created"} 1`) {
			t.Fatalf("metrics lack the pause:\n%s", grepOutbox(metrics))
		}

		resumed := time.Now()
		cmd("resume", "--type", "weight.created")
		waitFor(t, "the resumed type to be delivered", func() bool { return !deliveredAt("weight.created").IsZero() })
		if took := deliveredAt("weight.created").Sub(resumed); took > time.Second {
			t.Errorf("delivered %s after the resume; want within a second", took)
		}

		// A pause of every type, and its resume.
		cmd("pause", "--reason", "maintenance")
		later := outbox.Event{Type: "weight.deleted", Aggregate: "weight", AggregateID: uuid.NewString(), Payload: []byte(`{}`)}
		enqueue(later)
		if metrics := getText(t, base+"/metrics"); !strings.Contains(metrics, `outbox_operator_paused{event_type="*"} 1`) {
			t.Fatalf("metrics lack the pause of every type:\n%s", grepOutbox(metrics))
		}
		resumed = time.Now()
		cmd("resume")
		waitFor(t, "delivery after resuming every type", func() bool { return !deliveredAt("weight.deleted").IsZero() })
		if took := deliveredAt("weight.deleted").Sub(resumed); took > time.Second {
			t.Errorf("delivered %s after the resume; want within a second", took)
		}

		cancel()
		if code := <-done; code != cli.ExitOK {
			t.Fatalf("run exited %d:\n%s", code, logs.String())
		}
	})
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(getText(t, url)), v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
