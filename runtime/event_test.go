package outbox

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/fstest"
	"time"
)

func TestPrepareFillsDefaults(t *testing.T) {
	ev, err := Prepare(Event{Type: "weight.created", Aggregate: "weight", AggregateID: "w1"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID.Version() != 7 || ev.OrderingKey != "weight/w1" || ev.Priority != DefaultPriority ||
		ev.MaxAttempts != DefaultMaxAttempts || string(ev.Payload) != "null" || ev.Status != StatusPending {
		t.Fatalf("prepared event %+v", ev)
	}
	kept, err := Prepare(Event{Type: "t", Aggregate: "a", AggregateID: "1", OrderingKey: "user/7", Priority: 9, MaxAttempts: 2}, 0)
	if err != nil || kept.OrderingKey != "user/7" || kept.Priority != 9 || kept.MaxAttempts != 2 {
		t.Fatalf("prepare overrode given values: %+v, %v", kept, err)
	}
}

func TestPrepareRejectsOversizedPayload(t *testing.T) {
	_, err := Prepare(Event{Type: "t", Aggregate: "a", AggregateID: "1", Payload: []byte(`"0123456789"`)}, 10)
	if !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("err = %v, want ErrInvalidEvent", err)
	}
}

func TestClassify(t *testing.T) {
	cause := errors.New("boom")
	for _, tc := range []struct {
		err   error
		class Class
		after time.Duration
	}{
		{cause, Transient, 0},
		{context.DeadlineExceeded, Transient, 0},
		{PermanentError(cause), Permanent, 0},
		{UnavailableError(cause), Unavailable, 0},
		{TransientError(cause, time.Minute), Transient, time.Minute},
		{fmt.Errorf("send: %w", PermanentError(cause)), Permanent, 0},
	} {
		class, after := Classify(tc.err)
		if class != tc.class || after != tc.after {
			t.Errorf("Classify(%v) = %s, %s; want %s, %s", tc.err, class, after, tc.class, tc.after)
		}
	}
	if !errors.Is(PermanentError(cause), cause) {
		t.Error("a DeliveryError does not unwrap to its cause")
	}
}

func TestLoadMigrations(t *testing.T) {
	good := fstest.MapFS{
		"m/0002_more.sql":   {Data: []byte("two")},
		"m/0001_create.sql": {Data: []byte("one")},
	}
	ms, err := LoadMigrations(good, "m")
	if err != nil || len(ms) != 2 || ms[0].Version != 1 || ms[1].Name != "more" || ms[1].SQL != "two" {
		t.Fatalf("LoadMigrations = %+v, %v", ms, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":      {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"bad name": {"m/1_a.sql": {}},
		"missing":  {},
	} {
		if _, err := LoadMigrations(fsys, "m"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
