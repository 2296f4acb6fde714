package pgstore_test

import (
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// A bulk retry leaves alone an event whose row a processor has locked
// (recording an outcome), reports it as skipped, and does the others.
func TestRetryMatchingSkipsHeldEvents(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	if _, err := (suiteStore{s}).EnqueueTx(ctx, true, pgEvent("a"), pgEvent("b"), pgEvent("c")); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.Claim(ctx, "p", 10, time.Minute)
	if err != nil || len(claimed) != 3 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	outs := make([]outbox.Outcome, len(claimed))
	for i, ev := range claimed {
		outs[i] = outbox.Outcome{Event: ev, Kind: outbox.Dead, Error: "400"}
	}
	if _, err := s.Finish(ctx, outs); err != nil {
		t.Fatal(err)
	}
	held, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Rollback(ctx)
	if _, err := held.Exec(ctx, "SELECT 1 FROM outbox_events WHERE id = $1 FOR UPDATE", claimed[1].ID); err != nil {
		t.Fatal(err)
	}
	res, err := s.RetryMatching(ctx, outbox.Selection{Statuses: []outbox.Status{outbox.StatusDead}}, nil)
	if err != nil || res.Done != 2 || res.Skipped != 1 {
		t.Fatalf("retry with one event held: %+v, %v; want 2 done, 1 skipped", res, err)
	}
	if err := held.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := s.RetryMatching(ctx, outbox.Selection{Statuses: []outbox.Status{outbox.StatusDead}}, nil); err != nil || res.Done != 1 {
		t.Fatalf("retry once it was let go: %+v, %v", res, err)
	}
}
