package outbox_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
)

// State counts the events claimed and not yet recorded.
func TestStateCountsEventsInFlight(t *testing.T) {
	s := outboxtest.NewSQLiteStore(t)
	outboxtest.EnqueueSQLite(t, s, event("a", 1), event("b", 1), event("c", 1))
	started := make(chan struct{}, 3)
	release := make(chan struct{})
	sender := outbox.SenderFunc(func(ctx context.Context, ev *outbox.Event) (outbox.Receipt, error) {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return outbox.Receipt{}, nil
	})
	rec := newRecorder()
	cfg := fast(t)
	cfg.Observer = rec
	p := newProcessor(t, s, sender, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	for range 3 {
		<-started
	}
	if n := p.State().InFlight; n != 3 {
		t.Fatalf("in flight during three sends: %d", n)
	}
	close(release)
	rec.waitFor(t, outbox.Delivered, 3, 10*time.Second)
	if n := p.State().InFlight; n != 0 {
		t.Fatalf("in flight once all were recorded: %d", n)
	}
}

// leaseRecorder is a recorder that also counts expired leases.
type leaseRecorder struct {
	*recorder
	expired atomic.Int64
}

func (r *leaseRecorder) LeasesExpired(n int) {
	r.expired.Add(int64(n))
	r.signal()
}

// A processor tells a LeaseObserver how many expired leases it reclaimed.
func TestLeaseObserverLearnsOfExpiredLeases(t *testing.T) {
	s := outboxtest.NewSQLiteStore(t)
	outboxtest.EnqueueSQLite(t, s, event("a", 1), event("b", 1))
	// Another processor claimed both and died.
	if evs, err := s.Claim(t.Context(), "dead-processor", 10, time.Millisecond); err != nil || len(evs) != 2 {
		t.Fatalf("claim: %d %v", len(evs), err)
	}
	rec := &leaseRecorder{recorder: newRecorder()}
	cfg := fast(t)
	cfg.Observer = rec
	p := newProcessor(t, s, outbox.SenderFunc(func(context.Context, *outbox.Event) (outbox.Receipt, error) { return outbox.Receipt{}, nil }), cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	rec.waitFor(t, outbox.Delivered, 2, 10*time.Second)
	if n := rec.expired.Load(); n != 2 {
		t.Fatalf("the observer learned of %d expired leases, want 2", n)
	}
}
