package storetest

import (
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

func testFencingAfterExpiry(t *testing.T, e *env) {
	ev := e.enqueue(Event("w1", 1))[0]
	claimed := e.wantClaim("w1")[0]
	e.clock.Advance(time.Minute + time.Second)

	// The lease ran out: no outcome of the old holder may land.
	for _, kind := range []outbox.OutcomeKind{outbox.Delivered, outbox.Retry, outbox.Dead, outbox.Release} {
		res := e.finish(outbox.Outcome{Event: claimed, Kind: kind, Error: "late"})
		if len(res.Lost) != 1 || res.Lost[0] != ev.ID {
			t.Errorf("%s after the lease expired: lost = %v, want the event", kind, res.Lost)
		}
	}
	e.wantStatus(ev, outbox.StatusProcessing)
}

func testFencingAfterReclaim(t *testing.T, e *env) {
	ev := e.enqueue(Event("w1", 1))[0]
	stale := e.wantClaim("w1")[0]
	e.clock.Advance(2 * time.Minute)
	n, err := e.store.ReclaimExpired(e.ctx)
	if err != nil || n != 1 {
		t.Fatalf("reclaim = %d, %v; want 1 event", n, err)
	}
	got := e.wantStatus(ev, outbox.StatusFailed)
	if got.Attempts != 1 || got.LastError == "" || !got.RunAt.Equal(e.clock.Now()) {
		t.Errorf("reclaimed event: attempts %d, last error %q, run at %v; want the attempt counted, a reason, due now", got.Attempts, got.LastError, got.RunAt)
	}

	fresh := e.wantClaim("w1")[0]
	if fresh.Attempts != 2 {
		t.Errorf("second claim: attempts %d, want 2", fresh.Attempts)
	}
	// The stale worker finishes late, even inside the new lease's time.
	if res := e.finish(delivered(stale)); len(res.Lost) != 1 {
		t.Fatalf("the stale worker's completion was recorded")
	}
	e.wantStatus(ev, outbox.StatusProcessing)
	if res := e.finish(delivered(fresh)); len(res.Lost) != 0 {
		t.Fatalf("the lease holder's completion was lost")
	}
	e.wantStatus(ev, outbox.StatusCompleted)
	if n, _ := e.store.ReclaimExpired(e.ctx); n != 0 {
		t.Fatalf("reclaimed %d events with no expired lease", n)
	}
}

func testReclaimExhaustedGoesDead(t *testing.T, e *env) {
	one := Event("w1", 1)
	one.MaxAttempts = 1
	ev := e.enqueue(one, Event("w1", 2))[0]
	e.wantClaim("w1")
	e.clock.Advance(2 * time.Minute)
	if _, err := e.store.ReclaimExpired(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.wantStatus(ev, outbox.StatusDead)
	// The key moves on to its next event.
	if next := e.wantClaim("w1"); next[0].EntityVersion != 2 {
		t.Fatalf("claimed version %d, want 2", next[0].EntityVersion)
	}
}
