package storetest

import (
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

func testClaimOrder(t *testing.T, e *env) {
	low, high := Event("low", 1), Event("high", 1)
	low.Priority, high.Priority = 1, 9
	e.enqueue(Event("a", 1), low)
	e.clock.Advance(time.Second)
	e.enqueue(high, Event("b", 1))

	// Highest priority first, then oldest; the limit is honoured.
	first := e.claim("p1", 2, time.Minute)
	if len(first) != 2 || first[0].AggregateID != "high" || first[1].AggregateID != "a" {
		t.Fatalf("first claim = %v, want [high a]", ids(first))
	}
	for _, ev := range first {
		if ev.Status != outbox.StatusProcessing || ev.Attempts != 1 || ev.Lease.Owner != "p1" ||
			!ev.Lease.Until.Equal(e.clock.Now().Add(time.Minute)) || ev.Lease.Token == [16]byte{} {
			t.Errorf("claimed %s: status %s attempts %d lease %+v; want processing, 1, held by p1 for a minute",
				ev.AggregateID, ev.Status, ev.Attempts, ev.Lease)
		}
	}
	if first[0].Lease.Token != first[1].Lease.Token {
		t.Errorf("one claim handed out two lease tokens")
	}
	second := e.claim("p2", 10, time.Minute)
	if len(second) != 2 || second[0].AggregateID != "b" || second[1].AggregateID != "low" {
		t.Fatalf("second claim = %v, want [b low]", ids(second))
	}
	if second[0].Lease.Token == first[0].Lease.Token {
		t.Errorf("two claims share a lease token")
	}
	if rest := e.claim("p3", 10, time.Minute); len(rest) != 0 {
		t.Fatalf("claimed events twice: %v", ids(rest))
	}
}

func testClaimOnlyDue(t *testing.T, e *env) {
	later := Event("later", 1)
	later.RunAt = e.clock.Now().Add(time.Hour)
	e.enqueue(later, Event("now", 1))
	e.wantClaim("now")
	e.clock.Advance(time.Hour)
	e.wantClaim("later")
}

func testFIFOPerKey(t *testing.T, e *env) {
	// Three changes to w1 in three transactions, one to w2 in between.
	e.enqueue(Event("w1", 1))
	e.enqueue(Event("w2", 1))
	e.enqueue(Event("w1", 2), Event("w1", 3))

	evs := e.wantClaim("w1", "w2")
	if evs[0].EntityVersion != 1 {
		t.Fatalf("first w1 event claimed is version %d, want 1", evs[0].EntityVersion)
	}
	// While w1's head is in flight, nothing else of w1 is claimable.
	e.wantClaim()
	e.finish(delivered(evs[0]))
	next := e.wantClaim("w1")
	if next[0].EntityVersion != 2 {
		t.Fatalf("after completing version 1, claimed version %d, want 2", next[0].EntityVersion)
	}
	// A retry keeps the key's place: version 3 waits behind version 2.
	e.finish(outbox.Outcome{Event: next[0], Kind: outbox.Retry, Delay: time.Minute, Error: "503"})
	e.wantClaim()
	e.clock.Advance(time.Minute)
	again := e.wantClaim("w1")
	if again[0].EntityVersion != 2 {
		t.Fatalf("after the retry delay, claimed version %d, want 2 again", again[0].EntityVersion)
	}
	e.finish(delivered(again[0]))
	last := e.wantClaim("w1")
	if last[0].EntityVersion != 3 {
		t.Fatalf("claimed version %d, want 3", last[0].EntityVersion)
	}
}

func testFIFOSurvivesDeadHead(t *testing.T, e *env) {
	e.enqueue(Event("w1", 1), Event("w1", 2), Event("w2", 1))
	evs := e.wantClaim("w1", "w2")
	// A poison event goes dead; the key moves on, other keys are untouched.
	e.finish(outbox.Outcome{Event: evs[0], Kind: outbox.Dead, Error: "400 Bad Request"}, delivered(evs[1]))
	next := e.wantClaim("w1")
	if next[0].EntityVersion != 2 {
		t.Fatalf("after the head died, claimed version %d, want 2", next[0].EntityVersion)
	}
	dead := e.get(outbox.Event{ID: evs[0].ID})
	if dead.Status != outbox.StatusDead || dead.LastError != "400 Bad Request" || dead.Attempts != 1 {
		t.Fatalf("dead event: status %s, last error %q, attempts %d", dead.Status, dead.LastError, dead.Attempts)
	}
}

func ids(evs []*outbox.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.AggregateID
	}
	return out
}
