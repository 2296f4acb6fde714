package outbox_test

import (
	"fmt"
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
)

// codeError is a failure the backend answered with a status.
type codeError int

func (c codeError) Error() string   { return fmt.Sprintf("POST /v1/weight: %d", int(c)) }
func (c codeError) StatusCode() int { return int(c) }

// The processor hands the store each failed attempt's status code and
// class, which the event's history keeps.
func TestHistoryKeepsStatusAndClass(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		evs := s.enqueue(t, event("answered", 1), event("refused", 1))
		sender := &outboxtest.Sender{}
		failed := map[string]bool{}
		sender.FailWhen(func(ev *outbox.Event) error {
			if failed[ev.AggregateID] {
				return nil
			}
			failed[ev.AggregateID] = true
			if ev.AggregateID == "answered" {
				return outbox.TransientError(fmt.Errorf("wrapped: %w", codeError(503)), 0)
			}
			return outbox.UnavailableError(fmt.Errorf("dial tcp: connection refused"))
		})
		rec := start(t, s, sender, fast(t))
		rec.waitFor(t, outbox.Delivered, 2, 10*time.Second)
		for i, want := range []outbox.Attempt{
			{Number: 1, Outcome: "release", Class: "transient", StatusCode: 503, Reason: "transient: wrapped: POST /v1/weight: 503"},
			{Number: 1, Outcome: "release", Class: "unavailable", Reason: "backend unavailable: dial tcp: connection refused"},
		} {
			got, err := s.Get(t.Context(), evs[i].ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.History) != 1 || got.LastError != "" {
				t.Fatalf("%s: history %+v, last error %q; want one attempt and no last error", evs[i].AggregateID, got.History, got.LastError)
			}
			h := got.History[0]
			h.At = time.Time{}
			if h != want {
				t.Errorf("%s: attempt %+v, want %+v", evs[i].AggregateID, h, want)
			}
		}
	})
}
