package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

func testStats(t *testing.T, e *env) {
	st, err := e.store.Stats(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Counts) != 0 || !st.OldestPending.IsZero() || !st.NextRunAt.IsZero() {
		t.Fatalf("stats of an empty outbox: %+v", st)
	}
	created := e.clock.Now()
	steps := Event("s1", 1)
	steps.Type = "steps.updated"
	e.enqueue(Event("a", 1), Event("b", 1), Event("c", 1), steps)
	e.clock.Advance(time.Minute)
	c := e.wantClaim("a", "b", "c", "s1")
	e.finish(delivered(c[0]), outbox.Outcome{Event: c[1], Kind: outbox.Dead, Error: "400"},
		outbox.Outcome{Event: c[2], Kind: outbox.Retry, Delay: time.Hour, Error: "500"})

	st, err = e.store.Stats(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[outbox.Status]int64{outbox.StatusCompleted: 1, outbox.StatusDead: 1, outbox.StatusFailed: 1, outbox.StatusProcessing: 1}
	for _, s := range outbox.Statuses() {
		if st.Counts[s] != want[s] {
			t.Errorf("count of %s = %d, want %d", s, st.Counts[s], want[s])
		}
	}
	if st.ByType["steps.updated"][outbox.StatusProcessing] != 1 || st.ByType["weight.updated"][outbox.StatusCompleted] != 1 {
		t.Errorf("counts by type = %v", st.ByType)
	}
	if !st.OldestPending.Equal(created) {
		t.Errorf("oldest pending = %v, want %v", st.OldestPending, created)
	}
	if len(st.OldestByType) != 2 || !st.OldestByType["weight.updated"].Equal(created) || !st.OldestByType["steps.updated"].Equal(created) {
		t.Errorf("oldest by type = %v, want both types at %v", st.OldestByType, created)
	}
	if st.CompletedEstimated {
		t.Error("one completed event is estimated, not counted")
	}
	if !st.NextRunAt.Equal(e.clock.Now().Add(time.Hour)) {
		t.Errorf("next run at = %v, want %v", st.NextRunAt, e.clock.Now().Add(time.Hour))
	}
}

func testListAndGet(t *testing.T, e *env) {
	other := Event("w2", 1)
	other.UserID = "user-2"
	steps := Event("s1", 1)
	steps.Type = "steps.updated"
	evs := e.enqueue(Event("w1", 1), other)
	e.clock.Advance(time.Minute)
	evs = append(evs, e.enqueue(steps)...)
	c := e.wantClaim("w1", "w2", "s1")
	e.finish(outbox.Outcome{Event: c[0], Kind: outbox.Dead, Error: "400"})

	for _, tc := range []struct {
		f    outbox.Filter
		want []string
	}{
		{outbox.Filter{}, []string{"w1", "w2", "s1"}},
		{outbox.Filter{Status: outbox.StatusDead}, []string{"w1"}},
		{outbox.Filter{Type: "steps.updated"}, []string{"s1"}},
		{outbox.Filter{UserID: "user-2"}, []string{"w2"}},
		{outbox.Filter{Status: outbox.StatusProcessing, UserID: "user-1"}, []string{"s1"}},
		{outbox.Filter{Limit: 2}, []string{"w1", "w2"}},
		{outbox.Filter{CreatedBefore: e.clock.Now()}, []string{"w1", "w2"}},
		{outbox.Filter{Type: "nope"}, []string{}},
	} {
		got, err := e.store.List(e.ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if g := ids(got); len(g) != len(tc.want) || (len(g) > 0 && fmtIDs(g) != fmtIDs(tc.want)) {
			t.Errorf("list %+v = %v, want %v", tc.f, g, tc.want)
		}
	}
	if got := e.get(evs[0]); got.LastError != "400" {
		t.Errorf("get: last error %q", got.LastError)
	}
	if _, err := e.store.Get(e.ctx, uuid.New()); !errors.Is(err, outbox.ErrNotFound) {
		t.Errorf("get of an unknown id: %v, want ErrNotFound", err)
	}
}

func testRetryDead(t *testing.T, e *env) {
	evs := e.enqueue(Event("w1", 1), Event("w1", 2))
	c := e.wantClaim("w1")
	e.finish(outbox.Outcome{Event: c[0], Kind: outbox.Dead, Error: "400"})
	// Version 2 is now the head; retrying version 1 queues it behind.
	if err := e.store.Retry(e.ctx, evs[0].ID); err != nil {
		t.Fatal(err)
	}
	got := e.wantStatus(evs[0], outbox.StatusPending)
	if got.Attempts != 0 || got.Releases != 0 || !got.FailedAt.IsZero() {
		t.Errorf("retried dead event has attempts %d, releases %d, a failure at %v; want a fresh start", got.Attempts, got.Releases, got.FailedAt)
	}
	second := e.wantClaim("w1")
	if second[0].EntityVersion != 2 {
		t.Fatalf("claimed version %d, want the head, version 2", second[0].EntityVersion)
	}
	e.finish(delivered(second[0]))
	if third := e.wantClaim("w1"); third[0].ID != evs[0].ID {
		t.Fatalf("the retried event was not next in its key")
	}

	// A dead event alone in its key is claimable at once.
	lone := e.enqueue(Event("w9", 1))[0]
	c = e.wantClaim("w9")
	e.finish(outbox.Outcome{Event: c[0], Kind: outbox.Dead, Error: "400"})
	if err := e.store.Retry(e.ctx, lone.ID); err != nil {
		t.Fatal(err)
	}
	e.wantClaim("w9")

	if err := e.store.Retry(e.ctx, uuid.New()); !errors.Is(err, outbox.ErrNotFound) {
		t.Errorf("retry of an unknown id: %v, want ErrNotFound", err)
	}
}

func testRetryFailed(t *testing.T, e *env) {
	ev := e.enqueue(Event("w1", 1))[0]
	c := e.wantClaim("w1")
	e.finish(outbox.Outcome{Event: c[0], Kind: outbox.Retry, Delay: time.Hour, Error: "500"})
	if err := e.store.Retry(e.ctx, ev.ID); err != nil {
		t.Fatal(err)
	}
	if again := e.wantClaim("w1"); again[0].Attempts != 1 {
		t.Fatalf("a retried failed event is claimed with attempts %d, want a fresh start", again[0].Attempts)
	}
	pending := e.enqueue(Event("w2", 1))[0]
	if err := e.store.Retry(e.ctx, pending.ID); !errors.Is(err, outbox.ErrNotRetryable) {
		t.Fatalf("retry of a pending event: %v, want ErrNotRetryable", err)
	}
}

func testDiscard(t *testing.T, e *env) {
	evs := e.enqueue(Event("w1", 1), Event("w1", 2), Event("w1", 3))
	c := e.wantClaim("w1")
	if err := e.store.Discard(e.ctx, evs[0].ID); !errors.Is(err, outbox.ErrInFlight) {
		t.Fatalf("discard of an event in flight: %v, want ErrInFlight", err)
	}
	// A waiting event may go; the head keeps its place.
	if err := e.store.Discard(e.ctx, evs[1].ID); err != nil {
		t.Fatal(err)
	}
	e.wantClaim()
	// Once its lease has expired, the head may go too, and the key moves on.
	e.clock.Advance(2 * time.Minute)
	if err := e.store.Discard(e.ctx, c[0].ID); err != nil {
		t.Fatal(err)
	}
	if next := e.wantClaim("w1"); next[0].ID != evs[2].ID {
		t.Fatalf("after discarding versions 1 and 2, claimed version %d", next[0].EntityVersion)
	}
	if _, err := e.store.Get(e.ctx, evs[1].ID); !errors.Is(err, outbox.ErrNotFound) {
		t.Fatalf("a discarded event is still there: %v", err)
	}
	if err := e.store.Discard(e.ctx, evs[1].ID); !errors.Is(err, outbox.ErrNotFound) {
		t.Fatalf("discarding twice: %v, want ErrNotFound", err)
	}
}

func testPurgeCompleted(t *testing.T, e *env) {
	evs := e.enqueue(Event("old", 1), Event("dead", 1))
	c := e.wantClaim("old", "dead")
	e.finish(delivered(c[0]), outbox.Outcome{Event: c[1], Kind: outbox.Dead, Error: "400"})
	cutoff := e.clock.Now().Add(time.Second)
	e.clock.Advance(time.Hour)
	evs = append(evs, e.enqueue(Event("new", 1))...)
	e.finish(delivered(e.wantClaim("new")[0]))

	n, err := e.store.PurgeCompleted(e.ctx, cutoff)
	if err != nil || n != 1 {
		t.Fatalf("purge = %d, %v; want 1", n, err)
	}
	if _, err := e.store.Get(e.ctx, evs[0].ID); !errors.Is(err, outbox.ErrNotFound) {
		t.Errorf("the old completed event survived the purge")
	}
	e.wantStatus(evs[1], outbox.StatusDead)
	e.wantStatus(evs[2], outbox.StatusCompleted)
}

func fmtIDs(ids []string) string {
	s := ""
	for _, id := range ids {
		s += id + ","
	}
	return s
}

func testCountByUser(t *testing.T, e *env) {
	ada, bob, cy := Event("a1", 1), Event("b1", 1), Event("c1", 1)
	ada.UserID, bob.UserID, cy.UserID = "ada", "bob", "cy"
	ada2 := Event("a2", 1)
	ada2.UserID = "ada"
	e.enqueue(ada, ada2, bob, cy)
	c := e.wantClaim("a1", "a2", "b1", "c1")
	e.finish(delivered(c[3]), outbox.Outcome{Event: c[2], Kind: outbox.Dead, Error: "400"})

	users, err := e.store.CountByUser(e.ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	// cy's only event completed: cy is not listed. ada waits on two, bob on none but has a dead one.
	if len(users) != 2 || users[0].UserID != "ada" || users[0].Waiting() != 2 || users[1].UserID != "bob" || users[1].Counts[outbox.StatusDead] != 1 {
		t.Fatalf("count by user = %+v", users)
	}
	if top, _ := e.store.CountByUser(e.ctx, 1); len(top) != 1 || top[0].UserID != "ada" {
		t.Fatalf("top 1 = %+v", top)
	}
}

// Heartbeats register processors, with their state (pause, events in
// flight, limit of sends), until they stop or their heartbeat is overdue.
func testProcessors(t *testing.T, e *env) {
	p := outbox.ProcessorInfo{Owner: "host:1:abc", Host: "host", PID: 1, Version: "v1.2.3", Config: "concurrency=16"}
	if err := e.store.Heartbeat(e.ctx, p, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	started := e.clock.Now()
	e.clock.Advance(10 * time.Second)
	paused := e.clock.Now().Add(-time.Second)
	p.State = outbox.State{Paused: true, PausedSince: paused, PauseClass: outbox.Permanent, PauseReason: "POST /v1/weight: 400 Bad Request",
		InFlight: 3, Limit: 12}
	if err := e.store.Heartbeat(e.ctx, p, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	ps, err := e.store.Processors(e.ctx)
	if err != nil || len(ps) != 1 {
		t.Fatalf("processors %+v, %v; want one", ps, err)
	}
	got := ps[0]
	want := p
	want.StartedAt, want.SeenAt, want.Alive = started, e.clock.Now(), true
	if !got.StartedAt.Equal(want.StartedAt) || !got.SeenAt.Equal(want.SeenAt) || !got.PausedSince.Equal(paused) {
		t.Fatalf("processor started %v, seen %v, paused since %v; want %v, %v, %v", got.StartedAt, got.SeenAt, got.PausedSince, started, want.SeenAt, paused)
	}
	got.StartedAt, got.SeenAt, got.PausedSince = want.StartedAt, want.SeenAt, want.PausedSince
	if got != want {
		t.Fatalf("processor %+v, want %+v", got, want)
	}
	// Overdue: dead, and still listed for a day.
	e.clock.Advance(31 * time.Second)
	if ps, _ := e.store.Processors(e.ctx); len(ps) != 1 || ps[0].Alive {
		t.Fatalf("after a missed heartbeat: %+v; want listed, not alive", ps)
	}
	other := outbox.ProcessorInfo{Owner: "host:2:def", Host: "host", PID: 2, Version: "v1.2.3", Config: "concurrency=16"}
	if err := e.store.Heartbeat(e.ctx, other, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(25 * time.Hour)
	if err := e.store.Heartbeat(e.ctx, other, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if ps, _ := e.store.Processors(e.ctx); len(ps) != 1 || ps[0].Owner != other.Owner || !ps[0].Alive || ps[0].Paused {
		t.Fatalf("a day later: %+v; want the dead one forgotten, the live one listed", ps)
	}
	if err := e.store.Deregister(e.ctx, other.Owner); err != nil {
		t.Fatal(err)
	}
	if ps, _ := e.store.Processors(e.ctx); len(ps) != 0 {
		t.Fatalf("after deregistering: %+v", ps)
	}
}

// Stats counts the events whose lease expired before anyone reclaimed them.
func testStatsCountsExpiredLeases(t *testing.T, e *env) {
	e.enqueue(Event("w1", 1), Event("w2", 1))
	e.wantClaim("w1", "w2")
	st, err := e.store.Stats(e.ctx)
	if err != nil || st.ExpiredLeases != 0 {
		t.Fatalf("expired leases %d, %v; want 0 while they hold", st.ExpiredLeases, err)
	}
	e.clock.Advance(2 * time.Minute)
	if st, err = e.store.Stats(e.ctx); err != nil || st.ExpiredLeases != 2 {
		t.Fatalf("expired leases %d, %v; want 2", st.ExpiredLeases, err)
	}
}

// Completed events are counted as they complete and as they are purged or
// discarded, whichever way.
func testStatsCountsCompleted(t *testing.T, e *env) {
	steps := Event("s1", 1)
	steps.Type = "steps.updated"
	evs := e.enqueue(Event("w1", 1), Event("w2", 1), Event("w3", 1), Event("w4", 1), steps)
	c := e.wantClaim("w1", "w2", "w3", "w4", "s1")
	outs := make([]outbox.Outcome, len(c))
	for i, ev := range c {
		outs[i] = delivered(ev)
	}
	e.finish(outs...)
	e.clock.Advance(time.Hour)
	wantCompleted := func(weight, steps int64) {
		t.Helper()
		st, err := e.store.Stats(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.CompletedEstimated || st.Counts[outbox.StatusCompleted] != weight+steps ||
			st.ByType["weight.updated"][outbox.StatusCompleted] != weight || st.ByType["steps.updated"][outbox.StatusCompleted] != steps {
			t.Fatalf("completed: %d (estimated %v), by type %v; want %d weight and %d steps", st.Counts[outbox.StatusCompleted], st.CompletedEstimated, st.ByType, weight, steps)
		}
	}
	wantCompleted(4, 1)
	if err := e.store.Discard(e.ctx, evs[0].ID); err != nil {
		t.Fatal(err)
	}
	wantCompleted(3, 1)
	if _, err := e.store.DiscardMatching(e.ctx, outbox.Selection{Statuses: []outbox.Status{outbox.StatusCompleted}, Limit: 1}, nil); err != nil {
		t.Fatal(err)
	}
	wantCompleted(2, 1)
	if _, err := e.store.PurgeMatching(e.ctx, outbox.Selection{Type: "steps.updated"}, nil); err != nil {
		t.Fatal(err)
	}
	wantCompleted(2, 0)
	if _, err := e.store.PurgeCompleted(e.ctx, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	wantCompleted(0, 0)
}
