package outbox_test

import (
	"context"
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
			n := sending.Add(1)
			defer sending.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return outbox.Receipt{}, nil
		})
		cfg := fast(t)
		cfg.Concurrency, cfg.BatchSize = 2, 8 // capacity: 2 sending + 8 waiting
		rec := newRecorder()
		cfg.Observer = rec
		claims := newClaimCounter(s.Store)
		p := newProcessor(t, claims, sender, cfg)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}()
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
		rec := newRecorder()
		cfg.Observer = rec
		claims := newClaimCounter(s.Store)
		p := newProcessor(t, claims, sender, cfg)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}()
		<-first
		claims.await(t, 4, true) // the three others wait for the slot
		close(fail)
		heldBack := func() int {
			n := 0
			for _, o := range rec.all() {
				if o.Kind == outbox.Release && strings.Contains(o.Error, "delivery paused while it waited") {
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
