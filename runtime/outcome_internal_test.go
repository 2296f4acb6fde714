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
		r.evidence.delivered(&Event{ID: uuid.New()}, r.evidence.sending()) // another delivery since the claim
		ev := &Event{ID: uuid.New(), Type: "t", Attempts: 3, MaxAttempts: 5,
			FailedAt: time.Now(), FailedClass: Permanent, CountedClass: tc.counted, OthersDelivered: true}
		out := r.outcome(ctx, ctx, ev, c, Receipt{}, refused)
		if out.Kind != tc.want {
			t.Errorf("a held 400 after a counted %s failure: %s, want %s", tc.counted, out.Kind, tc.want)
		}
	}
}

// sendingNow is c as a send that starts now sees it.
func (r *run) sendingNow(c claimed) claimed {
	c.successes, c.send = r.evidence.successes.Load(), r.evidence.sending()
	return c
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
		ca, cb := r.sendingNow(claim), r.sendingNow(claim) // both requests out at once
		if successFirst {
			r.outcome(ctx, ctx, a, ca, Receipt{}, nil)
		}
		if out := r.outcome(ctx, ctx, b, cb, Receipt{}, unavailable); out.Kind != Release {
			t.Fatalf("success recorded first %v: b's first failure: %s, want %s", successFirst, out.Kind, Release)
		}
		if !successFirst {
			r.outcome(ctx, ctx, a, ca, Receipt{}, nil)
		}
		b.FailedAt, b.FailedClass = time.Now(), Transient
		// The outage goes on: b is sent again and fails again, and no
		// request sent after its first failure got through.
		if out := r.outcome(ctx, ctx, b, r.sendingNow(r.claimedNow()), Receipt{}, unavailable); out.Kind != Release {
			t.Errorf("success recorded first %v: b's second failure in the outage: %s, want %s", successFirst, out.Kind, Release)
		}
		// Once a request sent after b's failure gets through, b's next
		// failure is its own.
		r.outcome(ctx, ctx, a, r.sendingNow(r.claimedNow()), Receipt{}, nil)
		if out := r.outcome(ctx, ctx, b, r.sendingNow(r.claimedNow()), Receipt{}, unavailable); out.Kind != Dead {
			t.Errorf("success recorded first %v: b failing after a later delivery: %s, want %s", successFirst, out.Kind, Dead)
		}
	}
}
