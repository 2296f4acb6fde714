package outboxtest_test

import (
	"errors"
	"testing"

	"go.uber.org/goleak"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDrainDeliversAndReports(t *testing.T) {
	s := outboxtest.NewSQLiteStore(t)
	outboxtest.EnqueueSQLite(t, s,
		outbox.Event{Type: "weight.created", Aggregate: "weight", AggregateID: "w1", Payload: []byte(`{"kg":70}`)},
		outbox.Event{Type: "weight.created", Aggregate: "weight", AggregateID: "w2", Payload: []byte(`{"kg":71}`)},
		outbox.Event{Type: "mood.created", Aggregate: "mood", AggregateID: "m1"},
	)
	ev := outboxtest.RequireEnqueued(t, s, "weight.created", "w2")
	if string(ev.Payload) != `{"kg":71}` {
		t.Fatalf("RequireEnqueued returned %s", ev.Payload)
	}
	outboxtest.RequireCount(t, s, "weight.created", 2)

	sender := &outboxtest.Sender{}
	sender.FailNext(outbox.TransientError(outboxtest.ErrInjected, 0))
	sender.FailWhen(func(ev *outbox.Event) error {
		if ev.Type == "mood.created" {
			return outbox.PermanentError(errors.New("410 Gone"))
		}
		return nil
	})
	st := outboxtest.Drain(t, s, sender, 0)
	if st.Counts[outbox.StatusCompleted] != 2 || st.Counts[outbox.StatusDead] != 1 || outboxtest.Unfinished(st) != 0 {
		t.Fatalf("after drain: %v", st.Counts)
	}
	if got := sender.DeliveredOfType("weight.created"); len(got) != 2 {
		t.Fatalf("delivered %d weight events, want 2", len(got))
	}
	if sender.Attempts() != 4 {
		t.Fatalf("%d attempts, want 4 (one injected failure, one permanent)", sender.Attempts())
	}
}
