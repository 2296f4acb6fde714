package outboxtest_test

import (
	"errors"
	"fmt"
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
		// The rejection counts against the event when it repeats after
		// other deliveries: the app goes on saving.
		id := fmt.Sprintf("w%d", 2+moods.Add(1))
		outboxtest.EnqueueSQLite(t, s, outbox.Event{Type: "weight.created", Aggregate: "weight", AggregateID: id, Payload: []byte(`{"kg":72}`)})
		return outbox.PermanentError(errors.New("410 Gone"))
	})
	st := outboxtest.Drain(t, s, sender, 0)
	weights := 2 + int(moods.Load())
	if st.Counts[outbox.StatusCompleted] != int64(weights) || st.Counts[outbox.StatusDead] != 1 || outboxtest.Unfinished(st) != 0 {
		t.Fatalf("after drain: %v", st.Counts)
	}
	if got := sender.DeliveredOfType("weight.created"); len(got) != weights {
		t.Fatalf("delivered %d weight events, want %d", len(got), weights)
	}
	// The deliveries, one injected failure, and the rejected event's
	// attempts: three failures or more (the first only dates it; two
	// refusals held against it after other deliveries kill it), whichever
	// event the injected failure hit.
	dead := outboxtest.RequireEnqueued(t, s, "mood.created", "m1")
	if n := sender.AttemptsOf(dead.ID); n < 3 || n > int(moods.Load())+1 || sender.Attempts() != weights+1+int(moods.Load()) {
		t.Fatalf("%d attempts, the rejected event %d times (%d refusals); want the weights, one injected failure and the rejected event three times or more", sender.Attempts(), n, moods.Load())
	}
}
