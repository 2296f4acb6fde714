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
	return &run{Processor: p, changed: make(chan struct{}, 1), evidence: newEvidence()}
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
		r.evidence.delivered(&Event{ID: uuid.New()}) // another delivery since the claim
		ev := &Event{ID: uuid.New(), Type: "t", Attempts: 3, MaxAttempts: 5,
			FailedAt: time.Now(), FailedClass: Permanent, CountedClass: tc.counted, OthersDelivered: true}
		out := r.outcome(ctx, ctx, ev, c, Receipt{}, refused)
		if out.Kind != tc.want {
			t.Errorf("a held 400 after a counted %s failure: %s, want %s", tc.counted, out.Kind, tc.want)
		}
	}
}
