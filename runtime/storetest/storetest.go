// Package storetest is the conformance suite every outbox store must pass:
// enqueue atomicity, claim order, per-key FIFO, lease fencing and expiry,
// every outcome, hooks, wake-ups and the inspection API. sqlitestore and
// pgstore run it from their tests; a third store would too.
//
// The suite drives time through a Clock the store must read instead of its
// own, so lease expiry and retry schedules are tested without sleeping.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// Store is a store under test, with the two operations that depend on its
// driver's transaction type done for the suite.
type Store interface {
	outbox.Store
	// EnqueueTx enqueues events in one transaction, then commits it, or
	// rolls it back when commit is false.
	EnqueueTx(ctx context.Context, commit bool, events ...outbox.Event) ([]outbox.Event, error)
	// OnDelivered registers fn as eventType's delivered hook.
	OnDelivered(eventType string, fn func(ctx context.Context, d outbox.Delivery) error)
}

// Factory returns a new, migrated, empty store reading time from clock.
type Factory func(t *testing.T, clock func() time.Time) Store

// Run runs the whole suite against stores made by newStore.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		run  func(*testing.T, *env)
	}{
		{"EnqueueCommitted", testEnqueueCommitted},
		{"EnqueueRolledBack", testEnqueueRolledBack},
		{"EnqueueInvalid", testEnqueueInvalid},
		{"ClaimOrder", testClaimOrder},
		{"ClaimOnlyDue", testClaimOnlyDue},
		{"FIFOPerKey", testFIFOPerKey},
		{"FIFOSurvivesDeadHead", testFIFOSurvivesDeadHead},
		{"FencingAfterExpiry", testFencingAfterExpiry},
		{"FencingAfterReclaim", testFencingAfterReclaim},
		{"StaleAndLiveOutcomesInOneBatch", testStaleAndLiveOutcomesInOneBatch},
		{"ReclaimCountsExpiriesOnEvidence", testReclaimCountsExpiriesOnEvidence},
		{"RetrySchedules", testRetrySchedules},
		{"RetryOnLastAttemptKills", testRetryOnLastAttemptKills},
		{"ReleaseRefundsAttempt", testReleaseRefundsAttempt},
		{"ReleaseReachedDatesFailure", testReleaseReachedDatesFailure},
		{"OthersDelivered", testOthersDelivered},
		{"OthersDied", testOthersDied},
		{"FinishReportsRecorded", testFinishReportsRecorded},
		{"FinishLargeBatch", testFinishLargeBatch},
		{"MixedBatch", testMixedBatch},
		{"HookRunsOnDelivery", testHookRunsOnDelivery},
		{"HookFailureIsolated", testHookFailureIsolated},
		{"NextDue", testNextDue},
		{"SubscribeWakesOnCommit", testSubscribeWakesOnCommit},
		{"Stats", testStats},
		{"StatsCountsCompleted", testStatsCountsCompleted},
		{"ListAndGet", testListAndGet},
		{"CountByUser", testCountByUser},
		{"RetryDead", testRetryDead},
		{"RevivedEventsRejoinTheirKeys", testRevivedEventsRejoinTheirKeys},
		{"RetryFailed", testRetryFailed},
		{"Discard", testDiscard},
		{"PurgeCompleted", testPurgeCompleted},
		{"Processors", testProcessors},
		{"StatsCountsExpiredLeases", testStatsCountsExpiredLeases},
		{"OperatorPauses", testOperatorPauses},
		{"AttemptHistory", testAttemptHistory},
		{"RetryMatching", testRetryMatching},
		{"RetryMatchingInBatches", testRetryMatchingInBatches},
		{"DiscardMatching", testDiscardMatching},
		{"PurgeMatching", testPurgeMatching},
		{"ConcurrentClaimers", testConcurrentClaimers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := NewClock()
			tt.run(t, &env{t: t, clock: clock, store: newStore(t, clock.Now), ctx: t.Context()})
		})
	}
}

// env is one test's store, clock and helpers.
type env struct {
	t     *testing.T
	ctx   context.Context
	clock *Clock
	store Store
}

// Event returns a valid event for entity id of aggregate "weight", with a
// payload that carries n so tests can tell events apart.
func Event(id string, n int) outbox.Event {
	return outbox.Event{
		Type:          "weight.updated",
		Aggregate:     "weight",
		AggregateID:   id,
		UserID:        "user-1",
		EntityVersion: int64(n),
		Payload:       json.RawMessage(fmt.Sprintf(`{"n":%d}`, n)),
	}
}

func (e *env) enqueue(events ...outbox.Event) []outbox.Event {
	e.t.Helper()
	out, err := e.store.EnqueueTx(e.ctx, true, events...)
	if err != nil {
		e.t.Fatalf("enqueue: %v", err)
	}
	return out
}

func (e *env) claim(owner string, limit int, lease time.Duration) []*outbox.Event {
	e.t.Helper()
	evs, err := e.store.Claim(e.ctx, owner, limit, lease)
	if err != nil {
		e.t.Fatalf("claim: %v", err)
	}
	return evs
}

func (e *env) finish(outs ...outbox.Outcome) outbox.FinishResult {
	e.t.Helper()
	res, err := e.store.Finish(e.ctx, outs)
	if err != nil {
		e.t.Fatalf("finish: %v", err)
	}
	return res
}

func (e *env) get(ev outbox.Event) *outbox.Event {
	e.t.Helper()
	got, err := e.store.Get(e.ctx, ev.ID)
	if err != nil {
		e.t.Fatalf("get %s: %v", ev.ID, err)
	}
	return got
}

func (e *env) wantStatus(ev outbox.Event, want outbox.Status) *outbox.Event {
	e.t.Helper()
	got := e.get(ev)
	if got.Status != want {
		e.t.Fatalf("event %s (%s): status %s, want %s (last error %q)", ev.ID, ev.AggregateID, got.Status, want, got.LastError)
	}
	return got
}

// wantClaim claims with a generous limit and checks exactly the given
// aggregate ids came back, in that order.
func (e *env) wantClaim(ids ...string) []*outbox.Event {
	e.t.Helper()
	evs := e.claim("tester", 100, time.Minute)
	got := make([]string, len(evs))
	for i, ev := range evs {
		got[i] = ev.AggregateID
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		e.t.Fatalf("claimed %v, want %v", got, ids)
	}
	return evs
}

func delivered(ev *outbox.Event) outbox.Outcome {
	return outbox.Outcome{Event: ev, Kind: outbox.Delivered}
}

// Clock is a settable clock for stores under test. Its readings have
// microsecond precision, the finest both stores keep.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock set to a fixed instant.
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d).Truncate(time.Microsecond)
}
