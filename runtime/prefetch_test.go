package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// Claims are sized for the database, not for the free send slots: while
// every slot is busy, the processor claims ahead up to its prefetch
// (min(BatchSize, 4 × Concurrency)), and never sends more than Concurrency
// events at once.
func TestClaimsAheadOfFreeSlots(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		for i := range 12 {
			s.enqueue(t, event(fmt.Sprintf("k%d", i), 1))
		}
		var sending, most atomic.Int64
		release := make(chan struct{})
		sender := outbox.SenderFunc(func(ctx context.Context, _ *outbox.Event) (outbox.Receipt, error) {
			raiseTo(&most, sending.Add(1))
			defer sending.Add(-1)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return outbox.Receipt{}, nil
		})
		cfg := fast(t)
		cfg.Concurrency, cfg.BatchSize = 2, 8 // capacity: 2 sending + 8 waiting
		claims := newClaimCounter(s.Store)
		rec := start(t, claims, sender, cfg)
		claims.await(t, 10, false) // while no send has ended
		if n := sending.Load(); n > 2 {
			t.Fatalf("%d sends at once with Concurrency 2", n)
		}
		close(release)
		rec.waitFor(t, outbox.Delivered, 12, 10*time.Second)
		if m := most.Load(); m > 2 {
			t.Fatalf("at most %d sends at once, want 2", m)
		}
	})
}

// Outcomes waiting for their record do not hold back the next claim, so
// that claiming and recording overlap: while the store records slowly,
// the processor claims on, up to twice its capacity (Concurrency + the
// prefetch) claimed and not yet recorded, and no further.
func TestClaimsGoOnWhileOutcomesAreRecorded(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		for i := range 30 {
			s.enqueue(t, event(fmt.Sprintf("k%d", i), 1))
		}
		cfg := fast(t)
		cfg.Concurrency, cfg.BatchSize = 2, 4 // capacity: 2 sending + 4 waiting
		slow := &slowFinisher{claimCounter: newClaimCounter(s.Store), recording: make(chan struct{})}
		rec := start(t, slow, outbox.SenderFunc(func(context.Context, *outbox.Event) (outbox.Receipt, error) {
			return outbox.Receipt{}, nil
		}), cfg)
		slow.await(t, 12, false) // while the first record is held
		close(slow.recording)
		rec.waitFor(t, outbox.Delivered, 30, 10*time.Second)
		if n := slow.most.Load(); n != 12 {
			t.Fatalf("at most %d events claimed and not recorded, want 12 (twice the capacity of 6)", n)
		}
	})
}

// slowFinisher is a claimCounter whose Finish waits until recording is
// closed. most is how many events were claimed and not yet recorded at
// most.
type slowFinisher struct {
	*claimCounter
	recording         chan struct{}
	outstanding, most atomic.Int64
}

func (s *slowFinisher) Claim(ctx context.Context, owner string, limit int, lease time.Duration) ([]*outbox.Event, error) {
	evs, err := s.claimCounter.Claim(ctx, owner, limit, lease)
	raiseTo(&s.most, s.outstanding.Add(int64(len(evs))))
	return evs, err
}

func (s *slowFinisher) Finish(ctx context.Context, outs []outbox.Outcome) (outbox.FinishResult, error) {
	select {
	case <-s.recording:
	case <-ctx.Done():
		return outbox.FinishResult{}, ctx.Err()
	}
	res, err := s.claimCounter.Finish(ctx, outs)
	s.outstanding.Add(-int64(len(res.Recorded)))
	return res, err
}

// Events claimed ahead that wait for a send slot while delivery pauses
// wait the pause out unsent, their attempts unspent, rather than knock on
// a backend that takes nothing.
func TestPrefetchedEventsWaitOutAPause(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		for i := range 4 {
			s.enqueue(t, event(fmt.Sprintf("k%d", i), 1))
		}
		var sends atomic.Int64
		first, fail := make(chan struct{}), make(chan struct{})
		sender := outbox.SenderFunc(func(ctx context.Context, _ *outbox.Event) (outbox.Receipt, error) {
			if sends.Add(1) == 1 {
				close(first)
				<-fail // the others are claimed and wait for the one slot
			}
			return outbox.Receipt{}, outbox.UnavailableError(fmt.Errorf("dial tcp: %w", syscall.ECONNREFUSED))
		})
		cfg := fast(t)
		cfg.Concurrency, cfg.BatchSize = 1, 4
		cfg.UnavailableBackoff = outbox.Backoff{Base: time.Hour, Max: time.Hour} // no probe while the test runs
		claims := newClaimCounter(s.Store)
		rec := start(t, claims, sender, cfg)
		<-first
		claims.await(t, 4, true) // the three others wait for the slot
		close(fail)
		heldBack := func() int {
			n := 0
			for _, o := range rec.all() {
				// Held back, with the refusal that paused delivery named.
				if o.Kind == outbox.Release && strings.HasPrefix(o.Error, "released unsent while delivery is paused: ") && strings.Contains(o.Error, "connection refused") {
					n++
				}
			}
			return n
		}
		deadline := time.After(10 * time.Second)
		for heldBack() < 3 {
			select {
			case <-rec.changed:
			case <-deadline:
				t.Fatalf("%d events held back; recorded %+v", heldBack(), rec.all())
			}
		}
		if n := sends.Load(); n != 1 {
			t.Fatalf("%d sends to a backend that refused the first; want 1", n)
		}
		rec.waitFor(t, outbox.Release, 4, 10*time.Second) // and the refused one's
		st, err := s.Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st.Counts[outbox.StatusDead] != 0 || st.Counts[outbox.StatusProcessing] != 0 {
			t.Fatalf("after the pause: %v", st.Counts)
		}
	})
}

// claimCounter is a store that counts the events its claims took, and its
// claims.
type claimCounter struct {
	outbox.Store
	mu             sync.Mutex
	events, claims int
	changed        chan struct{} // signalled after each claim
}

func newClaimCounter(s outbox.Store) *claimCounter {
	return &claimCounter{Store: s, changed: make(chan struct{}, 1)}
}

func (c *claimCounter) Claim(ctx context.Context, owner string, limit int, lease time.Duration) ([]*outbox.Event, error) {
	evs, err := c.Store.Claim(ctx, owner, limit, lease)
	c.mu.Lock()
	c.events, c.claims = c.events+len(evs), c.claims+1
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
	return evs, err
}

func (c *claimCounter) counts() (events, claims int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.events, c.claims
}

// await waits until n events were claimed in all and, if dispatched is
// set, the processor asked for more after that: it has started the sends
// of what it claimed (which needs room for more).
func (c *claimCounter) await(t *testing.T, n int, dispatched bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	after := -1 // the claims made when n events were claimed
	for {
		events, claims := c.counts()
		switch {
		case after < 0 && events >= n && !dispatched:
			return
		case after < 0 && events >= n:
			after = claims
			continue
		case after >= 0 && claims > after:
			return
		}
		select {
		case <-c.changed:
		case <-deadline:
			t.Fatalf("%d events claimed in 10s, want %d and one more claim", events, n)
		}
	}
}

// all returns the outcomes recorded so far.
func (r *recorder) all() []outbox.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.outcomes)
}

// An event that waited for a send slot is sent only with the time a send
// needs still ahead of it; one with less is given back unsent. A slow but
// healthy backend then delivers everything, and no event is cut off by its
// deadline, which would count as unanswered and, with deliveries between,
// against it.
func TestWaitingEventsAreNotCutOff(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		for i := range 8 {
			ev := event(fmt.Sprintf("k%d", i), 1)
			ev.MaxAttempts = 2
			s.enqueue(t, ev)
		}
		sender := outbox.SenderFunc(func(ctx context.Context, _ *outbox.Event) (outbox.Receipt, error) {
			select {
			case <-time.After(400 * time.Millisecond): // the backend's pace
				return outbox.Receipt{}, nil
			case <-ctx.Done():
				return outbox.Receipt{}, ctx.Err()
			}
		})
		cfg := fast(t)
		cfg.Concurrency, cfg.BatchSize = 1, 4
		cfg.Lease = 2 * time.Second // a second to send: two sends fit, a third waiter would have 200 ms
		rec := start(t, s.Store, sender, cfg)
		rec.waitFor(t, outbox.Delivered, 8, 30*time.Second)
		for _, o := range rec.all() {
			if o.Kind == outbox.Retry || o.Kind == outbox.Dead || o.Class == outbox.Unanswered {
				t.Errorf("%s (%s): %s", o.Kind, o.Class, o.Error)
			}
		}
	})
}

// When the backend dies after a delivery, an event that waited for a slot
// behind it measures "nothing gets through" from its own send: its failure
// pauses delivery, and the events still waiting wait the pause out.
func TestOutageAfterADeliveryPausesWaitingEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		for i := range 4 {
			s.enqueue(t, event(fmt.Sprintf("k%d", i), 1))
		}
		var sends atomic.Int64
		sender := outbox.SenderFunc(func(context.Context, *outbox.Event) (outbox.Receipt, error) {
			if sends.Add(1) == 1 {
				return outbox.Receipt{}, nil
			}
			return outbox.Receipt{}, outbox.TransientError(errors.New("POST /v1/weight: 503"), 0)
		})
		cfg := fast(t)
		cfg.Concurrency, cfg.BatchSize = 1, 4
		cfg.UnavailableBackoff = outbox.Backoff{Base: time.Hour, Max: time.Hour} // no probe while the test runs
		rec := start(t, s.Store, sender, cfg)
		rec.waitFor(t, outbox.Release, 3, 10*time.Second) // the failure, given back, and two waiting
		if n := sends.Load(); n != 2 {
			t.Fatalf("%d sends, want the delivery and one failure; recorded %+v", n, rec.all())
		}
		if rec.pausedCount() != 1 {
			t.Fatalf("paused %d times, want once", rec.pausedCount())
		}
	})
}

// A stop sends nothing more: events waiting for a slot are given back at
// once, and only the send under way finishes.
func TestStopSendsNoWaitingEvent(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		for i := range 4 {
			s.enqueue(t, event(fmt.Sprintf("k%d", i), 1))
		}
		var sends atomic.Int64
		first, release := make(chan struct{}), make(chan struct{})
		sender := outbox.SenderFunc(func(context.Context, *outbox.Event) (outbox.Receipt, error) {
			if sends.Add(1) == 1 {
				close(first)
				<-release
			}
			return outbox.Receipt{}, nil
		})
		cfg := fast(t)
		cfg.Concurrency, cfg.BatchSize, cfg.StopTimeout = 1, 4, time.Minute
		rec := newRecorder()
		cfg.Observer = rec
		claims := newClaimCounter(s.Store)
		p := newProcessor(t, claims, sender, cfg)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		<-first
		claims.await(t, 4, true)
		cancel()
		rec.waitFor(t, outbox.Release, 3, 10*time.Second) // given back while the first send is under way
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := sends.Load(); n != 1 {
			t.Fatalf("%d sends, want only the one under way at the stop", n)
		}
		if n := rec.count(outbox.Delivered); n != 1 {
			t.Fatalf("%d delivered, want the one under way", n)
		}
	})
}

// pausedCount is how many times delivery paused.
func (r *recorder) pausedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.paused
}

// raiseTo makes most at least n.
func raiseTo(most *atomic.Int64, n int64) {
	for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
	}
}
