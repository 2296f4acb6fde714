package storetest

import (
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// An operator's pause of a type keeps its events out of claims and out of
// NextDue, spends no attempts, and lets other types through; a pause of
// every type stops all claims; Resume lifts them and wakes processors.
func testOperatorPauses(t *testing.T, e *env) {
	steps := Event("s1", 1)
	steps.Type = "steps.updated"
	e.enqueue(Event("w1", 1), steps, Event("w2", 1))
	pausedAt := e.clock.Now()
	if err := e.store.Pause(e.ctx, outbox.Pause{EventType: "steps.updated", By: "ada@ops", Reason: "backend route broken"}); err != nil {
		t.Fatal(err)
	}
	c := e.wantClaim("w1", "w2")
	e.finish(delivered(c[0]), delivered(c[1]))
	if wait, ok, err := e.store.NextDue(e.ctx); err != nil || ok {
		t.Fatalf("NextDue with only a paused type waiting: %v, %v, %v; want nothing due, or processors would spin", wait, ok, err)
	}

	e.clock.Advance(time.Minute)
	if err := e.store.Pause(e.ctx, outbox.Pause{By: "bob@ops", Reason: "maintenance"}); err != nil {
		t.Fatal(err)
	}
	// Pausing a paused type again records the new who and why, and keeps since.
	if err := e.store.Pause(e.ctx, outbox.Pause{EventType: "steps.updated", By: "cy@ops", Reason: "still broken"}); err != nil {
		t.Fatal(err)
	}
	e.enqueue(Event("w3", 1))
	e.wantClaim()
	if _, ok, _ := e.store.NextDue(e.ctx); ok {
		t.Fatal("NextDue reports an event due while every type is paused")
	}
	ps, err := e.store.Pauses(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []outbox.Pause{
		{EventType: "", By: "bob@ops", Reason: "maintenance", Since: e.clock.Now()},
		{EventType: "steps.updated", By: "cy@ops", Reason: "still broken", Since: pausedAt},
	}
	if !samePauses(ps, want) {
		t.Fatalf("pauses %+v, want %+v", ps, want)
	}
	if !ps[0].Every() || ps[1].Every() {
		t.Fatalf("Every: %v, %v; want the pause of every type first", ps[0].Every(), ps[1].Every())
	}

	// Lifting the type's pause leaves the pause of every type in force.
	lifted, err := e.store.Resume(e.ctx, "steps.updated")
	if err != nil || !samePauses(lifted, want[1:]) {
		t.Fatalf("resume steps.updated lifted %+v, %v; want %+v", lifted, err, want[1:])
	}
	e.wantClaim()

	wake, cancel := e.store.Subscribe()
	defer cancel()
	drain(wake)
	if lifted, err = e.store.Resume(e.ctx, ""); err != nil || !samePauses(lifted, want[:1]) {
		t.Fatalf("resume of every pause lifted %+v, %v; want %+v", lifted, err, want[:1])
	}
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up within 10 s of a resume")
	}
	c = e.wantClaim("s1", "w3")
	if c[0].Attempts != 1 || c[1].Attempts != 1 {
		t.Fatalf("after the pause, claimed with attempts %d and %d; want 1: a pause spends none", c[0].Attempts, c[1].Attempts)
	}
	if ps, err := e.store.Pauses(e.ctx); err != nil || len(ps) != 0 {
		t.Fatalf("pauses after resuming everything: %+v, %v", ps, err)
	}
	if lifted, err := e.store.Resume(e.ctx, ""); err != nil || len(lifted) != 0 {
		t.Fatalf("resuming with nothing paused: %+v, %v; want nothing lifted", lifted, err)
	}
}

func samePauses(got, want []outbox.Pause) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.EventType != w.EventType || g.By != w.By || g.Reason != w.Reason || !g.Since.Equal(w.Since) {
			return false
		}
	}
	return true
}
