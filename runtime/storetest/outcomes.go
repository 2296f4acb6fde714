package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

func testRetrySchedules(t *testing.T, e *env) {
	ev := e.enqueue(Event("w1", 1))[0]
	claimed := e.wantClaim("w1")[0]
	e.finish(outbox.Outcome{Event: claimed, Kind: outbox.Retry, Class: outbox.Transient, Delay: 30 * time.Second, Error: "503 Service Unavailable"})
	got := e.wantStatus(ev, outbox.StatusFailed)
	if got.Attempts != 1 || got.LastError != "503 Service Unavailable" || !got.RunAt.Equal(e.clock.Now().Add(30*time.Second)) {
		t.Fatalf("after a retry: attempts %d, last error %q, run at %v; want 1, the error, 30 s from now", got.Attempts, got.LastError, got.RunAt)
	}
	if got.Lease != (outbox.Lease{}) {
		t.Errorf("a retried event still holds a lease: %+v", got.Lease)
	}
	if !got.FailedAt.Equal(e.clock.Now()) || got.FailedClass != outbox.Transient {
		t.Errorf("a retry dated the failure %v (%s); want now, transient", got.FailedAt, got.FailedClass)
	}
	e.clock.Advance(29 * time.Second)
	e.wantClaim()
	e.clock.Advance(time.Second)
	if again := e.wantClaim("w1"); again[0].Attempts != 2 {
		t.Fatalf("retry claimed with attempts %d, want 2", again[0].Attempts)
	}
}

// A retry recorded on an event's last attempt is its death, and its key
// moves on: the processor never asks for one, but the store does not let
// an event run past MaxAttempts whoever records its outcomes.
func testRetryOnLastAttemptKills(t *testing.T, e *env) {
	last := Event("w1", 1)
	last.MaxAttempts = 1
	evs := e.enqueue(last, Event("w1", 2))
	claimed := e.wantClaim("w1")[0]
	e.finish(outbox.Outcome{Event: claimed, Kind: outbox.Retry, Error: "503 Service Unavailable"})
	got := e.wantStatus(evs[0], outbox.StatusDead)
	if got.Attempts != 1 || got.LastError != "gave up after 1 attempts: 503 Service Unavailable" {
		t.Fatalf("dead with attempts %d, last error %q", got.Attempts, got.LastError)
	}
	if next := e.wantClaim("w1")[0]; next.ID != evs[1].ID {
		t.Fatalf("claimed version %d after the head died, want 2", next.EntityVersion)
	}
}

func testReleaseRefundsAttempt(t *testing.T, e *env) {
	ev := e.enqueue(Event("w1", 1))[0]
	claimed := e.wantClaim("w1")[0]
	e.finish(outbox.Outcome{Event: claimed, Kind: outbox.Release, Delay: 5 * time.Second, Error: "backend unavailable"})
	got := e.wantStatus(ev, outbox.StatusPending)
	if got.Attempts != 0 || !got.RunAt.Equal(e.clock.Now().Add(5*time.Second)) {
		t.Fatalf("after a release: attempts %d, run at %v; want 0, 5 s from now", got.Attempts, got.RunAt)
	}
	// Released many more times than MaxAttempts: never dead.
	for i := 0; i < 3*outbox.DefaultMaxAttempts; i++ {
		e.clock.Advance(5 * time.Second)
		c := e.wantClaim("w1")[0]
		e.finish(outbox.Outcome{Event: c, Kind: outbox.Release, Delay: 5 * time.Second, Error: "backend unavailable"})
	}
	e.wantStatus(ev, outbox.StatusPending)

	// After a counted failure, a release returns the event to failed.
	e.clock.Advance(5 * time.Second)
	c := e.wantClaim("w1")[0]
	e.finish(outbox.Outcome{Event: c, Kind: outbox.Retry, Error: "500"})
	c = e.wantClaim("w1")[0]
	e.finish(outbox.Outcome{Event: c, Kind: outbox.Release, Error: "backend unavailable"})
	if got := e.wantStatus(ev, outbox.StatusFailed); got.Attempts != 1 {
		t.Fatalf("attempts %d after one counted failure and a release, want 1", got.Attempts)
	}
}

// A release the backend may have seen gives the attempt back like any
// release, but is counted and dates the failure, unless the backend only
// said the event was in progress.
func testReleaseReachedDatesFailure(t *testing.T, e *env) {
	ev := e.enqueue(Event("w1", 1))[0]
	c := e.wantClaim("w1")[0]
	e.finish(outbox.Outcome{Event: c, Kind: outbox.Release, Reached: true, Class: outbox.Permanent, Delay: time.Second, Error: "permanent: 400"})
	got := e.wantStatus(ev, outbox.StatusFailed)
	failedAt := e.clock.Now()
	if got.Attempts != 0 || got.Releases != 1 || !got.FailedAt.Equal(failedAt) || got.FailedClass != outbox.Permanent || got.LastError != "permanent: 400" {
		t.Fatalf("after a reached release: attempts %d, releases %d, failed %s at %v, last error %q; want 0, 1, permanent now, the error",
			got.Attempts, got.Releases, got.FailedClass, got.FailedAt, got.LastError)
	}
	e.clock.Advance(time.Second)
	c = e.wantClaim("w1")[0]
	e.finish(outbox.Outcome{Event: c, Kind: outbox.Release, Reached: true, Class: outbox.InProgress, Delay: time.Second, Error: "in progress: 409"})
	got = e.wantStatus(ev, outbox.StatusFailed)
	if got.Attempts != 0 || got.Releases != 2 || !got.FailedAt.Equal(failedAt) || got.FailedClass != outbox.Permanent {
		t.Fatalf("after an in-progress release: attempts %d, releases %d, failed %s at %v; want 0, 2, and the earlier failure kept",
			got.Attempts, got.Releases, got.FailedClass, got.FailedAt)
	}
	// A death dates the failure too.
	e.clock.Advance(time.Second)
	c = e.wantClaim("w1")[0]
	e.finish(outbox.Outcome{Event: c, Kind: outbox.Dead, Class: outbox.Unanswered, Error: "gave up"})
	if got = e.wantStatus(ev, outbox.StatusDead); !got.FailedAt.Equal(e.clock.Now()) || got.FailedClass != outbox.Unanswered {
		t.Fatalf("a death dated the failure %v (%s)", got.FailedAt, got.FailedClass)
	}
}

// A claim tells whether other events were delivered, by requests sent
// after the claimed event's last failure: the processor's evidence that a
// new failure is the event's own. A delivery of an event claimed before the
// failure, or in the same instant, is none, however late it is recorded: its
// request may have gone out before the failure and been answered after.
func testOthersDelivered(t *testing.T, e *env) {
	e.enqueue(Event("w1", 1), Event("w2", 1))
	c := e.wantClaim("w1", "w2")
	if c[0].OthersDelivered || c[1].OthersDelivered {
		t.Fatal("events that never failed are claimed with OthersDelivered")
	}
	fail := func(ev *outbox.Event) outbox.Outcome {
		return outbox.Outcome{Event: ev, Kind: outbox.Release, Reached: true, Class: outbox.Transient, Error: "503"}
	}
	unsent := func(ev *outbox.Event) outbox.Outcome { // neither counted nor dated
		return outbox.Outcome{Event: ev, Kind: outbox.Release, Error: "backend unavailable"}
	}
	e.clock.Advance(time.Second)
	e.finish(fail(c[0]))
	e.clock.Advance(time.Second)
	e.finish(delivered(c[1])) // claimed with w1, recorded after its failure
	e.clock.Advance(time.Second)
	w1 := e.wantClaim("w1")[0]
	if w1.OthersDelivered || w1.FailedAt.IsZero() {
		t.Fatalf("claimed after a delivery claimed before its failure: OthersDelivered %v, failed at %v; want false and a date", w1.OthersDelivered, w1.FailedAt)
	}
	e.finish(unsent(w1))
	e.enqueue(Event("w3", 1))
	c = e.wantClaim("w1", "w3") // w3 claimed after w1's failure
	e.clock.Advance(time.Second)
	e.finish(delivered(c[1]), unsent(c[0]))
	e.clock.Advance(time.Second)
	w1 = e.wantClaim("w1")[0]
	if !w1.OthersDelivered {
		t.Fatal("claimed after a delivery claimed after its failure: OthersDelivered false")
	}
	// Failing again re-dates the failure: the earlier delivery no longer
	// follows it.
	e.finish(fail(w1))
	e.clock.Advance(time.Second)
	w1 = e.wantClaim("w1")[0]
	if w1.OthersDelivered {
		t.Fatal("OthersDelivered after a failure that no delivery followed")
	}
	e.enqueue(Event("w4", 1))
	w4 := e.wantClaim("w4")[0]
	e.finish(fail(w1), delivered(w4)) // claimed in the instant of the failure
	e.clock.Advance(time.Second)
	if w1 = e.wantClaim("w1")[0]; w1.OthersDelivered {
		t.Fatal("a delivery claimed in the instant of the failure is counted as following it")
	}
}

// A claim tells whether another event went dead since the latest delivery
// was claimed: while nothing is delivered, a ping's word alone must not
// kill a second event, in any processor or run.
func testOthersDied(t *testing.T, e *env) {
	e.enqueue(Event("w1", 1), Event("w2", 1))
	c := e.wantClaim("w1", "w2")
	e.clock.Advance(time.Second)
	e.finish(outbox.Outcome{Event: c[0], Kind: outbox.Release, Reached: true, Class: outbox.Unanswered, Error: "connection reset"},
		outbox.Outcome{Event: c[1], Kind: outbox.Release, Reached: true, Class: outbox.Unanswered, Error: "connection reset"})
	e.clock.Advance(time.Second)
	c = e.wantClaim("w1", "w2")
	if c[0].OthersDied || c[1].OthersDied {
		t.Fatal("OthersDied with no event dead")
	}
	e.finish(outbox.Outcome{Event: c[0], Kind: outbox.Dead, Class: outbox.Unanswered, Error: "connection reset"},
		outbox.Outcome{Event: c[1], Kind: outbox.Release, Reached: true, Class: outbox.Unanswered, Error: "connection reset"})
	e.clock.Advance(time.Second)
	w2 := e.wantClaim("w2")[0]
	if !w2.OthersDied {
		t.Fatal("claimed after another event died, with no delivery since: OthersDied false")
	}
	e.finish(outbox.Outcome{Event: w2, Kind: outbox.Release, Error: "backend unavailable"})
	e.enqueue(Event("w3", 1))
	c = e.wantClaim("w2", "w3") // w3 claimed after the death
	e.clock.Advance(time.Second)
	e.finish(delivered(c[1]), outbox.Outcome{Event: c[0], Kind: outbox.Release, Error: "backend unavailable"})
	e.clock.Advance(time.Second)
	if w2 = e.wantClaim("w2")[0]; w2.OthersDied {
		t.Fatal("claimed after a delivery claimed after the death: OthersDied true")
	}
	// With no completion left (retention purged it), any dead event counts:
	// nothing shows that deliveries went on after it died.
	e.finish(outbox.Outcome{Event: w2, Kind: outbox.Release, Error: "backend unavailable"})
	e.clock.Advance(48 * time.Hour)
	if _, err := e.store.PurgeCompleted(e.ctx, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if w2 = e.wantClaim("w2")[0]; !w2.OthersDied {
		t.Fatal("claimed after the completions were purged: OthersDied false")
	}
}

// Finish reports exactly the outcomes it recorded.
func testFinishReportsRecorded(t *testing.T, e *env) {
	evs := e.enqueue(Event("a", 1), Event("b", 1), Event("c", 1))
	c := e.wantClaim("a", "b", "c")
	stale := *c[2]
	stale.Lease.Token = uuid.New()
	res := e.finish(delivered(c[0]), outbox.Outcome{Event: c[1], Kind: outbox.Retry, Error: "500"}, delivered(&stale))
	if fmt.Sprint(res.Recorded) != fmt.Sprint([]uuid.UUID{evs[0].ID, evs[1].ID}) || fmt.Sprint(res.Lost) != fmt.Sprint([]uuid.UUID{evs[2].ID}) {
		t.Fatalf("recorded %v, lost %v; want a and b recorded, c lost", res.Recorded, res.Lost)
	}
}

// A batch of outcomes larger than a store's own transactions (SQLite
// records 64 at a time) is recorded whole, and what was lost is reported
// wherever in the batch it is.
func testFinishLargeBatch(t *testing.T, e *env) {
	const n = 150
	in := make([]outbox.Event, n)
	for i := range in {
		in[i] = Event(fmt.Sprintf("k%03d", i), 1)
	}
	evs := e.enqueue(in...)
	claimed := e.claim("tester", n, time.Minute)
	if len(claimed) != n {
		t.Fatalf("claimed %d, want %d", len(claimed), n)
	}
	outs := make([]outbox.Outcome, n)
	for i, ev := range claimed {
		outs[i] = delivered(ev)
	}
	stale := *claimed[100]
	stale.Lease.Token = uuid.New()
	outs[100] = delivered(&stale)
	res := e.finish(outs...)
	if len(res.Recorded) != n-1 || fmt.Sprint(res.Lost) != fmt.Sprint([]uuid.UUID{stale.ID}) {
		t.Fatalf("recorded %d, lost %v; want %d recorded and %s lost", len(res.Recorded), res.Lost, n-1, stale.ID)
	}
	for _, ev := range evs {
		want := outbox.StatusCompleted
		if ev.ID == stale.ID {
			want = outbox.StatusProcessing
		}
		e.wantStatus(ev, want)
	}
}

func testMixedBatch(t *testing.T, e *env) {
	evs := e.enqueue(Event("a", 1), Event("b", 1), Event("c", 1), Event("d", 1))
	c := e.wantClaim("a", "b", "c", "d")
	res := e.finish(
		delivered(c[0]),
		outbox.Outcome{Event: c[1], Kind: outbox.Retry, Delay: time.Minute, Error: "500"},
		outbox.Outcome{Event: c[2], Kind: outbox.Dead, Error: "422"},
		outbox.Outcome{Event: c[3], Kind: outbox.Release, Error: "refused"},
	)
	if len(res.Lost) != 0 || len(res.HookErrors) != 0 {
		t.Fatalf("finish result %+v, want nothing lost", res)
	}
	e.wantStatus(evs[0], outbox.StatusCompleted)
	e.wantStatus(evs[1], outbox.StatusFailed)
	e.wantStatus(evs[2], outbox.StatusDead)
	e.wantStatus(evs[3], outbox.StatusPending)
	if got := e.get(evs[0]); !got.CompletedAt.Equal(e.clock.Now()) {
		t.Errorf("completed at %v, want %v", got.CompletedAt, e.clock.Now())
	}
}

func testHookRunsOnDelivery(t *testing.T, e *env) {
	var got []outbox.Delivery
	e.store.OnDelivered("weight.updated", func(_ context.Context, d outbox.Delivery) error {
		got = append(got, d)
		return nil
	})
	ev := e.enqueue(Event("w1", 1))[0]
	other := Event("s1", 1)
	other.Type = "steps.updated"
	e.enqueue(other)
	c := e.wantClaim("w1", "s1")
	e.finish(outbox.Outcome{Event: c[0], Kind: outbox.Delivered, Receipt: outbox.Receipt{RemoteID: "backend-7"}}, delivered(c[1]))
	if len(got) != 1 || got[0].Event.ID != ev.ID || got[0].Receipt.RemoteID != "backend-7" {
		t.Fatalf("hook calls %+v, want one for %s with the receipt", got, ev.ID)
	}
	// A fenced-out completion does not run the hook.
	e.enqueue(Event("w2", 1))
	late := e.wantClaim("w2")[0]
	e.clock.Advance(2 * time.Minute)
	e.finish(delivered(late))
	if len(got) != 1 {
		t.Fatalf("the hook ran for a completion that was not recorded")
	}
}

func testHookFailureIsolated(t *testing.T, e *env) {
	bad := errors.New("entity table locked")
	var calls int
	e.store.OnDelivered("weight.updated", func(_ context.Context, d outbox.Delivery) error {
		calls++
		if d.Event.AggregateID == "poison" {
			return bad
		}
		return nil
	})
	evs := e.enqueue(Event("a", 1), Event("poison", 1), Event("b", 1))
	c := e.wantClaim("a", "poison", "b")
	res := e.finish(delivered(c[0]), delivered(c[1]), delivered(c[2]))
	if !errors.Is(res.HookErrors[evs[1].ID], bad) || len(res.HookErrors) != 1 {
		t.Fatalf("hook errors %v, want only the poison event's", res.HookErrors)
	}
	e.wantStatus(evs[0], outbox.StatusCompleted)
	e.wantStatus(evs[2], outbox.StatusCompleted)
	// The poison event is still claimed under the same lease, so its
	// holder can decide what happens next.
	e.wantStatus(evs[1], outbox.StatusProcessing)
	if res := e.finish(outbox.Outcome{Event: c[1], Kind: outbox.Retry, Error: "hook failed"}); len(res.Lost) != 0 {
		t.Fatalf("the lease holder could not record a retry after a hook failure")
	}
	e.wantStatus(evs[1], outbox.StatusFailed)
	if calls < 3 {
		t.Fatalf("hook called %d times, want at least 3", calls)
	}
}

func testNextDue(t *testing.T, e *env) {
	if _, ok, err := e.store.NextDue(e.ctx); err != nil || ok {
		t.Fatalf("next due on an empty outbox: ok=%v err=%v", ok, err)
	}
	ev := Event("w1", 1)
	ev.RunAt = e.clock.Now().Add(time.Hour)
	e.enqueue(ev)
	wait, ok, err := e.store.NextDue(e.ctx)
	if err != nil || !ok || wait != time.Hour {
		t.Fatalf("next due in %v (%v, %v), want in 1h", wait, ok, err)
	}
	e.clock.Advance(2 * time.Hour)
	if wait, ok, _ := e.store.NextDue(e.ctx); !ok || wait != 0 {
		t.Fatalf("an overdue event is due in %v, want 0", wait)
	}
}

func testSubscribeWakesOnCommit(t *testing.T, e *env) {
	wake, cancel := e.store.Subscribe()
	defer cancel()
	drain(wake)
	if _, err := e.store.EnqueueTx(e.ctx, true, Event("w1", 1)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up within 10 s of a committed enqueue")
	}
}

// drain empties a wake channel of signals sent before the test's action.
func drain(c <-chan struct{}) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}
