package storetest

import (
	"fmt"
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// kill claims the events with the given aggregate ids (each the head of
// its key) and records them dead.
func (e *env) kill(ids ...string) {
	e.t.Helper()
	c := e.wantClaim(ids...)
	outs := make([]outbox.Outcome, len(c))
	for i, ev := range c {
		outs[i] = outbox.Outcome{Event: ev, Kind: outbox.Dead, Class: outbox.Permanent, Error: "400"}
	}
	e.finish(outs...)
}

func (e *env) count(sel outbox.Selection) int64 {
	e.t.Helper()
	n, err := e.store.Count(e.ctx, sel)
	if err != nil {
		e.t.Fatalf("count %+v: %v", sel, err)
	}
	return n
}

var dead = []outbox.Status{outbox.StatusDead}

// A bulk retry gives the selected dead and failed events a fresh start,
// keeps per-key order among them (the oldest revived event of a key is
// its head), counts exactly, and honours its limit, oldest first.
func testRetryMatching(t *testing.T, e *env) {
	steps := Event("s1", 1)
	steps.Type = "steps.updated"
	evs := e.enqueue(Event("a", 1), Event("a", 2), steps)
	e.kill("a", "s1")
	e.kill("a")
	evs = append(evs, e.enqueue(Event("f", 1))...)
	c := e.wantClaim("f")
	e.finish(outbox.Outcome{Event: c[0], Kind: outbox.Retry, Class: outbox.Transient, Delay: time.Hour, Error: "503"})
	if n := e.count(outbox.Selection{Statuses: dead}); n != 3 {
		t.Fatalf("count of dead events %d, want 3", n)
	}
	if n := e.count(outbox.Selection{Statuses: dead, Type: "weight.updated"}); n != 2 {
		t.Fatalf("count of dead weight events %d, want 2", n)
	}

	res, err := e.store.RetryMatching(e.ctx, outbox.Selection{Type: "weight.updated"}, nil)
	if err != nil || res.Done != 3 || res.Skipped != 0 {
		t.Fatalf("retry of the dead and failed weight events: %+v, %v; want 3 done", res, err)
	}
	for _, ev := range []outbox.Event{evs[0], evs[1], evs[3]} {
		if got := e.wantStatus(ev, outbox.StatusPending); got.Attempts != 0 || !got.FailedAt.IsZero() {
			t.Errorf("%s v%d retried with attempts %d, failed at %v; want a fresh start", ev.AggregateID, ev.EntityVersion, got.Attempts, got.FailedAt)
		}
	}
	e.wantStatus(evs[2], outbox.StatusDead)
	// Both of a's events were revived: the older is its head, the newer waits.
	c = e.wantClaim("a", "f")
	if c[0].ID != evs[0].ID {
		t.Fatalf("claimed a's version %d first, want 1", c[0].EntityVersion)
	}
	e.finish(delivered(c[0]), delivered(c[1]))
	if c = e.wantClaim("a"); c[0].ID != evs[1].ID {
		t.Fatal("a's second event did not follow its first")
	}
	e.finish(delivered(c[0]))

	if _, err := e.store.RetryMatching(e.ctx, outbox.Selection{Statuses: []outbox.Status{outbox.StatusPending}}, nil); err == nil {
		t.Error("a retry of pending events was accepted")
	}

	// A dead event revived into a key whose next event is waiting queues
	// behind that head, and follows it.
	h := e.enqueue(Event("h", 1), Event("h", 2))
	e.kill("h")
	if res, err := e.store.RetryMatching(e.ctx, outbox.Selection{Statuses: dead}, nil); err != nil || res.Done != 2 {
		t.Fatalf("retry of the dead: %+v, %v; want s1 and h's first", res, err)
	}
	c = e.wantClaim("s1", "h")
	if c[1].ID != h[1].ID {
		t.Fatal("the revived event was claimed ahead of its key's head")
	}
	e.finish(delivered(c[1]))
	if c = e.wantClaim("h"); c[0].ID != h[0].ID {
		t.Fatal("the revived event did not follow its key's head")
	}
}

// A bulk retry crosses its batches without losing count, reports progress
// after each, and stops at its limit, oldest first.
func testRetryMatchingInBatches(t *testing.T, e *env) {
	const n = 1100
	var ids []string
	for i := range n {
		ev := Event(fmt.Sprintf("k%04d", i), 1)
		e.enqueue(ev)
		ids = append(ids, ev.AggregateID)
	}
	for from := 0; from < n; from += 100 {
		e.kill(ids[from:min(from+100, n)]...)
	}
	res, err := e.store.RetryMatching(e.ctx, outbox.Selection{Statuses: dead, Limit: 7}, nil)
	if err != nil || res.Done != 7 {
		t.Fatalf("retry with limit 7: %+v, %v", res, err)
	}
	if c := e.claim("tester", 100, time.Minute); len(c) != 7 || c[0].AggregateID != "k0000" || c[6].AggregateID != "k0006" {
		t.Fatalf("retry with limit 7 revived %d events, from %s; want the 7 oldest", len(c), c[0].AggregateID)
	}
	var seen []int64
	res, err = e.store.RetryMatching(e.ctx, outbox.Selection{Statuses: dead}, func(p outbox.BulkResult) { seen = append(seen, p.Done) })
	if err != nil || res.Done != n-7 {
		t.Fatalf("retry of every dead event: %+v, %v; want %d done", res, err, n-7)
	}
	if len(seen) < 3 || seen[len(seen)-1] != n-7 {
		t.Fatalf("progress %v; want a report per batch, ending at %d", seen, n-7)
	}
	if left := e.count(outbox.Selection{Statuses: dead}); left != 0 {
		t.Fatalf("%d dead events left", left)
	}
}

// A bulk discard deletes the selected events except those being
// delivered, and each key's next event moves up; a lease that expired no
// longer protects its event, and its holder's outcome is then lost.
func testDiscardMatching(t *testing.T, e *env) {
	evs := e.enqueue(Event("k", 1), Event("k", 2), Event("k", 3), Event("m", 1), Event("m", 2))
	c := e.wantClaim("k", "m")
	e.finish(outbox.Outcome{Event: c[1], Kind: outbox.Release, Error: "unavailable"})
	// k's head is in flight; m's head is pending again.
	res, err := e.store.DiscardMatching(e.ctx, outbox.Selection{Statuses: []outbox.Status{outbox.StatusPending}, Limit: 3}, nil)
	if err != nil || res.Done != 3 {
		t.Fatalf("discard of the 3 oldest pending events: %+v, %v", res, err)
	}
	for _, i := range []int{1, 2, 3} {
		if _, err := e.store.Get(e.ctx, evs[i].ID); err == nil {
			t.Errorf("event %s v%d survived", evs[i].AggregateID, evs[i].EntityVersion)
		}
	}
	// m's head went: its next event moved up. k's head is still in flight.
	if got := e.wantClaim("m"); got[0].ID != evs[4].ID {
		t.Fatal("m's second event did not move up")
	}
	res, err = e.store.DiscardMatching(e.ctx, outbox.Selection{}, nil)
	if err != nil || res.Done != 0 || res.Skipped != 2 {
		t.Fatalf("discard of events in flight: %+v, %v; want nothing done, 2 skipped", res, err)
	}
	if n := e.count(outbox.Selection{}); n != 2 {
		t.Fatalf("%d events left, want the 2 in flight", n)
	}
	e.clock.Advance(2 * time.Minute)
	res, err = e.store.DiscardMatching(e.ctx, outbox.Selection{Statuses: []outbox.Status{outbox.StatusProcessing}}, nil)
	if err != nil || res.Done != 2 {
		t.Fatalf("discard of events whose lease expired: %+v, %v", res, err)
	}
	if r := e.finish(delivered(c[0])); len(r.Lost) != 1 {
		t.Fatalf("the discarded event's outcome was recorded: %+v", r)
	}
	e.enqueue(Event("k", 4))
	e.wantClaim("k")
}

// A bulk purge deletes only completed events, by completion time, type,
// user and enqueue time.
func testPurgeMatching(t *testing.T, e *env) {
	steps := Event("s1", 1)
	steps.Type = "steps.updated"
	bob := Event("b1", 1)
	bob.UserID = "bob"
	evs := e.enqueue(Event("w1", 1), steps, bob, Event("d1", 1))
	c := e.wantClaim("w1", "s1", "b1", "d1")
	e.finish(delivered(c[0]), delivered(c[1]), delivered(c[2]), outbox.Outcome{Event: c[3], Kind: outbox.Dead, Error: "400"})
	cutoff := e.clock.Now().Add(time.Second)
	e.clock.Advance(time.Hour)
	late := e.enqueue(Event("w2", 1))[0]
	e.finish(delivered(e.wantClaim("w2")[0]))

	sel := outbox.Selection{CompletedBefore: cutoff, Type: "weight.updated", UserID: "user-1"}
	if n := e.count(sel); n != 1 {
		t.Fatalf("count %d, want 1", n)
	}
	res, err := e.store.PurgeMatching(e.ctx, sel, nil)
	if err != nil || res.Done != 1 {
		t.Fatalf("purge: %+v, %v", res, err)
	}
	if _, err := e.store.Get(e.ctx, evs[0].ID); err == nil {
		t.Error("the selected completed event survived")
	}
	e.wantStatus(evs[1], outbox.StatusCompleted)
	e.wantStatus(evs[2], outbox.StatusCompleted)
	e.wantStatus(evs[3], outbox.StatusDead)
	e.wantStatus(late, outbox.StatusCompleted)
	if res, err := e.store.PurgeMatching(e.ctx, outbox.Selection{}, nil); err != nil || res.Done != 3 {
		t.Fatalf("purge of every completed event: %+v, %v; want 3", res, err)
	}
	e.wantStatus(evs[3], outbox.StatusDead)
	if _, err := e.store.PurgeMatching(e.ctx, outbox.Selection{Statuses: dead}, nil); err == nil {
		t.Error("a purge of dead events was accepted")
	}
}
