package storetest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

func testEnqueueCommitted(t *testing.T, e *env) {
	ev := Event("w1", 1)
	ev.Metadata = map[string]string{"source": "scale"}
	ev.IsNewRecord = true
	out := e.enqueue(ev)[0]
	if out.ID.Version() != 7 {
		t.Errorf("assigned id %s is not a UUIDv7", out.ID)
	}

	all, err := e.store.List(e.ctx, outbox.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 {
		t.Fatalf("after one committed enqueue the outbox holds %d events, want 1", len(all))
	}
	got := all[0]
	checks := []struct {
		what      string
		got, want any
	}{
		{"id", got.ID, out.ID},
		{"type", got.Type, "weight.updated"},
		{"aggregate", got.Aggregate, "weight"},
		{"aggregate id", got.AggregateID, "w1"},
		{"user id", got.UserID, "user-1"},
		{"ordering key", got.OrderingKey, "weight/w1"},
		{"is new record", got.IsNewRecord, true},
		{"entity version", got.EntityVersion, int64(1)},
		{"metadata", got.Metadata["source"], "scale"},
		{"priority", got.Priority, outbox.DefaultPriority},
		{"max attempts", got.MaxAttempts, outbox.DefaultMaxAttempts},
		{"status", got.Status, outbox.StatusPending},
		{"attempts", got.Attempts, 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	var payload map[string]int
	if err := json.Unmarshal(got.Payload, &payload); err != nil || payload["n"] != 1 {
		t.Errorf("payload = %s, want {\"n\":1}", got.Payload)
	}
	if !got.RunAt.Equal(e.clock.Now()) || !got.CreatedAt.Equal(e.clock.Now()) {
		t.Errorf("run at %v, created at %v; want both %v", got.RunAt, got.CreatedAt, e.clock.Now())
	}
}

func testEnqueueRolledBack(t *testing.T, e *env) {
	if _, err := e.store.EnqueueTx(e.ctx, false, Event("w1", 1), Event("w2", 1)); err != nil {
		t.Fatal(err)
	}
	all, err := e.store.List(e.ctx, outbox.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 0 {
		t.Fatalf("a rolled-back enqueue left %d events", len(all))
	}
	// The rolled-back events must not have left their keys behind either:
	// a new event of the same key is claimable at once.
	e.enqueue(Event("w1", 2))
	e.wantClaim("w1")
}

func testEnqueueInvalid(t *testing.T, e *env) {
	big := Event("w1", 1)
	big.Payload = json.RawMessage(`"` + strings.Repeat("x", outbox.DefaultMaxPayloadBytes) + `"`)
	cases := map[string]outbox.Event{
		"no type":      {Aggregate: "weight", AggregateID: "w1"},
		"no aggregate": {Type: "weight.updated", AggregateID: "w1"},
		"no entity":    {Type: "weight.updated", Aggregate: "weight"},
		"bad json":     func() outbox.Event { ev := Event("w1", 1); ev.Payload = json.RawMessage(`{"n":`); return ev }(),
		"priority":     func() outbox.Event { ev := Event("w1", 1); ev.Priority = outbox.MaxPriority + 1; return ev }(),
		"too big":      big,
	}
	for name, ev := range cases {
		// A valid event in the same transaction shows the whole transaction
		// fails, not just the bad event.
		_, err := e.store.EnqueueTx(e.ctx, true, Event("ok", 1), ev)
		if !errors.Is(err, outbox.ErrInvalidEvent) {
			t.Errorf("%s: err = %v, want ErrInvalidEvent", name, err)
		}
		if strings.Contains(err.Error(), "xxxxxxxx") {
			t.Errorf("%s: the error repeats the payload: %.80s…", name, err)
		}
	}
	all, err := e.store.List(e.ctx, outbox.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 0 {
		t.Fatalf("refused enqueues left %d events", len(all))
	}
}
