package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Processor delivers an outbox's events: it claims due events under a lease,
// sends each through its Sender, and records every outcome in the Store.
//
// Many processors may share one store (in one process or many); leases make
// sure each event is worked by one of them at a time.
type Processor struct {
	store   Store
	sender  Sender
	cfg     Config
	log     *slog.Logger
	running atomic.Bool
}

// NewProcessor returns a processor delivering store's events through sender.
func NewProcessor(store Store, sender Sender, cfg Config) *Processor {
	cfg = cfg.withDefaults()
	return &Processor{store: store, sender: sender, cfg: cfg, log: cfg.Logger}
}

// Config returns the processor's configuration with defaults filled in.
func (p *Processor) Config() Config { return p.cfg }

// Run delivers events until ctx ends, then stops gracefully: it claims
// nothing more, lets deliveries in flight finish for up to StopTimeout
// (cancelling the rest, whose events are released without spending an
// attempt), records their outcomes, and returns nil. Every goroutine it
// started has ended when it returns.
func (p *Processor) Run(ctx context.Context) error {
	if p.store == nil || p.sender == nil {
		return errors.New("outbox: NewProcessor needs a store and a sender")
	}
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("outbox: this processor is already running; create another one to add capacity")
	}
	defer p.running.Store(false)

	r := &run{
		Processor: p,
		results:   make(chan attempt, p.cfg.Concurrency),
		freed:     make(chan struct{}, 1),
		pause:     pause{backoff: p.cfg.UnavailableBackoff},
	}
	// Deliveries and the recording of their outcomes outlive ctx so that a
	// stop does not cut a delivery off between the send and the record.
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	finishCtx, cancelFinish := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelFinish()

	completed := make(chan struct{})
	go func() {
		defer close(completed)
		r.complete(finishCtx)
	}()

	p.log.Info("outbox processor started", "owner", p.cfg.Owner, "concurrency", p.cfg.Concurrency, "batch_size", p.cfg.BatchSize)
	r.loop(ctx, sendCtx)

	stopping := time.AfterFunc(p.cfg.StopTimeout, cancelSends)
	r.sends.Wait()
	stopping.Stop()
	close(r.results)
	// If the store is unreachable the outcomes cannot be recorded; give it
	// one more StopTimeout, then leave the events to their leases.
	giveUp := time.AfterFunc(p.cfg.StopTimeout, cancelFinish)
	<-completed
	giveUp.Stop()
	p.log.Info("outbox processor stopped", "owner", p.cfg.Owner)
	return nil
}

// run is the state of one Run call.
type run struct {
	*Processor
	results  chan attempt  // deliveries → completer
	freed    chan struct{} // completer → loop: capacity or a key's next event may be free
	inflight atomic.Int64  // claimed and not yet recorded
	sends    sync.WaitGroup
	pause    pause
	// lastSuccess is when a delivery last succeeded (Unix nanoseconds):
	// an "unavailable" send that overlapped a success was this event's
	// problem, not the backend's.
	lastSuccess atomic.Int64

	mu      sync.Mutex
	nextDue time.Time // when the next event is due, as far as this run knows; zero if unknown
}

// wakeReason is why the loop woke up.
type wakeReason int

const (
	wokeByStore   wakeReason = iota // a commit may have made work claimable
	wokeByFreed                     // outcomes were recorded
	wokeByTimer                     // a due time (or the poll) came
	wokeAtStartup                   // first pass
)

// dueSlack is added to every wait for a due time, so that the loop wakes
// just after the event is due rather than just before it.
const dueSlack = 2 * time.Millisecond

// loop claims and dispatches events until ctx ends.
func (r *run) loop(ctx, sendCtx context.Context) {
	wake, unsubscribe := r.store.Subscribe()
	defer unsubscribe()

	housekeeping := time.NewTimer(0)
	defer housekeeping.Stop()
	idle := time.NewTimer(time.Hour)
	defer idle.Stop()
	var storeFailures int
	reason := wokeAtStartup
	// stale is set when what this run knows of due times may have gone out
	// of date while every slot was busy (a commit or a due time came); the
	// next pass with free slots asks the store.
	stale := false

	for ctx.Err() == nil {
		wait := r.pause.remaining(time.Now())
		if wait <= 0 {
			claimed, limit, err := r.claim(ctx, sendCtx)
			switch {
			case err != nil && ctx.Err() == nil:
				storeFailures++
				wait = storeRetry.Delay(storeFailures)
				r.log.Error("outbox claim failed", "err", err, "retry_in", wait)
			case err == nil && limit == 0:
				// Every slot is busy: the completer wakes us when one
				// frees. Asking the store when work is due would cost a
				// query per wake-up and tell us nothing we can act on yet.
				storeFailures = 0
				stale = stale || reason != wokeByFreed
				wait = r.cfg.PollInterval
			case err == nil:
				storeFailures = 0
				if claimed == limit {
					continue // more may be due right now
				}
				// Nothing more is due now. Ask the store when something
				// will be, when what this run knows may be out of date: a due
				// time came, or a commit brought nothing claimable (an event
				// scheduled for later, a key's next change).
				if stale || reason == wokeByTimer || reason == wokeAtStartup || (reason == wokeByStore && claimed == 0) {
					r.consultNextDue(ctx)
					stale = false
				}
				wait = r.untilNextDue()
			}
		}
		idle.Reset(wait)
		select {
		case <-ctx.Done():
		case <-wake:
			reason = wokeByStore
		case <-r.freed:
			reason = wokeByFreed
		case <-idle.C:
			reason = wokeByTimer
		case <-housekeeping.C:
			r.housekeep(ctx)
			housekeeping.Reset(min(r.cfg.PollInterval, r.cfg.Lease))
			reason = wokeByTimer
		}
		if !idle.Stop() {
			select {
			case <-idle.C:
			default:
			}
		}
	}
}

// storeRetry paces retries of a failing store call.
var storeRetry = Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2}

// storeCallTimeout bounds one claim or one recording of outcomes.
const storeCallTimeout = 30 * time.Second

// claim takes as many due events as there is capacity for and starts their
// deliveries. It reports how many it claimed out of how many it asked for.
func (r *run) claim(ctx, sendCtx context.Context) (claimed, limit int, err error) {
	free := r.cfg.Concurrency - int(r.inflight.Load())
	if free <= 0 {
		return 0, 0, nil
	}
	limit = min(free, r.cfg.BatchSize)
	// A claim that commits must come back to us even if we are stopping:
	// otherwise its events would wait out their lease, an attempt spent.
	claimCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeCallTimeout)
	defer cancel()
	events, err := r.store.Claim(claimCtx, r.cfg.Owner, limit, r.cfg.Lease)
	if err != nil {
		return 0, limit, fmt.Errorf("claim: %w", err)
	}
	r.inflight.Add(int64(len(events)))
	if bs, ok := r.sender.(BatchSender); ok && r.cfg.SendBatch > 1 {
		for chunk := range slices.Chunk(events, r.cfg.SendBatch) {
			r.sends.Add(1)
			go r.deliverBatch(sendCtx, bs, chunk)
		}
		return len(events), limit, nil
	}
	for _, ev := range events {
		r.sends.Add(1)
		go r.deliver(sendCtx, ev)
	}
	return len(events), limit, nil
}

// untilNextDue is how long the loop may sleep when nothing is due now: until
// the next due time it knows of, and never longer than the poll interval.
func (r *run) untilNextDue() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	wait := r.cfg.PollInterval
	if !r.nextDue.IsZero() {
		wait = min(wait, max(0, time.Until(r.nextDue))+dueSlack)
	}
	return wait
}

// dueAt records that an event becomes due at t. A known due time that has
// passed says nothing any more and gives way.
func (r *run) dueAt(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.nextDue.After(time.Now()) || t.Before(r.nextDue) {
		r.nextDue = t
	}
}

// consultNextDue updates what this run knows of the next due time with the
// store's answer, measured by the store's clock. A due time in the future
// that this run learned meanwhile (a retry it just scheduled, which the
// store may not have recorded yet) is kept.
func (r *run) consultNextDue(ctx context.Context) {
	wait, ok, err := r.store.NextDue(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("outbox next-due lookup failed", "err", err)
		}
		return
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.nextDue.After(now) {
		r.nextDue = time.Time{}
	}
	if !ok {
		return
	}
	// Due, yet not claimed: another processor holds it or is about to.
	// Look again shortly rather than spin.
	at := now.Add(max(wait, 5*time.Millisecond))
	if r.nextDue.IsZero() || at.Before(r.nextDue) {
		r.nextDue = at
	}
}

// housekeep is the poll: it reclaims expired leases, learns when the next
// event is due, and applies retention.
func (r *run) housekeep(ctx context.Context) {
	if n, err := r.store.ReclaimExpired(ctx); err != nil {
		if ctx.Err() == nil {
			r.log.Error("outbox reclaim of expired leases failed", "err", err)
		}
	} else if n > 0 {
		r.log.Warn("outbox reclaimed events whose lease expired", "events", n)
	}
	r.consultNextDue(ctx)
	if r.cfg.Retention > 0 {
		n, err := r.store.PurgeCompleted(ctx, time.Now().Add(-r.cfg.Retention))
		if err != nil {
			if ctx.Err() == nil {
				r.log.Error("outbox retention purge failed", "err", err)
			}
		} else if n > 0 {
			r.log.Info("outbox purged completed events", "events", n, "older_than", r.cfg.Retention)
		}
	}
}
