package pgstore_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

func pgEvent(key string) outbox.Event {
	return outbox.Event{Type: "weight.updated", Aggregate: "weight", AggregateID: key, Payload: json.RawMessage(`{}`)}
}

// A processor's Finish and an application transaction that locks ordering
// keys in the opposite order: the processor gives way, the application's
// transaction commits, and the Finish succeeds when tried again.
func TestFinishGivesWayToApplications(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	if _, err := (suiteStore{s}).EnqueueTx(ctx, true, pgEvent("a"), pgEvent("b")); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.Claim(ctx, "p", 10, time.Minute)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claim: %v %v", claimed, err)
	}

	// The application locks b's key row.
	app, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Rollback(ctx)
	if _, err := s.Enqueue(ctx, app, pgEvent("b")); err != nil {
		t.Fatal(err)
	}
	// The processor locks a's, then waits for b's.
	finished := make(chan error, 1)
	go func() {
		_, err := s.Finish(ctx, []outbox.Outcome{{Event: claimed[0], Kind: outbox.Delivered}, {Event: claimed[1], Kind: outbox.Delivered}})
		finished <- err
	}()
	waitForLockWait(t, s.Pool())
	// The application now wants a's: a deadlock, unless the processor yields.
	if _, err := s.Enqueue(ctx, app, pgEvent("a")); err != nil {
		t.Fatalf("the application's transaction lost: %v", err)
	}
	if err := app.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-finished; err == nil || !strings.Contains(err.Error(), "lock timeout") {
		t.Fatalf("the processor's Finish: %v; want it to have given way", err)
	}
	res, err := s.Finish(ctx, []outbox.Outcome{{Event: claimed[0], Kind: outbox.Delivered}, {Event: claimed[1], Kind: outbox.Delivered}})
	if err != nil || len(res.Lost) != 0 {
		t.Fatalf("Finish tried again: %+v, %v", res, err)
	}
}

// waitForLockWait waits until a session of the pool's database waits for a lock.
func waitForLockWait(t *testing.T, pool interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		err := pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond) // polling the server's own view of its locks
	}
	t.Fatal("no session ever waited for a lock")
}

// A hook that swallows a failed statement leaves PostgreSQL's transaction
// aborted; the failure is that hook's, and the batch's other outcomes are
// recorded.
func TestSwallowingHookFailsAlone(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	s.OnDelivered("weight.updated", func(ctx context.Context, tx pgx.Tx, d outbox.Delivery) error {
		if d.Event.AggregateID == "bad" {
			_, _ = tx.Exec(ctx, "SELECT 1/0") // error ignored, transaction aborted
		}
		return nil
	})
	evs, err := (suiteStore{s}).EnqueueTx(ctx, true, pgEvent("good"), pgEvent("bad"), pgEvent("fine"))
	if err != nil {
		t.Fatal(err)
	}
	claimed, err := s.Claim(ctx, "p", 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	outs := make([]outbox.Outcome, len(claimed))
	for i, ev := range claimed {
		outs[i] = outbox.Outcome{Event: ev, Kind: outbox.Delivered}
	}
	res, err := s.Finish(ctx, outs)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.HookErrors) != 1 || res.HookErrors[evs[1].ID] == nil {
		t.Fatalf("hook errors %v, want only the bad event's", res.HookErrors)
	}
	for _, ev := range []outbox.Event{evs[0], evs[2]} {
		got, err := s.Get(ctx, ev.ID)
		if err != nil || got.Status != outbox.StatusCompleted {
			t.Fatalf("%s: %v %v", ev.AggregateID, got.Status, err)
		}
	}
	if got, _ := s.Get(ctx, evs[1].ID); got.Status != outbox.StatusProcessing {
		t.Fatalf("the bad event is %s, want still claimed", got.Status)
	}
}
