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
	got := e.wantStatus(ev, outbox.StatusPending)
	if got.Attempts != 0 || got.LeaseExpiries != 1 || got.LastError == "" || !got.RunAt.Equal(e.clock.Now()) {
		t.Errorf("reclaimed event: attempts %d, expiries %d, last error %q, run at %v; want the attempt given back, the expiry counted, a reason, due now",
			got.Attempts, got.LeaseExpiries, got.LastError, got.RunAt)
	}

	fresh := e.wantClaim("w1")[0]
	if fresh.Attempts != 1 {
		t.Errorf("second claim: attempts %d, want 1", fresh.Attempts)
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
	ev := e.enqueue(Event("w1", 1), Event("w1", 2))[0]
	// An event whose processor dies every time it is sent: the crashes
	// spend no attempts, but after MaxLeaseExpiries the event is dead.
	for i := 0; i < outbox.MaxLeaseExpiries; i++ {
		if c := e.wantClaim("w1"); c[0].ID != ev.ID {
			t.Fatalf("expiry %d: claimed %s", i, c[0].ID)
		}
		e.clock.Advance(2 * time.Minute)
		if _, err := e.store.ReclaimExpired(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := e.wantStatus(ev, outbox.StatusDead)
	if got.Attempts != 0 || got.LeaseExpiries != outbox.MaxLeaseExpiries {
		t.Fatalf("dead after expiries: attempts %d, expiries %d", got.Attempts, got.LeaseExpiries)
	}
	// The key moves on to its next event.
	if next := e.wantClaim("w1"); next[0].EntityVersion != 2 {
		t.Fatalf("claimed version %d, want 2", next[0].EntityVersion)
	}
}
