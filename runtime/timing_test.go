package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
)

// slowPoll is a configuration whose poll would make any reliance on it
// obvious: everything in these tests must happen long before it.
func slowPoll(t *testing.T) outbox.Config {
	cfg := fast(t)
	cfg.PollInterval = time.Minute
	return cfg
}

// Retries and scheduled events are delivered when due, not at the next poll.
func TestProcessorWakesWhenDue(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		var mu sync.Mutex
		var sends []time.Time
		sender := outbox.SenderFunc(func(_ context.Context, ev *outbox.Event) (outbox.Receipt, error) {
			mu.Lock()
			defer mu.Unlock()
			sends = append(sends, time.Now())
			if len(sends) <= 2 {
				return outbox.Receipt{}, outbox.TransientError(errors.New("503"), 200*time.Millisecond)
			}
			return outbox.Receipt{}, nil
		})
		later := event("later", 1)
		later.RunAt = time.Now().Add(400 * time.Millisecond)
		began := time.Now()
		s.enqueue(t, event("w1", 1))
		rec := start(t, s, sender, slowPoll(t))
		rec.waitFor(t, outbox.Delivered, 1, 5*time.Second)
		s.enqueue(t, later)
		rec.waitFor(t, outbox.Delivered, 2, 5*time.Second)

		mu.Lock()
		defer mu.Unlock()
		if gap := sends[2].Sub(sends[0]); gap < 400*time.Millisecond || gap > 2*time.Second {
			t.Fatalf("two Retry-After waits of 200 ms took %s in all; want them honoured, without waiting for the poll", gap)
		}
		if at := sends[3].Sub(began); at > 2*time.Second {
			t.Fatalf("an event scheduled 400 ms ahead was sent after %s", at)
		}
	})
}

// A send that outlives its lease is cut off before the lease ends, so the
// event is never delivered twice at once. With nothing else delivered, the
// attempt is given back, and the event released as one the backend may
// have seen.
func TestProcessorBoundsSendsByTheLease(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		stored := s.enqueue(t, event("w1", 1))[0]
		sender := outbox.SenderFunc(func(ctx context.Context, _ *outbox.Event) (outbox.Receipt, error) {
			<-ctx.Done() // a backend that never answers
			return outbox.Receipt{}, ctx.Err()
		})
		cfg := slowPoll(t)
		cfg.Lease = time.Second // sends are cut off 500 ms after the claim
		rec := start(t, s, sender, cfg)
		rec.waitFor(t, outbox.Release, 1, 5*time.Second)
		rec.mu.Lock()
		first := rec.outcomes[0]
		rec.mu.Unlock()
		// Cut off inside its lease, the send's outcome was recorded (not
		// lost to an expired lease).
		if !first.Reached || first.Class != outbox.Unanswered || !strings.Contains(first.Error, "no answer within the time the lease allows") {
			t.Fatalf("first outcome %s (reached %v, class %s): %q", first.Kind, first.Reached, first.Class, first.Error)
		}
		got, err := s.Get(t.Context(), stored.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Releases < 1 || got.FailedClass != outbox.Unanswered || got.FailedAt.IsZero() {
			t.Fatalf("after a cut-off send: releases %d, failed %s at %v", got.Releases, got.FailedClass, got.FailedAt)
		}
	})
}

// An event the backend never answers, while it answers the others, is this
// event's problem: after its first failure, its attempts count and it goes
// dead, instead of pausing the processor forever.
func TestProcessorCountsUnansweredWhileOthersSucceed(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		hang := event("hang", 1)
		hang.MaxAttempts = 2
		s.enqueue(t, hang)
		delivered := newBroadcast()
		sender := outbox.SenderFunc(func(ctx context.Context, ev *outbox.Event) (outbox.Receipt, error) {
			if ev.AggregateID != "hang" {
				return outbox.Receipt{}, nil
			}
			// While this send hangs, another event gets through.
			seen := delivered.count()
			s.enqueue(t, event(fmt.Sprintf("other-%d", seen), 1))
			if err := delivered.waitAbove(ctx, seen); err != nil {
				return outbox.Receipt{}, err
			}
			return outbox.Receipt{}, outbox.UnansweredError(fmt.Errorf("no response within 1s: %w", context.DeadlineExceeded))
		})
		rec := newRecorder()
		cfg := slowPoll(t)
		cfg.Observer = both{rec, delivered}
		p := newProcessor(t, s, sender, cfg)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })

		rec.waitFor(t, outbox.Dead, 1, 10*time.Second)
		dead, err := s.List(t.Context(), outbox.Filter{Status: outbox.StatusDead})
		if err != nil || len(dead) != 1 || dead[0].AggregateID != "hang" || !strings.Contains(dead[0].LastError, "unanswered") {
			t.Fatalf("dead events %+v, %v", dead, err)
		}
		// First failure given back, then two counted: three sends.
		if dead[0].Attempts != 2 || dead[0].Releases != 1 || rec.count(outbox.Retry) != 1 {
			t.Fatalf("dead after %d attempts, %d releases, %d retries; want 2, 1, 1", dead[0].Attempts, dead[0].Releases, rec.count(outbox.Retry))
		}
		if rec.paused != 0 {
			t.Fatalf("paused %d times while other deliveries succeeded", rec.paused)
		}
	})
}

// broadcast counts delivered outcomes and lets a sender wait for more.
type broadcast struct {
	mu      sync.Mutex
	n       int
	changed chan struct{}
}

func newBroadcast() *broadcast { return &broadcast{changed: make(chan struct{})} }

func (b *broadcast) Recorded(o outbox.Outcome, _ time.Duration) {
	if o.Kind != outbox.Delivered {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	close(b.changed)
	b.changed = make(chan struct{})
}
func (b *broadcast) Paused(time.Duration, error) {}
func (b *broadcast) Resumed()                    {}

func (b *broadcast) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

func (b *broadcast) waitAbove(ctx context.Context, n int) error {
	for {
		b.mu.Lock()
		if b.n > n {
			b.mu.Unlock()
			return nil
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// both tells two observers.
type both [2]outbox.Observer

func (o both) Recorded(out outbox.Outcome, took time.Duration) {
	o[0].Recorded(out, took)
	o[1].Recorded(out, took)
}
func (o both) Paused(d time.Duration, err error) { o[0].Paused(d, err); o[1].Paused(d, err) }
func (o both) Resumed()                          { o[0].Resumed(); o[1].Resumed() }

// flakyFinish is a store whose Finish fails whenever the batch holds a
// given event: the kind of deterministic failure a store can meet (a row it
// cannot write), narrowed to the one call under test.
type flakyFinish struct {
	outbox.Store
	poison string
}

func (f flakyFinish) Finish(ctx context.Context, outs []outbox.Outcome) (outbox.FinishResult, error) {
	for _, o := range outs {
		if o.Event.AggregateID == f.poison {
			return outbox.FinishResult{}, errors.New("value out of range for the column")
		}
	}
	return f.Store.Finish(ctx, outs)
}

// One outcome the store cannot record does not stop the others from being
// recorded, nor the processor from going on.
func TestProcessorIsolatesAnUnrecordableOutcome(t *testing.T) {
	s := outboxtest.NewSQLiteStore(t)
	var batch []outbox.Event
	for _, key := range []string{"a", "poison", "b", "c"} {
		batch = append(batch, event(key, 1))
	}
	outboxtest.EnqueueSQLite(t, s, batch...)
	release := make(chan struct{})
	sender := outbox.SenderFunc(func(ctx context.Context, _ *outbox.Event) (outbox.Receipt, error) {
		<-release // let all four finish in one batch
		return outbox.Receipt{}, nil
	})
	cfg := slowPoll(t)
	cfg.Concurrency = 4
	rec := start(t, flakyFinish{Store: s, poison: "poison"}, sender, cfg)
	close(release)
	rec.waitFor(t, outbox.Delivered, 3, 20*time.Second)
	outboxtest.EnqueueSQLite(t, s, event("later", 1))
	rec.waitFor(t, outbox.Delivered, 4, 10*time.Second)
}

// partialFinish commits the first outcome of its first call and then fails
// that call, as a store's Finish does when a commit fails while it records
// a batch one outcome at a time.
type partialFinish struct {
	outbox.Store
	failed atomic.Bool
}

func (p *partialFinish) Finish(ctx context.Context, outs []outbox.Outcome) (outbox.FinishResult, error) {
	if !p.failed.CompareAndSwap(false, true) {
		return p.Store.Finish(ctx, outs)
	}
	res, err := p.Store.Finish(ctx, outs[:1])
	if err != nil {
		return res, err
	}
	return outbox.FinishResult{Recorded: res.Recorded}, errors.New("commit: connection lost")
}

// Outcomes a failed Finish did commit are counted once, and not recorded
// again: the Observer (and so the metrics) sees every delivery exactly once.
func TestProcessorCountsOutcomesOfAPartialFinish(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		for _, key := range []string{"a", "b", "c"} {
			s.enqueue(t, event(key, 1))
		}
		rec := start(t, &partialFinish{Store: s.Store}, &outboxtest.Sender{}, slowPoll(t))
		rec.waitFor(t, outbox.Delivered, 3, 10*time.Second)
		st, err := s.Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st.Counts[outbox.StatusCompleted] != 3 || rec.count(outbox.Delivered) != 3 {
			t.Fatalf("%d completed, %d delivered outcomes observed; want 3 and 3", st.Counts[outbox.StatusCompleted], rec.count(outbox.Delivered))
		}
	})
}
