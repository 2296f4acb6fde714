package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// Every failed attempt is recorded with the outcome, in the same
// transaction: when, which attempt, what it led to, its class and status
// code, and the start of its error. The history keeps the latest
// MaxHistory; a delivery adds nothing and clears the last error.
func testAttemptHistory(t *testing.T, e *env) {
	ev := Event("w1", 1)
	ev.MaxAttempts = 30
	ev = e.enqueue(ev)[0]
	var want []outbox.Attempt
	step := func(out func(c *outbox.Event) outbox.Outcome, rec outbox.Attempt) {
		t.Helper()
		e.clock.Advance(time.Minute)
		c := e.wantClaim("w1")[0]
		e.finish(out(c))
		rec.At, rec.Number = e.clock.Now(), c.Attempts
		want = append(want, rec)
	}
	step(func(c *outbox.Event) outbox.Outcome {
		return outbox.Outcome{Event: c, Kind: outbox.Retry, Class: outbox.Transient, StatusCode: 503, Error: "transient: POST /v1/weight: 503 Service Unavailable"}
	}, outbox.Attempt{Outcome: "retry", Class: "transient", StatusCode: 503, Reason: "transient: POST /v1/weight: 503 Service Unavailable"})
	step(func(c *outbox.Event) outbox.Outcome {
		return outbox.Outcome{Event: c, Kind: outbox.Release, Class: outbox.Unavailable, Error: "backend unavailable: connection refused"}
	}, outbox.Attempt{Outcome: "release", Class: "unavailable", Reason: "backend unavailable: connection refused"})
	step(func(c *outbox.Event) outbox.Outcome {
		return outbox.Outcome{Event: c, Kind: outbox.Release, Reached: true, Class: outbox.Permanent, StatusCode: 422, Error: "permanent: 422"}
	}, outbox.Attempt{Outcome: "release", Class: "permanent", StatusCode: 422, Reason: "permanent: 422"})
	// A release that met no classified failure records no class.
	step(func(c *outbox.Event) outbox.Outcome {
		return outbox.Outcome{Event: c, Kind: outbox.Release, Error: "processor stopped during delivery"}
	}, outbox.Attempt{Outcome: "release", Reason: "processor stopped during delivery"})

	// A lease that expires is recorded when it is reclaimed.
	e.clock.Advance(time.Minute)
	c := e.wantClaim("w1")[0]
	e.clock.Advance(2 * time.Minute)
	if n, err := e.store.ReclaimExpired(e.ctx); err != nil || n != 1 {
		t.Fatalf("reclaim: %d, %v", n, err)
	}
	want = append(want, outbox.Attempt{At: e.clock.Now(), Number: c.Attempts, Outcome: "expired", Class: "unanswered",
		Reason: "lease expired: the processor stopped or stalled during delivery"})
	wantHistory(t, e.get(ev).History, want)

	// The reason is the start of the error; the last error keeps more.
	long := "transient: " + strings.Repeat("x", 500)
	step(func(c *outbox.Event) outbox.Outcome {
		return outbox.Outcome{Event: c, Kind: outbox.Retry, Class: outbox.Transient, Error: long}
	}, outbox.Attempt{Outcome: "retry", Class: "transient", Reason: long[:160]})
	if got := e.get(ev); got.LastError != long {
		t.Fatalf("last error %d bytes, want the %d of the error", len(got.LastError), len(long))
	}
	for i := range outbox.MaxHistory {
		reason := fmt.Sprintf("transient: 500 number %d", i)
		step(func(c *outbox.Event) outbox.Outcome {
			return outbox.Outcome{Event: c, Kind: outbox.Retry, Class: outbox.Transient, StatusCode: 500, Error: reason}
		}, outbox.Attempt{Outcome: "retry", Class: "transient", StatusCode: 500, Reason: reason})
	}
	wantHistory(t, e.get(ev).History, want[len(want)-outbox.MaxHistory:])

	// A delivery clears the last error and keeps the failures.
	e.clock.Advance(time.Minute)
	e.finish(delivered(e.wantClaim("w1")[0]))
	got := e.wantStatus(ev, outbox.StatusCompleted)
	if got.LastError != "" {
		t.Errorf("a completed event keeps the last error %q", got.LastError)
	}
	wantHistory(t, got.History, want[len(want)-outbox.MaxHistory:])

	// A death is recorded too.
	dead := e.enqueue(Event("w2", 1))[0]
	c = e.wantClaim("w2")[0]
	e.finish(outbox.Outcome{Event: c, Kind: outbox.Dead, Class: outbox.Permanent, StatusCode: 400, Error: "permanent: 400 Bad Request"})
	wantHistory(t, e.get(dead).History, []outbox.Attempt{{At: e.clock.Now(), Number: 1, Outcome: "dead", Class: "permanent", StatusCode: 400, Reason: "permanent: 400 Bad Request"}})
	if never := e.enqueue(Event("w3", 1))[0]; len(e.get(never).History) != 0 {
		t.Errorf("an event never tried has a history: %+v", e.get(never).History)
	}
}

func wantHistory(t *testing.T, got, want []outbox.Attempt) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("history of %d attempts, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.At.Equal(w.At) {
			t.Errorf("attempt %d recorded at %v, want %v", i, g.At, w.At)
		}
		g.At, w.At = time.Time{}, time.Time{}
		if g != w {
			t.Errorf("attempt %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}
