package storetest

import (
	"fmt"
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

func testFencingAfterExpiry(t *testing.T, e *env) {
	ev := e.enqueue(Event("w1", 1))[0]
	claimed := e.wantClaim("w1")[0]
	e.clock.Advance(time.Minute + time.Second)

	// The lease ran out: no outcome of the old holder may land.
	for _, out := range everyOutcome(claimed) {
		res := e.finish(out)
		if len(res.Lost) != 1 || res.Lost[0] != ev.ID || len(res.Recorded) != 0 {
			t.Errorf("%s after the lease expired: lost %v, recorded %v; want the event lost", describeOutcome(out), res.Lost, res.Recorded)
		}
	}
	e.wantStatus(ev, outbox.StatusProcessing)
}

// everyOutcome is one outcome of each kind, and each kind of release, for
// a claimed event.
func everyOutcome(ev *outbox.Event) []outbox.Outcome {
	return []outbox.Outcome{
		{Event: ev, Kind: outbox.Delivered, Receipt: outbox.Receipt{RemoteID: "late"}},
		{Event: ev, Kind: outbox.Retry, Class: outbox.Transient, Delay: time.Second, Error: "late retry"},
		{Event: ev, Kind: outbox.Dead, Class: outbox.Permanent, Error: "late death"},
		{Event: ev, Kind: outbox.Release, Delay: time.Second, Error: "late release"},
		{Event: ev, Kind: outbox.Release, Reached: true, Class: outbox.Unanswered, Delay: time.Second, Error: "late reached release"},
		{Event: ev, Kind: outbox.Release, Reached: true, Class: outbox.InProgress, Delay: time.Second, Error: "late in progress"},
	}
}

func describeOutcome(o outbox.Outcome) string {
	if o.Kind == outbox.Release && o.Reached {
		return "reached release (" + o.Class.String() + ")"
	}
	return o.Kind.String()
}

// A worker whose lease expired and was reclaimed, and then given to
// another, can record no outcome of any kind, even while the new lease
// holds; the new holder's outcome lands.
func testFencingAfterReclaim(t *testing.T, e *env) {
	for _, kind := range everyOutcome(nil) {
		func() {
			key := "w-" + describeOutcome(kind)
			ev := e.enqueue(Event(key, 1))[0]
			stale := e.wantClaim(key)[0]
			e.clock.Advance(2 * time.Minute)
			n, err := e.store.ReclaimExpired(e.ctx)
			if err != nil || n != 1 {
				t.Fatalf("%s: reclaim = %d, %v; want 1 event", key, n, err)
			}
			got := e.wantStatus(ev, outbox.StatusFailed)
			if got.Attempts != 0 || got.Releases != 1 || got.LeaseExpiries != 0 || got.LastError == "" ||
				got.FailedClass != outbox.Unanswered || !got.FailedAt.Equal(e.clock.Now()) || !got.RunAt.Equal(e.clock.Now()) {
				t.Errorf("%s: reclaimed event: attempts %d, releases %d, expiries %d, last error %q, failed %s at %v, run at %v; "+
					"want the attempt given back, a release counted but no expiry (nothing was delivered since its last failure), a reason, the failure dated, due now",
					key, got.Attempts, got.Releases, got.LeaseExpiries, got.LastError, got.FailedClass, got.FailedAt, got.RunAt)
			}

			fresh := e.wantClaim(key)[0]
			if fresh.Attempts != 1 {
				t.Errorf("%s: second claim: attempts %d, want 1", key, fresh.Attempts)
			}
			// The stale worker finishes late, inside the new lease's time.
			out := kind
			out.Event = stale
			if res := e.finish(out); len(res.Lost) != 1 || len(res.Recorded) != 0 {
				t.Fatalf("the stale worker's %s was recorded: %+v", describeOutcome(out), res)
			}
			now := e.wantStatus(ev, outbox.StatusProcessing)
			if now.Lease.Token != fresh.Lease.Token || now.Attempts != 1 || now.Releases != 1 || now.LastError != got.LastError {
				t.Fatalf("after the stale %s: lease %v (want %v), attempts %d, releases %d, last error %q; want the new holder's event untouched",
					describeOutcome(out), now.Lease.Token, fresh.Lease.Token, now.Attempts, now.Releases, now.LastError)
			}
			if res := e.finish(delivered(fresh)); len(res.Lost) != 0 || len(res.Recorded) != 1 {
				t.Fatalf("%s: the lease holder's completion was lost: %+v", key, res)
			}
			e.wantStatus(ev, outbox.StatusCompleted)
			if n, _ := e.store.ReclaimExpired(e.ctx); n != 0 {
				t.Fatalf("reclaimed %d events with no expired lease", n)
			}
		}()
	}
}

// An expired lease is held against its event only when other events were
// delivered after the event's previous failure: processors that keep dying
// for their own reasons kill nothing, while an event that keeps taking its
// processor down, as others get delivered, goes dead.
func testReclaimCountsExpiriesOnEvidence(t *testing.T, e *env) {
	expire := func(key string) *outbox.Event {
		t.Helper()
		c := e.wantClaim(key)[0]
		e.clock.Advance(2 * time.Minute)
		if _, err := e.store.ReclaimExpired(e.ctx); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// Nothing else is delivered: expiries are releases, never fatal.
	lonely := e.enqueue(Event("lonely", 1))[0]
	for range 2 * outbox.MaxLeaseExpiries {
		expire("lonely")
	}
	got := e.wantStatus(lonely, outbox.StatusFailed)
	if got.LeaseExpiries != 0 || got.Releases != 2*outbox.MaxLeaseExpiries || got.Attempts != 0 {
		t.Fatalf("after %d expiries with no delivery between: expiries %d, releases %d, attempts %d; want 0, %d, 0",
			2*outbox.MaxLeaseExpiries, got.LeaseExpiries, got.Releases, got.Attempts, 2*outbox.MaxLeaseExpiries)
	}
	if err := e.store.Discard(e.ctx, lonely.ID); err != nil {
		t.Fatal(err)
	}

	// A delivery whose event was claimed before the expiry, recorded after
	// it, is no evidence: its request may have gone out before.
	e.enqueue(Event("x", 1), Event("early", 1))
	x := e.claim("tester", 1, time.Minute)[0]
	early := e.claim("tester", 1, 10*time.Minute)[0]
	e.clock.Advance(2 * time.Minute)
	if _, err := e.store.ReclaimExpired(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	e.finish(delivered(early))
	e.clock.Advance(time.Second)
	expire("x")
	if got := e.wantStatus(*x, outbox.StatusFailed); got.LeaseExpiries != 0 {
		t.Fatalf("an expiry after a delivery claimed before the previous one: %d counted, want 0", got.LeaseExpiries)
	}
	if err := e.store.Discard(e.ctx, x.ID); err != nil {
		t.Fatal(err)
	}

	// Others are delivered between the expiries: each one after the first
	// counts, and the event dies; its key moves on.
	ev := e.enqueue(Event("w1", 1), Event("w1", 2))[0]
	for i := 0; i <= outbox.MaxLeaseExpiries; i++ {
		e.clock.Advance(time.Second) // the other is claimed after w1's last failure
		e.enqueue(Event(fmt.Sprintf("other-%d", i), 1))
		c := e.wantClaim("w1", fmt.Sprintf("other-%d", i))
		if c[0].ID != ev.ID {
			t.Fatalf("expiry %d: claimed %s", i, c[0].ID)
		}
		e.clock.Advance(time.Second)
		e.finish(delivered(c[1]))
		e.clock.Advance(2 * time.Minute)
		if _, err := e.store.ReclaimExpired(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	got = e.wantStatus(ev, outbox.StatusDead)
	if got.Attempts != 0 || got.LeaseExpiries != outbox.MaxLeaseExpiries {
		t.Fatalf("dead after expiries: attempts %d, expiries %d", got.Attempts, got.LeaseExpiries)
	}
	if next := e.wantClaim("w1"); next[0].EntityVersion != 2 {
		t.Fatalf("claimed version %d, want 2", next[0].EntityVersion)
	}
}

// An event may have two outcomes waiting: its lease expired, and the event
// came back to the same processor under a new lease before the old
// attempt's outcome was recorded. The processor gives them to Finish in
// separate calls (FinishResult names events, not outcomes); given both in
// one, a store must still complete the event only under its live lease, in
// either order.
func testStaleAndLiveOutcomesInOneBatch(t *testing.T, e *env) {
	for _, staleLast := range []bool{false, true} {
		key := fmt.Sprintf("both-stale-last-%v", staleLast)
		ev := e.enqueue(Event(key, 1))[0]
		stale := e.wantClaim(key)[0]
		e.clock.Advance(2 * time.Minute)
		if n, err := e.store.ReclaimExpired(e.ctx); err != nil || n != 1 {
			t.Fatalf("%s: reclaim = %d, %v; want 1 event", key, n, err)
		}
		fresh := e.wantClaim(key)[0]
		outs := []outbox.Outcome{delivered(fresh), delivered(stale)}
		if staleLast {
			outs[0], outs[1] = outs[1], outs[0]
		}
		e.finish(outs...)
		if got := e.wantStatus(ev, outbox.StatusCompleted); got.Attempts != 1 {
			t.Errorf("%s: completed with attempts %d, want the live lease's 1", key, got.Attempts)
		}
	}
}
