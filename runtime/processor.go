package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
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

	mu      sync.Mutex
	nextDue time.Time // earliest known time an event becomes due; zero if unknown
}

// loop claims and dispatches events until ctx ends.
func (r *run) loop(ctx, sendCtx context.Context) {
	wake, unsubscribe := r.store.Subscribe()
	defer unsubscribe()

	housekeeping := time.NewTimer(0)
	defer housekeeping.Stop()
	idle := time.NewTimer(time.Hour)
	defer idle.Stop()
	var storeFailures int

	for ctx.Err() == nil {
		wait := r.pause.remaining(time.Now())
		if wait <= 0 {
			more, err := r.claim(ctx, sendCtx)
			switch {
			case err != nil && ctx.Err() == nil:
				storeFailures++
				wait = storeRetry.Delay(storeFailures)
				r.log.Error("outbox claim failed", "err", err, "retry_in", wait)
			case err == nil:
				storeFailures = 0
				if more {
					continue
				}
				wait = r.untilNextDue()
			}
		}
		idle.Reset(wait)
		select {
		case <-ctx.Done():
		case <-wake:
		case <-r.freed:
		case <-idle.C:
		case <-housekeeping.C:
			r.housekeep(ctx)
			housekeeping.Reset(min(r.cfg.PollInterval, r.cfg.Lease))
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

// claim takes as many due events as there is capacity for and starts their
// deliveries. more reports that the claim was full and capacity remains, so
// more events may be due right now.
func (r *run) claim(ctx, sendCtx context.Context) (more bool, err error) {
	free := r.cfg.Concurrency - int(r.inflight.Load())
	if free <= 0 {
		return false, nil
	}
	limit := min(free, r.cfg.BatchSize)
	events, err := r.store.Claim(ctx, r.cfg.Owner, limit, r.cfg.Lease)
	if err != nil {
		return false, fmt.Errorf("claim: %w", err)
	}
	r.inflight.Add(int64(len(events)))
	for _, ev := range events {
		r.sends.Add(1)
		go r.deliver(sendCtx, ev)
	}
	return len(events) == limit && free > limit, nil
}

// untilNextDue is how long the loop may sleep when nothing is due: until the
// earliest retry it knows of, and never longer than the poll interval.
func (r *run) untilNextDue() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	wait := r.cfg.PollInterval
	if !r.nextDue.IsZero() {
		if d := time.Until(r.nextDue); d <= 0 {
			r.nextDue = time.Time{}
			wait = 0
		} else if d < wait {
			wait = d
		}
	}
	return wait
}

// dueAt records that an event becomes due at t.
func (r *run) dueAt(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nextDue.IsZero() || t.Before(r.nextDue) {
		r.nextDue = t
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
	if at, ok, err := r.store.NextDue(ctx); err != nil {
		if ctx.Err() == nil {
			r.log.Error("outbox next-due lookup failed", "err", err)
		}
	} else if ok {
		r.dueAt(at)
	}
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

// attempt is one delivery attempt's outcome and how long the send took.
type attempt struct {
	out  Outcome
	took time.Duration
}

// deliver makes one delivery attempt and hands its outcome to the completer.
func (r *run) deliver(ctx context.Context, ev *Event) {
	defer r.sends.Done()
	start := time.Now()
	receipt, err := r.sender.Send(ctx, ev)
	took := time.Since(start)
	r.results <- attempt{out: r.outcome(ctx, ev, receipt, err), took: took}
}

// outcome decides what a send's result means for the event.
func (r *run) outcome(ctx context.Context, ev *Event, receipt Receipt, err error) Outcome {
	log := r.log.With("event_id", ev.ID, "event_type", ev.Type, "attempt", ev.Attempts, "max_attempts", ev.MaxAttempts)
	if err == nil {
		if r.pause.reset() {
			log.Info("outbox backend reachable again; delivery resumed")
			r.cfg.Observer.Resumed()
		}
		log.Debug("outbox event delivered")
		return Outcome{Event: ev, Kind: Delivered, Receipt: receipt}
	}
	if ctx.Err() != nil {
		log.Warn("outbox delivery cancelled by stop; event released", "err", err)
		return Outcome{Event: ev, Kind: Release, Error: "processor stopped during delivery: " + err.Error()}
	}
	class, retryAfter := Classify(err)
	switch {
	case class == Permanent:
		log.Error("outbox event rejected permanently; it is dead", "err", err)
		return Outcome{Event: ev, Kind: Dead, Error: "permanent: " + err.Error()}
	case class == Unavailable:
		delay, started := r.pause.trip(time.Now())
		if started {
			log.Warn("outbox backend unavailable; delivery paused", "err", err, "resume_in", delay)
			r.cfg.Observer.Paused(delay, err)
		}
		r.dueAt(time.Now().Add(delay))
		return Outcome{Event: ev, Kind: Release, Delay: delay, Error: "backend unavailable: " + err.Error()}
	case ev.Attempts >= ev.MaxAttempts:
		log.Error("outbox event failed its last attempt; it is dead", "err", err)
		return Outcome{Event: ev, Kind: Dead, Error: fmt.Sprintf("gave up after %d attempts: %v", ev.Attempts, err)}
	default:
		delay := retryAfter
		if delay <= 0 {
			delay = r.backoff(ev.Type).Delay(ev.Attempts)
		}
		log.Warn("outbox delivery failed; will retry", "err", err, "retry_in", delay)
		r.dueAt(time.Now().Add(delay))
		return Outcome{Event: ev, Kind: Retry, Delay: delay, Error: err.Error()}
	}
}

// complete records outcomes as they arrive, batching whatever is waiting
// into one store transaction.
func (r *run) complete(ctx context.Context) {
	batch := make([]attempt, 0, r.cfg.Concurrency)
	outs := make([]Outcome, 0, r.cfg.Concurrency)
	for a := range r.results {
		batch = append(batch[:0], a)
	drain:
		for len(batch) < cap(batch) {
			select {
			case a, ok := <-r.results:
				if !ok {
					break drain
				}
				batch = append(batch, a)
			default:
				break drain
			}
		}
		outs = outs[:0]
		for _, a := range batch {
			outs = append(outs, a.out)
		}
		lost := r.finish(ctx, outs)
		for _, a := range batch {
			if !lost[a.out.Event.ID] {
				r.cfg.Observer.Recorded(a.out, a.took)
			}
		}
		r.inflight.Add(-int64(len(batch)))
		select {
		case r.freed <- struct{}{}:
		default:
		}
	}
}

// finish records a batch of outcomes, retrying while the store fails, and
// turns failed delivered hooks into retries. It returns the events whose
// outcome was not recorded.
func (r *run) finish(ctx context.Context, batch []Outcome) (lost map[uuid.UUID]bool) {
	lost = make(map[uuid.UUID]bool)
	for failures := 0; len(batch) > 0; {
		res, err := r.store.Finish(ctx, batch)
		if err != nil {
			if ctx.Err() != nil {
				r.log.Error("outbox outcomes not recorded before stop; their leases will expire and the events be retried", "events", len(batch), "err", err)
				for _, o := range batch {
					lost[o.Event.ID] = true
				}
				return lost
			}
			failures++
			wait := storeRetry.Delay(failures)
			r.log.Error("outbox recording outcomes failed", "events", len(batch), "err", err, "retry_in", wait)
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			continue
		}
		for _, id := range res.Lost {
			lost[id] = true
			r.log.Warn("outbox lease lost before the outcome was recorded; the new lease holder decides", "event_id", id)
		}
		batch = r.hookFailures(batch, res.HookErrors)
		for _, o := range batch {
			lost[o.Event.ID] = true // recorded again below, as what it became
		}
	}
	return lost
}

// hookFailures returns retry (or dead) outcomes for events whose delivered
// hook failed. The delivery itself succeeded, so a retry re-sends under the
// same idempotency key and runs the hook again.
func (r *run) hookFailures(batch []Outcome, errs map[uuid.UUID]error) []Outcome {
	if len(errs) == 0 {
		return nil
	}
	var next []Outcome
	for _, out := range batch {
		err, ok := errs[out.Event.ID]
		if !ok {
			continue
		}
		ev := out.Event
		r.log.Error("outbox delivered hook failed", "event_id", ev.ID, "event_type", ev.Type, "attempt", ev.Attempts, "err", err)
		msg := "delivered, but the delivered hook failed: " + err.Error()
		if ev.Attempts >= ev.MaxAttempts {
			next = append(next, Outcome{Event: ev, Kind: Dead, Error: msg})
			continue
		}
		delay := r.backoff(ev.Type).Delay(ev.Attempts)
		r.dueAt(time.Now().Add(delay))
		next = append(next, Outcome{Event: ev, Kind: Retry, Delay: delay, Error: msg})
	}
	return next
}

// backoff returns the retry schedule of an event type.
func (r *run) backoff(eventType string) Backoff {
	if b, ok := r.cfg.Backoffs[eventType]; ok {
		return b
	}
	return r.cfg.Backoff
}

// pause is the processor-wide stop on delivery while the backend is
// unavailable. Its backoff grows with each consecutive unavailable probe.
type pause struct {
	backoff Backoff
	mu      sync.Mutex
	until   time.Time
	streak  int
}

// trip starts a pause unless one is running, and returns how long is left.
func (p *pause) trip(now time.Time) (left time.Duration, started bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Before(p.until) {
		return p.until.Sub(now), false
	}
	p.streak++
	d := p.backoff.Delay(p.streak)
	p.until = now.Add(d)
	return d, true
}

// reset ends the pause after a successful delivery; it reports whether
// there was one to end.
func (p *pause) reset() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	was := p.streak > 0
	p.streak, p.until = 0, time.Time{}
	return was
}

func (p *pause) remaining(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.until.Sub(now)
}
