package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// BrowserStore is a store under test that also implements outbox.Browser.
type BrowserStore interface {
	Store
	outbox.Browser
}

// RunBrowser runs the conformance tests of outbox.Browser, the console's
// paging and activity queries, against stores made by newStore, whose
// stores must implement it.
func RunBrowser(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		run  func(*testing.T, *env, outbox.Browser)
	}{
		{"ListPage", testListPage},
		{"ListPageOfCompleted", testListPageOfCompleted},
		{"CountMatching", testCountMatching},
		{"ActivityByMinute", testActivityByMinute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := NewClock()
			s := newStore(t, clock.Now)
			b, ok := s.(outbox.Browser)
			if !ok {
				t.Fatalf("%T does not implement outbox.Browser", s)
			}
			tt.run(t, &env{t: t, clock: clock, store: s, ctx: t.Context()}, b)
		})
	}
}

// testListPage pages through events two at a time, including events
// enqueued in one transaction (one created_at), and checks filters and that
// no payload is returned.
func testListPage(t *testing.T, e *env, b outbox.Browser) {
	e.enqueue(Event("a", 1), Event("b", 1), Event("c", 1)) // one created_at
	e.clock.Advance(time.Minute)
	other := Event("d", 1)
	other.UserID = "user-2"
	steps := Event("e", 1)
	steps.Type = "steps.updated"
	e.enqueue(other, steps)
	e.clock.Advance(time.Minute)
	c := e.wantClaim("a", "b", "c", "d", "e")
	var dead []outbox.Outcome
	for _, ev := range c {
		dead = append(dead, outbox.Outcome{Event: ev, Kind: outbox.Dead, Error: "400"})
	}
	e.finish(dead...)

	var got []string
	var after outbox.PageKey
	for page := 0; ; page++ {
		evs, err := b.ListPage(e.ctx, outbox.Filter{Status: outbox.StatusDead, Limit: 2}, after)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Payload != nil {
				t.Fatalf("ListPage returned the payload of %s", ev.AggregateID)
			}
		}
		if len(evs) == 0 {
			break
		}
		if page > 5 {
			t.Fatalf("paging does not end: %v", got)
		}
		got = append(got, ids(evs)...)
		after = outbox.KeyOf(evs[len(evs)-1])
	}
	// a, b and c share a created_at, so they come in id order; d and e
	// likewise. Either way each comes once.
	if len(got) != 5 || fmtIDs(got[:3]) != fmtIDs(sortedIDs(c[:3])) || fmtIDs(got[3:]) != fmtIDs(sortedIDs(c[3:])) {
		t.Fatalf("pages of dead events = %v", got)
	}

	start := e.clock.Now().Add(-2 * time.Minute)
	for _, tc := range []struct {
		f    outbox.Filter
		want []string
	}{
		{outbox.Filter{Status: outbox.StatusDead, UserID: "user-2"}, []string{"d"}},
		{outbox.Filter{Status: outbox.StatusDead, Type: "steps.updated"}, []string{"e"}},
		{outbox.Filter{Status: outbox.StatusDead, CreatedBefore: start.Add(time.Second)}, sortedIDs(c[:3])},
		{outbox.Filter{Status: outbox.StatusPending}, nil},
	} {
		evs, err := b.ListPage(e.ctx, tc.f, outbox.PageKey{})
		if err != nil {
			t.Fatal(err)
		}
		if fmtIDs(ids(evs)) != fmtIDs(tc.want) {
			t.Errorf("ListPage %+v = %v, want %v", tc.f, ids(evs), tc.want)
		}
	}
	if _, err := b.ListPage(e.ctx, outbox.Filter{}, outbox.PageKey{}); err == nil {
		t.Error("ListPage without a status: no error")
	}
}

// testListPageOfCompleted delivers events in an order other than their
// enqueue order and checks that pages of completed events follow the
// deliveries, and that a page key made by KeyOf carries on from where the
// last page ended.
func testListPageOfCompleted(t *testing.T, e *env, b outbox.Browser) {
	other := Event("d", 1)
	other.UserID = "user-2"
	e.enqueue(Event("a", 1), Event("b", 1), Event("c", 1), other)
	e.clock.Advance(time.Minute)
	c := e.wantClaim("a", "b", "c", "d")
	for _, i := range []int{2, 0, 3, 1} { // c, a, d, b: each a second later
		e.clock.Advance(time.Second)
		e.finish(delivered(c[i]))
	}

	var got []string
	var after outbox.PageKey
	for page := 0; ; page++ {
		evs, err := b.ListPage(e.ctx, outbox.Filter{Status: outbox.StatusCompleted, Limit: 3}, after)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		if page > 3 {
			t.Fatalf("paging does not end: %v", got)
		}
		got = append(got, ids(evs)...)
		after = outbox.KeyOf(evs[len(evs)-1])
		if !after.At.Equal(evs[len(evs)-1].CompletedAt) {
			t.Fatalf("KeyOf a completed event is at %v, not its completion %v", after.At, evs[len(evs)-1].CompletedAt)
		}
	}
	if fmtIDs(got) != fmtIDs([]string{"c", "a", "d", "b"}) {
		t.Fatalf("pages of completed events = %v, want them in delivery order c, a, d, b", got)
	}
	evs, err := b.ListPage(e.ctx, outbox.Filter{Status: outbox.StatusCompleted, UserID: "user-2"}, outbox.PageKey{})
	if err != nil {
		t.Fatal(err)
	}
	if fmtIDs(ids(evs)) != fmtIDs([]string{"d"}) {
		t.Errorf("completed events of user-2 = %v, want [d]", ids(evs))
	}
}

func testCountMatching(t *testing.T, e *env, b outbox.Browser) {
	other := Event("b", 1)
	other.UserID = "user-2"
	e.enqueue(Event("a", 1), other, Event("c", 1))
	c := e.wantClaim("a", "b", "c")
	e.finish(outbox.Outcome{Event: c[0], Kind: outbox.Dead, Error: "400"}, outbox.Outcome{Event: c[1], Kind: outbox.Dead, Error: "400"})
	for _, tc := range []struct {
		f    outbox.Filter
		want int64
	}{
		{outbox.Filter{}, 3},
		{outbox.Filter{Status: outbox.StatusDead}, 2},
		{outbox.Filter{Status: outbox.StatusDead, UserID: "user-2"}, 1},
		{outbox.Filter{Type: "steps.updated"}, 0},
		{outbox.Filter{CreatedBefore: e.clock.Now()}, 0},
	} {
		n, err := b.CountMatching(e.ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if n != tc.want {
			t.Errorf("CountMatching %+v = %d, want %d", tc.f, n, tc.want)
		}
	}
}

// testActivityByMinute delivers and fails events in two different minutes
// and checks each lands in its own.
func testActivityByMinute(t *testing.T, e *env, b outbox.Browser) {
	start := e.clock.Now().Truncate(time.Minute).Add(time.Minute)
	e.clock.Advance(start.Add(10 * time.Second).Sub(e.clock.Now()))
	e.enqueue(Event("a", 1), Event("b", 1), Event("c", 1), Event("d", 1))
	c := e.wantClaim("a", "b", "c", "d")
	e.finish(delivered(c[0]), delivered(c[1]), outbox.Outcome{Event: c[2], Kind: outbox.Retry, Delay: time.Hour, Error: "500"})
	e.clock.Advance(time.Minute - 5*time.Second)
	e.finish(outbox.Outcome{Event: c[3], Kind: outbox.Dead, Error: "400"})

	got, err := b.ActivityByMinute(e.ctx, start.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []outbox.MinuteCounts{
		{Minute: start.UTC(), Delivered: 2, Failed: 1},
		{Minute: start.Add(time.Minute).UTC(), Failed: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("activity = %+v, want %+v", got, want)
	}
	for i := range want {
		if !got[i].Minute.Equal(want[i].Minute) || got[i].Delivered != want[i].Delivered || got[i].Failed != want[i].Failed {
			t.Errorf("activity[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got, err := b.ActivityByMinute(e.ctx, start.Add(time.Minute)); err != nil || len(got) != 1 {
		t.Errorf("activity since the second minute = %+v, %v; want its one minute", got, err)
	}
}

func sortedIDs(evs []*outbox.Event) []string {
	byID := slices.Clone(evs)
	slices.SortFunc(byID, func(a, b *outbox.Event) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return ids(byID)
}
