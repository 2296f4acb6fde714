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

	for ctx.Err() == nil {
		wait := r.pause.remaining(time.Now())
		if wait <= 0 {
			claimed, limit, err := r.claim(ctx, sendCtx)
			switch {
			case err != nil && ctx.Err() == nil:
				storeFailures++
				wait = storeRetry.Delay(storeFailures)
				r.log.Error("outbox claim failed", "err", err, "retry_in", wait)
			case err == nil:
				storeFailures = 0
				if claimed == limit && limit > 0 {
					continue // more may be due right now
				}
				// Nothing more is due now. Ask the store when something
				// will be, when what this run knows may be out of date: a due
				// time came, or a commit brought nothing claimable (an event
				// scheduled for later, a key's next change).
				if reason == wokeByTimer || reason == wokeAtStartup || (reason == wokeByStore && claimed == 0) {
					r.consultNextDue(ctx)
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

// attempt is one delivery attempt's outcome and how long the send took.
type attempt struct {
	out  Outcome
	took time.Duration
}

// deliver makes one delivery attempt and hands its outcome to the completer.
func (r *run) deliver(stop context.Context, ev *Event) {
	defer r.sends.Done()
	// A send must end before its lease does, or the event could be claimed
	// again and delivered twice at once.
	ctx, cancel := context.WithTimeout(stop, r.sendLimit())
	defer cancel()
	start := time.Now()
	receipt, err := r.sender.Send(ctx, ev)
	took := time.Since(start)
	r.results <- attempt{out: r.outcome(stop, ctx, ev, start, receipt, err), took: took}
}

// sendLimit is how long a send may take: its lease, less a margin for
// recording the outcome while the lease still holds (a tenth of the lease,
// and at least 2 s or half of it).
func (r *run) sendLimit() time.Duration {
	lease := r.cfg.Lease
	return lease - max(lease/10, min(lease/2, 2*time.Second))
}

// outcome decides what a send's result means for the event. stop is the
// processor's stop signal; ctx is the send's own, bounded by the lease.
func (r *run) outcome(stop, ctx context.Context, ev *Event, start time.Time, receipt Receipt, err error) Outcome {
	log := r.log.With("event_id", ev.ID, "event_type", ev.Type, "attempt", ev.Attempts, "max_attempts", ev.MaxAttempts)
	if err == nil {
		r.lastSuccess.Store(time.Now().UnixNano())
		if r.pause.reset() {
			log.Info("outbox backend reachable again; delivery resumed")
			r.cfg.Observer.Resumed()
		}
		log.Debug("outbox event delivered")
		return Outcome{Event: ev, Kind: Delivered, Receipt: receipt}
	}
	if stop.Err() != nil {
		log.Warn("outbox delivery cancelled by stop; event released", "err", err)
		return Outcome{Event: ev, Kind: Release, Error: "processor stopped during delivery: " + err.Error()}
	}
	class, retryAfter := Classify(err)
	if ctx.Err() != nil {
		class, err = Transient, fmt.Errorf("delivery took longer than the lease allows (%s): %w", r.sendLimit(), err)
	}
	if class == Unavailable && errors.Is(err, context.DeadlineExceeded) && r.lastSuccess.Load() > start.UnixNano() {
		// No answer in time, while other deliveries got through: the
		// backend is up, and this event is what it chokes on. Count the
		// attempt, so the event cannot pause the processor forever.
		class, err = Transient, fmt.Errorf("%w (other deliveries succeeded meanwhile)", err)
	}
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
	default:
		return r.failed(ev, err, retryAfter, log)
	}
}

// failed is the outcome of a counted failed attempt: a retry, or death when
// the attempts are used up.
func (r *run) failed(ev *Event, err error, retryAfter time.Duration, log *slog.Logger) Outcome {
	if ev.Attempts >= ev.MaxAttempts {
		log.Error("outbox event failed its last attempt; it is dead", "err", err)
		return Outcome{Event: ev, Kind: Dead, Error: fmt.Sprintf("gave up after %d attempts: %v", ev.Attempts, err)}
	}
	delay := retryAfter
	if delay <= 0 {
		delay = r.backoff(ev.Type).Delay(ev.Attempts)
	}
	log.Warn("outbox delivery failed; will retry", "err", err, "retry_in", delay)
	r.dueAt(time.Now().Add(delay))
	return Outcome{Event: ev, Kind: Retry, Delay: delay, Error: err.Error()}
}

// complete records outcomes as they arrive, batching whatever is waiting
// into one store transaction.
func (r *run) complete(ctx context.Context) {
	batch := make([]attempt, 0, r.cfg.Concurrency)
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
		outs := make([]Outcome, len(batch))
		took := make(map[uuid.UUID]time.Duration, len(batch))
		for i, a := range batch {
			outs[i] = a.out
			took[a.out.Event.ID] = a.took
		}
		for _, o := range r.finish(ctx, outs) {
			r.cfg.Observer.Recorded(o, took[o.Event.ID])
		}
		r.inflight.Add(-int64(len(batch)))
		select {
		case r.freed <- struct{}{}:
		default:
		}
	}
}

// Limits on recording a batch that keeps failing: after isolateAfter
// failures the batch is recorded one outcome at a time, and an outcome
// that fails abandonAfter times is left to its lease, so that one outcome
// the store cannot take never stops the processor.
const (
	isolateAfter = 3
	abandonAfter = 5
)

// finish records a batch of outcomes, retrying while the store fails, and
// turns failed delivered hooks into retries. It returns the outcomes that
// were recorded (for failed hooks, the outcome they became).
func (r *run) finish(ctx context.Context, batch []Outcome) (recorded []Outcome) {
	for failures := 0; len(batch) > 0; {
		callCtx, cancel := context.WithTimeout(ctx, storeCallTimeout)
		res, err := r.store.Finish(callCtx, batch)
		cancel()
		if err != nil {
			failures++
			switch {
			case ctx.Err() != nil:
				r.log.Error("outbox outcomes not recorded before stop; their leases will expire and the events be retried", "events", len(batch), "err", err)
				return recorded
			case failures >= isolateAfter && len(batch) > 1:
				r.log.Error("outbox recording outcomes keeps failing; recording them one at a time", "events", len(batch), "err", err)
				for _, o := range batch {
					recorded = append(recorded, r.finish(ctx, []Outcome{o})...)
				}
				return recorded
			case failures >= abandonAfter:
				r.log.Error("outbox outcome cannot be recorded; the event will be retried when its lease expires", "event_id", batch[0].Event.ID, "event_type", batch[0].Event.Type, "err", err)
				return recorded
			}
			wait := storeRetry.Delay(failures)
			r.log.Error("outbox recording outcomes failed", "events", len(batch), "err", err, "retry_in", wait)
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			continue
		}
		lost := make(map[uuid.UUID]bool, len(res.Lost))
		for _, id := range res.Lost {
			lost[id] = true
			r.log.Warn("outbox lease lost before the outcome was recorded; the new lease holder decides", "event_id", id)
		}
		for _, o := range batch {
			if _, hookFailed := res.HookErrors[o.Event.ID]; !lost[o.Event.ID] && !hookFailed {
				recorded = append(recorded, o)
			}
		}
		batch = r.hookFailures(batch, res.HookErrors)
	}
	return recorded
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
		log := r.log.With("event_id", ev.ID, "event_type", ev.Type, "attempt", ev.Attempts, "max_attempts", ev.MaxAttempts)
		log.Error("outbox delivered hook failed", "err", err)
		next = append(next, r.failed(ev, fmt.Errorf("delivered, but the delivered hook failed: %w", err), 0, log))
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
