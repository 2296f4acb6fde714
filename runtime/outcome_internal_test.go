package outbox

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
)

// newTestRun is a run with nothing behind it but its decisions: outcome
// reads the event, the claim and what the run has seen.
func newTestRun() *run {
	cfg := Config{Logger: slog.New(slog.DiscardHandler), Lease: time.Minute}.withDefaults()
	p := &Processor{cfg: cfg, log: cfg.Logger, pause: pause{backoff: cfg.UnavailableBackoff}}
	return &run{Processor: p, changed: make(chan struct{}, 1), evidence: newEvidence(), slots: p.newLimiter()}
}

// A permanent answer held against an event kills it only when the last
// failure that spent an attempt was permanent too; after a counted 503 it
// is a counted failure like any other.
func TestPermanentKillsOnlyAfterACountedRefusal(t *testing.T) {
	ctx := context.Background()
	refused := PermanentError(errors.New("400 Bad Request"))
	for _, tc := range []struct {
		counted Class
		want    OutcomeKind
	}{
		{Transient, Retry},
		{Permanent, Dead},
	} {
		r := newTestRun()
		c := r.claimedNow()
		r.evidence.delivered(&Event{ID: uuid.New()}, r.evidence.sending(c)) // another delivery since the claim
		ev := &Event{ID: uuid.New(), Type: "t", Attempts: 3, MaxAttempts: 5,
			FailedAt: time.Now(), FailedClass: Permanent, CountedClass: tc.counted, OthersDelivered: true}
		out := r.outcome(ctx, ctx, ev, c, Receipt{}, refused)
		if out.Kind != tc.want {
			t.Errorf("a held 400 after a counted %s failure: %s, want %s", tc.counted, out.Kind, tc.want)
		}
	}
}

// A success whose request went out before an event failed is no evidence
// against the event, whichever of the two outcomes is recorded first: a
// request answered just before an outage began, recorded after a failure
// in it, must not make the outage's failures count.
func TestASuccessSentBeforeAFailureIsNoEvidence(t *testing.T) {
	ctx := context.Background()
	unavailable := TransientError(errors.New("503 Service Unavailable"), 0)
	for _, successFirst := range []bool{false, true} {
		r := newTestRun()
		a := &Event{ID: uuid.New(), Type: "t", Attempts: 1, MaxAttempts: 1}
		b := &Event{ID: uuid.New(), Type: "t", Attempts: 1, MaxAttempts: 1}
		claim := r.claimedNow()
		ca, cb := r.evidence.sending(claim), r.evidence.sending(claim) // both requests out at once
		if successFirst {
			r.outcome(ctx, ctx, a, ca, Receipt{}, nil)
		}
		out := r.outcome(ctx, ctx, b, cb, Receipt{}, unavailable)
		if out.Kind != Release {
			t.Fatalf("success recorded first %v: b's first failure: %s, want %s", successFirst, out.Kind, Release)
		}
		if !successFirst {
			r.outcome(ctx, ctx, a, ca, Receipt{}, nil)
		}
		reclaim(b, out)
		// The outage goes on: b is sent again and fails again, and no
		// request sent after its first failure got through.
		if out = r.outcome(ctx, ctx, b, r.evidence.sending(r.claimedNow()), Receipt{}, unavailable); out.Kind != Release {
			t.Errorf("success recorded first %v: b's second failure in the outage: %s, want %s", successFirst, out.Kind, Release)
		}
		reclaim(b, out)
		// Once a request sent after b's failure gets through, b's next
		// failure is its own.
		r.outcome(ctx, ctx, a, r.evidence.sending(r.claimedNow()), Receipt{}, nil)
		if out := r.outcome(ctx, ctx, b, r.evidence.sending(r.claimedNow()), Receipt{}, unavailable); out.Kind != Dead {
			t.Errorf("success recorded first %v: b failing after a later delivery: %s, want %s", successFirst, out.Kind, Dead)
		}
	}
}

// A failure that comes back faster than deliveries take does not pause
// delivery while deliveries succeed: a 503 from a backend at capacity is
// answered at once, while the sends it took are still being served, and
// nothing succeeding while that request was out says nothing. A failure of
// the only send out does pause: nothing else could have got through.
func TestAQuickRefusalAmongDeliveriesDoesNotPause(t *testing.T) {
	ctx := context.Background()
	full := TransientError(errors.New("503 Service Unavailable"), 0)
	for _, tc := range []struct {
		deliveredLately, othersOut, wantPaused bool
	}{
		{false, true, true},
		{true, true, false},
		{true, false, true},
	} {
		r := newTestRun()
		if tc.deliveredLately {
			// A delivery that took a while (its request went out an hour
			// ago) was just recorded.
			c := r.evidence.sending(r.claimedNow())
			c.sentAt = c.sentAt.Add(-time.Hour)
			r.outcome(ctx, ctx, &Event{ID: uuid.New(), Type: "t", Attempts: 1, MaxAttempts: 5}, c, Receipt{}, nil)
		}
		ev := &Event{ID: uuid.New(), Type: "t", Attempts: 1, MaxAttempts: 5}
		c := r.evidence.sending(r.claimedNow())
		c.othersOut = tc.othersOut
		r.outcome(ctx, ctx, ev, c, Receipt{}, full)
		if paused := r.State().Paused; paused != tc.wantPaused {
			t.Errorf("a refusal, a delivery just before %v, other sends out %v: paused %v, want %v", tc.deliveredLately, tc.othersOut, paused, tc.wantPaused)
		}
	}
}

// Once deliveries stop, a refusal pauses delivery even with other sends
// out: "lately" lasts twice a usual delivery's time, not for ever.
func TestARefusalLongAfterTheLastDeliveryPauses(t *testing.T) {
	ctx := context.Background()
	r := newTestRun()
	r.evidence.base = r.evidence.base.Add(-2 * time.Hour) // a run that began two hours ago
	c := r.evidence.sending(r.claimedNow())
	c.sentAt = c.sentAt.Add(-time.Millisecond) // a delivery that took 1 ms
	r.outcome(ctx, ctx, &Event{ID: uuid.New(), Type: "t", Attempts: 1, MaxAttempts: 5}, c, Receipt{}, nil)
	// recorded an hour ago
	r.evidence.lastAt.Store(r.evidence.lastAt.Load() - int64(time.Hour))
	c = r.evidence.sending(r.claimedNow())
	c.othersOut = true
	r.outcome(ctx, ctx, &Event{ID: uuid.New(), Type: "t", Attempts: 1, MaxAttempts: 5}, c, Receipt{}, TransientError(errors.New("503 Service Unavailable"), 0))
	if !r.State().Paused {
		t.Fatal("a refusal an hour after the last delivery, other sends out: not paused")
	}
}

// Dropped requests are held against an event by the ping rule only while it
// is the one event failing since a delivery whose request went out after
// the failures: a success sent before them, recorded after, makes none of
// them alone, and an event dead by the rule keeps the next one from being
// alone, so a backend that drops every request kills at most one event
// while nothing gets through.
func TestDroppedRequestsAreNotSingledOutByAnEarlierSuccess(t *testing.T) {
	ctx := context.Background()
	drop := DroppedError(errors.New("connection reset by peer"))
	retryDropped := func(r *run, ev *Event) Outcome {
		c := r.evidence.sending(r.claimedNow())
		c.answered = true // the backend answered a ping just before
		out := r.outcome(ctx, ctx, ev, c, Receipt{}, drop)
		reclaim(ev, out)
		return out
	}
	fail := func(r *run, ev *Event, c claimed) {
		reclaim(ev, r.outcome(ctx, ctx, ev, c, Receipt{}, drop))
	}
	newEvent := func() *Event { return &Event{ID: uuid.New(), Type: "t", Attempts: 1, MaxAttempts: 1} }

	t.Run("a success sent before the failures", func(t *testing.T) {
		r := newTestRun()
		a, b, d := newEvent(), newEvent(), newEvent()
		claim := r.claimedNow()
		ca, cb, cd := r.evidence.sending(claim), r.evidence.sending(claim), r.evidence.sending(claim)
		fail(r, b, cb)
		fail(r, d, cd)
		r.outcome(ctx, ctx, a, ca, Receipt{}, nil) // answered before the outage, recorded after
		for _, ev := range []*Event{b, d} {
			if out := retryDropped(r, ev); out.Kind != Release {
				t.Errorf("dropped again, pings answered, no delivery sent since: %s, want %s", out.Kind, Release)
			}
		}
	})
	t.Run("one event dead by the rule", func(t *testing.T) {
		r := newTestRun()
		b, d := newEvent(), newEvent()
		fail(r, b, r.evidence.sending(r.claimedNow()))
		if out := retryDropped(r, b); out.Kind != Dead {
			t.Fatalf("the one event failing, dropped again after a ping: %s, want %s", out.Kind, Dead)
		}
		fail(r, d, r.evidence.sending(r.claimedNow()))
		if out := retryDropped(r, d); out.Kind != Release {
			t.Errorf("the next event dropped twice, no delivery since the first died: %s, want %s", out.Kind, Release)
		}
		// Once a request sent after d's failures gets through, d's next
		// drop is its own.
		r.outcome(ctx, ctx, newEvent(), r.evidence.sending(r.claimedNow()), Receipt{}, nil)
		if out := retryDropped(r, d); out.Kind != Dead {
			t.Errorf("dropped after a later delivery: %s, want %s", out.Kind, Dead)
		}
	})
}

// reclaim gives ev what the store would after out and the event's next
// claim: a release the backend may have seen is counted and dates the
// failure, a retry dates it and spends the attempt, and the claim adds one.
func reclaim(ev *Event, out Outcome) {
	switch {
	case out.Kind == Release && out.Reached && out.Class == InProgress:
		ev.Releases++
		ev.InProgress++
	case out.Kind == Release && out.Reached:
		ev.Releases++
		ev.FailedAt, ev.FailedClass, ev.InProgress = time.Now(), out.Class, 0
	case out.Kind == Retry:
		ev.Attempts++
		ev.FailedAt, ev.FailedClass, ev.InProgress = time.Now(), out.Class, 0
	}
}

// A poison whose crash leaves the backend answering 409 (its earlier
// request still "in progress") to the next try still ends dead in a quiet
// outbox: the 409s between its dropped requests do not make the run forget
// its failures.
func TestAPoisonAnsweredInProgressBetweenDropsEndsDead(t *testing.T) {
	ctx := context.Background()
	drop := DroppedError(errors.New("connection reset by peer"))
	busy := InProgressError(errors.New("409 Conflict"), 0)
	r := newTestRun()
	ev := &Event{ID: uuid.New(), Type: "t", Attempts: 1, MaxAttempts: 2}
	for i := range 10 {
		c := r.evidence.sending(r.claimedNow())
		err := drop
		if i%2 == 1 {
			err = busy
		}
		c.answered = err == drop && !ev.FailedAt.IsZero() // a ping answered before a retry of a dropped request
		out := r.outcome(ctx, ctx, ev, c, Receipt{}, err)
		if out.Kind == Dead {
			return
		}
		reclaim(ev, out)
	}
	t.Fatalf("a lone poison dropped and answered 409 in turn, pings answered: not dead after 10 sends (releases %d, attempts %d)", ev.Releases, ev.Attempts)
}

// A failure this run saw stops counting as the event's last once the event
// comes back with another failure in between, seen by another processor:
// the store's evidence decides then, and the outage it failed in spends no
// attempt.
func TestAFailureSeenElsewhereSupersedesThisRunsMark(t *testing.T) {
	ctx := context.Background()
	refused := TransientError(errors.New("503 Service Unavailable"), 0)
	r := newTestRun()
	ev := &Event{ID: uuid.New(), Type: "t", Attempts: 1, MaxAttempts: 5}
	reclaim(ev, r.outcome(ctx, ctx, ev, r.evidence.sending(r.claimedNow()), Receipt{}, refused))
	r.outcome(ctx, ctx, &Event{ID: uuid.New(), Type: "t", Attempts: 1, MaxAttempts: 5}, r.evidence.sending(r.claimedNow()), Receipt{}, nil)
	// Another processor claims it in an outage and gives it back: one
	// release more, re-dated, and no delivery claimed since.
	ev.Releases++
	ev.FailedAt, ev.OthersDelivered = time.Now(), false
	if out := r.outcome(ctx, ctx, ev, r.evidence.sending(r.claimedNow()), Receipt{}, refused); out.Kind != Release {
		t.Fatalf("refused after another processor's failure, nothing delivered since: %s, want %s", out.Kind, Release)
	}
}
