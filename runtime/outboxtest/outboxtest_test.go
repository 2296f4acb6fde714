package outboxtest_test

import (
	"errors"
	"sync/atomic"
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
	var moods atomic.Int32
	sender.FailWhen(func(ev *outbox.Event) error {
		if ev.Type != "mood.created" {
			return nil
		}
		if moods.Add(1) == 1 {
			// The rejection counts against the event when it repeats after
			// other deliveries: the app goes on saving.
			outboxtest.EnqueueSQLite(t, s, outbox.Event{Type: "weight.created", Aggregate: "weight", AggregateID: "w3", Payload: []byte(`{"kg":72}`)})
		}
		return outbox.PermanentError(errors.New("410 Gone"))
	})
	st := outboxtest.Drain(t, s, sender, 0)
	if st.Counts[outbox.StatusCompleted] != 3 || st.Counts[outbox.StatusDead] != 1 || outboxtest.Unfinished(st) != 0 {
		t.Fatalf("after drain: %v", st.Counts)
	}
	if got := sender.DeliveredOfType("weight.created"); len(got) != 3 {
		t.Fatalf("delivered %d weight events, want 3", len(got))
	}
	// Three deliveries, one injected failure, and the rejected event twice
	// or more.
	if sender.Attempts() < 6 {
		t.Fatalf("%d attempts, want at least 6 (three deliveries, one injected failure, the rejected event twice)", sender.Attempts())
	}
}
