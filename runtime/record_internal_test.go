package outbox

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
)

// An event with two outcomes in one batch (a stale lease's and a live
// one's) has the later held for the next call to Finish, in order, and the
// rest of the batch goes now.
func TestOncePerEventHoldsAnEventsSecondOutcome(t *testing.T) {
	e1, e2, e3 := &Event{ID: uuid.New()}, &Event{ID: uuid.New()}, &Event{ID: uuid.New()}
	at := func(ev *Event, token uuid.UUID) attempt {
		copied := *ev
		copied.Lease.Token = token
		return attempt{out: Outcome{Event: &copied}}
	}
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	first, held := oncePerEvent([]attempt{at(e1, a), at(e2, a), at(e1, b), at(e3, a), at(e2, c), at(e1, c)})
	describe := func(as []attempt) []string {
		var out []string
		for _, x := range as {
			out = append(out, x.out.Event.ID.String()[:8]+"@"+x.out.Event.Lease.Token.String()[:8])
		}
		return out
	}
	want := func(evs ...attempt) []string { return describe(evs) }
	if got, w := describe(first), want(at(e1, a), at(e2, a), at(e3, a)); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("sent now %v, want %v", got, w)
	}
	if got, w := describe(held), want(at(e1, b), at(e2, c), at(e1, c)); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("held %v, want %v", got, w)
	}
}
