package pgstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// hookCalls records the events each call of a batch hook was given.
type hookCalls struct{ calls [][]uuid.UUID }

func (h *hookCalls) hook(fail uuid.UUID) func(context.Context, pgx.Tx, []outbox.Delivery) error {
	return func(_ context.Context, _ pgx.Tx, ds []outbox.Delivery) error {
		var ids []uuid.UUID
		for _, d := range ds {
			ids = append(ids, d.Event.ID)
		}
		h.calls = append(h.calls, ids)
		if slices.Contains(ids, fail) {
			return errors.New("hook refuses " + fail.String())
		}
		return nil
	}
}

// enqueueAndClaim enqueues one event of each type, in order, and claims
// them all.
func enqueueAndClaim(t *testing.T, s suiteStore, types ...string) []*outbox.Event {
	t.Helper()
	var evs []outbox.Event
	for i, typ := range types {
		evs = append(evs, outbox.Event{
			Type: typ, Aggregate: "weight", AggregateID: uuid.NewString(), UserID: "ada",
			OrderingKey: "key-" + string(rune('a'+i)), Payload: []byte(`{}`),
		})
	}
	if _, err := s.EnqueueTx(t.Context(), true, evs...); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.Claim(t.Context(), "test", len(types), time.Minute)
	if err != nil || len(claimed) != len(types) {
		t.Fatalf("claimed %d of %d: %v", len(claimed), len(types), err)
	}
	return claimed
}

func delivered(evs []*outbox.Event) []outbox.Outcome {
	outs := make([]outbox.Outcome, len(evs))
	for i, ev := range evs {
		outs[i] = outbox.Outcome{Event: ev, Kind: outbox.Delivered}
	}
	return outs
}

func ids(evs ...*outbox.Event) []uuid.UUID {
	out := make([]uuid.UUID, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

// A batch hook is called once per event type and recorded batch, with that
// type's deliveries in the order they were given to Finish.
func TestBatchHookGetsEachTypeOnce(t *testing.T) {
	s := suiteStore{open(t)}
	var a, b hookCalls
	s.OnDeliveredBatch("a", a.hook(uuid.Nil))
	s.OnDeliveredBatch("b", b.hook(uuid.Nil))
	evs := enqueueAndClaim(t, s, "a", "b", "a", "c", "a")
	res, err := s.Finish(t.Context(), delivered(evs))
	if err != nil || len(res.Lost) != 0 || len(res.HookErrors) != 0 {
		t.Fatalf("finish: %+v, %v", res, err)
	}
	if want := [][]uuid.UUID{ids(evs[0], evs[2], evs[4])}; !slices.EqualFunc(a.calls, want, slices.Equal) {
		t.Errorf("hook a got %v, want %v", a.calls, want)
	}
	if want := [][]uuid.UUID{ids(evs[1])}; !slices.EqualFunc(b.calls, want, slices.Equal) {
		t.Errorf("hook b got %v, want %v", b.calls, want)
	}
	for _, ev := range evs {
		if got, err := s.Get(t.Context(), ev.ID); err != nil || got.Status != outbox.StatusCompleted {
			t.Errorf("event %s (%s): %v, %v", ev.ID, ev.Type, got.Status, err)
		}
	}
}

// A batch hook that fails makes the batch be recorded again one outcome at
// a time, the hook called with one delivery each: only the event it
// refuses stays claimed and is reported; the others are completed.
func TestBatchHookFailureHoldsBackOnlyItsEvent(t *testing.T) {
	s := suiteStore{open(t)}
	evs := enqueueAndClaim(t, s, "a", "a", "a")
	var a hookCalls
	s.OnDeliveredBatch("a", a.hook(evs[1].ID))
	res, err := s.Finish(t.Context(), delivered(evs))
	if err != nil || len(res.Lost) != 0 {
		t.Fatalf("finish: %+v, %v", res, err)
	}
	if len(res.HookErrors) != 1 || res.HookErrors[evs[1].ID] == nil {
		t.Fatalf("hook errors %v, want one for %s", res.HookErrors, evs[1].ID)
	}
	want := [][]uuid.UUID{ids(evs...), ids(evs[0]), ids(evs[1]), ids(evs[2])}
	if !slices.EqualFunc(a.calls, want, slices.Equal) {
		t.Errorf("hook calls %v, want the batch, then each event alone: %v", a.calls, want)
	}
	for i, want := range []outbox.Status{outbox.StatusCompleted, outbox.StatusProcessing, outbox.StatusCompleted} {
		if got, err := s.Get(t.Context(), evs[i].ID); err != nil || got.Status != want {
			t.Errorf("event %d: %v, %v; want %s", i, got.Status, err, want)
		}
	}
}
