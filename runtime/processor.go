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
//
// # Evidence
//
// An event goes dead, or spends an attempt, only on evidence against the
// event itself; an outage of any kind pauses delivery instead. A failed
// delivery is weighed as follows:
//
//   - Nothing gets through: no delivery succeeded while the event's
//     request was out (nor lately, when other sends were still out: a 503
//     from a backend at capacity comes back before the sends it took are
//     answered). Delivery pauses, whatever the failure (a 5xx, a 400, a
//     redirect, a timeout, a dropped connection, a refused one): the
//     processor sends one event at a time, with a growing wait, until one
//     is delivered. The pause is logged, told to the Observer and reported
//     by [Processor.State].
//   - The request never reached the backend ([Unavailable]): the attempt is
//     given back, always.
//   - The event's first failure, or one with no other delivery since its
//     last failure: the attempt is given back too, but the failure is dated
//     and counted in the event's Releases. Nothing yet tells the event's
//     fault from the backend's.
//   - A failure after other events were delivered since the event's last
//     failure (by requests that went out after it) is held against it:
//     the attempt counts (dead when they are used up), and a [Permanent]
//     answer that repeats a counted permanent failure makes the event
//     dead at once.
//   - [InProgress] (the backend still works on an earlier delivery of the
//     event): tried again soon, without spending an attempt, up to
//     MaxInProgress times.
//
// So an event that makes the backend drop the connection, or crash, ends
// dead and frees its key's later events, while a backend that answers 503
// or 400 to everything, for as long as it does, empties nothing into the
// dead state. With no other traffic, only a [Pinger] tells the two apart,
// for one event: see its documentation.
//
// Each send must end before a deadline measured from the moment before its
// claim (Lease less a margin for recording the outcome); an event whose
// deadline has passed when its send would start is released unsent, so a
// send never outlives its lease.
//
// # Adaptive concurrency
//
// Config.Concurrency is a ceiling. Below it, the processor finds how many
// sends the backend takes at once, the way TCP finds a network's capacity:
// the limit starts at 16 sends and doubles with each round of answered
// sends until the backend first shows it is full, then grows by one send
// per round while the sends it allows are all in use and answered about
// as fast as usual. A 429, 503 or 504, or a request left unanswered (the
// sender's timeout, the send deadline, a dropped connection), takes a
// fifth off the limit; answers to single sends twice as slow as usual
// (and slower by more than a millisecond) take a tenth; at most one
// decrease a round. Just past the limit where the backend last refused,
// it grows at an eighth of the pace. When delivery pauses, the limit
// drops to one send (the probe); after the pause it doubles again up to
// half of where the backend was full, so that a backend recovering from
// an outage meets a few requests and then more, not the whole backlog. [Processor.State] reports the
// limit, and outboxprom exports it. Config.FixedConcurrency turns this
// off.
type Processor struct {
	store   Store
	sender  Sender
	cfg     Config
	log     *slog.Logger
	running atomic.Bool
	pause   pause
	// inflight counts the events claimed and not yet recorded.
	inflight atomic.Int64
	// slots is the running Run's, for State.
	slots atomic.Pointer[limiter]
}

// NewProcessor returns a processor delivering store's events through
// sender. It refuses a configuration that cannot work: no store or sender,
// or a Lease too short for the sender's own timeout (when the sender is a
// [TimeoutSender]).
func NewProcessor(store Store, sender Sender, cfg Config) (*Processor, error) {
	if store == nil || sender == nil {
		return nil, errors.New("outbox: NewProcessor needs a store and a sender")
	}
	given := cfg.Lease
	cfg = cfg.withDefaults()
	if ts, ok := sender.(TimeoutSender); ok {
		if limit, need := sendLimit(cfg.Lease), ts.SendTimeout(); need > limit {
			which := "the default Lease"
			if given > 0 {
				which = "Config.Lease"
			}
			return nil, fmt.Errorf("outbox: %s of %s leaves %s for a send, but the sender may take %s; "+
				"raise Lease above %s or shorten the sender's timeout", which, cfg.Lease, limit, need, leaseFor(need))
		}
	}
	return &Processor{store: store, sender: sender, cfg: cfg, log: cfg.Logger, pause: pause{backoff: cfg.UnavailableBackoff}}, nil
}

// leaseFor is the shortest lease whose send limit is at least d.
func leaseFor(d time.Duration) time.Duration {
	lease := d
	for sendLimit(lease) < d {
		lease += max(d/100, time.Millisecond)
	}
	return lease.Round(time.Second) + time.Second
}

// Config returns the processor's configuration with defaults filled in.
func (p *Processor) Config() Config { return p.cfg }

// newLimiter makes the send slots of a run, which State reads.
func (p *Processor) newLimiter() *limiter {
	l := newLimiter(p.cfg.Concurrency, p.cfg.FixedConcurrency)
	p.slots.Store(l)
	return l
}

// limit is the running limit of sends in flight, or Concurrency when the
// processor does not run.
func (p *Processor) limit() int {
	if l := p.slots.Load(); l != nil {
		return l.current()
	}
	return p.cfg.Concurrency
}

// State is what a processor is doing, for health checks.
type State struct {
	// Paused is true while delivery is paused because nothing gets
	// through; PausedSince and PauseReason say since when and why (the
	// failure that began the pause, as its class and error text).
	Paused      bool
	PausedSince time.Time
	PauseClass  Class
	PauseReason string
	// InFlight counts the events claimed and not yet recorded: being
	// delivered, waiting for a send slot (see Config.BatchSize), or
	// waiting for their outcome to be written.
	InFlight int
	// Limit is how many sends may be in flight at once now: Concurrency,
	// or less while the adaptive limit holds back from a backend that
	// shows it is at capacity.
	Limit int
}

// State reports whether delivery is paused, since when and why, and how
// many events are in flight.
func (p *Processor) State() State {
	since, class, reason := p.pause.state()
	return State{Paused: !since.IsZero(), PausedSince: since, PauseClass: class, PauseReason: reason, InFlight: int(p.inflight.Load()), Limit: p.limit()}
}

// Run delivers events until ctx ends, then stops gracefully: it claims
// nothing more, lets deliveries in flight finish for up to StopTimeout
// (cancelling the rest, whose events are released without spending an
// attempt), records their outcomes, and returns nil. Every goroutine it
// started has ended when it returns.
func (p *Processor) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("outbox: this processor is already running; create another one to add capacity")
	}
	defer p.running.Store(false)
	defer p.slots.Store(nil)
	p.pause.reset()

	r := &run{
		Processor: p,
		slots:     p.newLimiter(),
		stopping:  ctx,
		results:   make(chan attempt, p.maxInFlight()),
		freed:     make(chan struct{}, 1),
		changed:   make(chan struct{}, 1),
		evidence:  newEvidence(),
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
	beating, stopBeating := context.WithCancel(context.WithoutCancel(ctx))
	beaten := make(chan struct{})
	go func() {
		defer close(beaten)
		r.heartbeat(beating)
	}()
	defer func() {
		stopBeating()
		<-beaten
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

// maxPrefetch is how many claimed events may wait for a send slot at most:
// claims are sized for the database rather than for the slots free at the
// moment, and a slot that frees has an event ready. Four rounds of sends.
func (p *Processor) maxPrefetch() int { return min(p.cfg.BatchSize, 4*p.cfg.Concurrency) }

// capacity is how many claimed events may be being sent or waiting for a
// send slot at most, and how many outcomes the completer records in one
// transaction at most.
func (p *Processor) capacity() int { return p.cfg.Concurrency + p.maxPrefetch() }

// maxInFlight is how many events may be claimed and not yet recorded at
// most: twice the capacity, whether being sent, waiting for a slot or
// waiting for their outcome's record. Outcomes waiting for the store do
// not hold back the next claim, so that claiming and recording overlap
// instead of taking turns; they are bounded all the same, so that a store
// slower to record than to claim holds the claims back.
func (p *Processor) maxInFlight() int { return 2 * p.capacity() }

// wakeStep is how much room for sending the loop waits for once it has
// none, room being what the slots and the prefetch allow now: a quarter of
// the claim it would make, so that outcomes that trickle in do not each
// cost a claim of one event.
func (p *Processor) wakeStep(room int) int { return max(1, min(room, p.cfg.BatchSize)/4) }

// prefetch is how many claimed events may wait for a send slot now: no
// more than the slots can start within half the send time a lease allows,
// at the sends' recent pace and the current limit, so that a slow backend
// does not leave events waiting out their leases.
func (r *run) prefetch() int {
	avg := time.Duration(r.sendTime.Load())
	if avg <= 0 {
		return r.maxPrefetch()
	}
	rounds := int64(sendLimit(r.cfg.Lease) / 2 / avg)
	return int(min(int64(r.maxPrefetch()), rounds*int64(r.slots.current())))
}

// sent notes how long a send took, for prefetch: a moving average that
// gives the latest send an eighth of its weight.
func (r *run) sent(took time.Duration) {
	old := r.sendTime.Load()
	r.sendTime.Store(old + (int64(took)-old)/8)
}

// minSendTime is how much of its send time an event that waited for a slot
// must have left to be sent: what the sender allows one request, or half
// the send time a lease allows. One with less is given back unsent rather
// than cut off by the deadline, which would count as no answer.
func (r *run) minSendTime() time.Duration {
	if ts, ok := r.sender.(TimeoutSender); ok && ts.SendTimeout() > 0 {
		return min(ts.SendTimeout(), sendLimit(r.cfg.Lease))
	}
	return sendLimit(r.cfg.Lease) / 2
}

// run is the state of one Run call.
type run struct {
	*Processor
	// slots bounds the sends in flight (at most Concurrency, adapting to
	// the backend); a batch takes one per event.
	slots *limiter
	// stopping ends when Run's context does: events waiting for a slot
	// are then released unsent rather than sent.
	stopping context.Context
	// sendTime is a moving average of how long sends take, in
	// nanoseconds (see prefetch).
	sendTime atomic.Int64
	results  chan attempt // deliveries → completer
	// recording counts the outcomes handed to the completer and not yet
	// recorded (see maxInFlight).
	recording atomic.Int64
	// wakeAt, while wakeWanted is set, is how few events being sent or
	// waiting for a slot let the loop claim again: it waits on sends, and
	// handOver wakes it (see wakeOnSends).
	wakeAt     atomic.Int64
	wakeWanted atomic.Bool
	freed      chan struct{} // completer, handOver → loop: room to claim, or a key's next event, may be free
	changed    chan struct{} // deliveries → heartbeat: delivery paused or resumed
	sends      sync.WaitGroup
	// evidence counts deliveries and drops around failures.
	evidence *evidence

	mu      sync.Mutex
	nextDue time.Time // when the next event is due, as far as this run knows; zero if unknown
}

// wakeReason is why the loop woke up.
type wakeReason int

const (
	wokeByStore   wakeReason = iota // a commit may have made work claimable
	wokeByFreed                     // outcomes were recorded, or sends ended
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
				// No room to claim: sends that end (see wakeOnSends) or
				// a record wake us when there is. Asking the store when
				// work is due would cost a query per wake-up and tell us
				// nothing we can act on yet.
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

// claim takes as many due events as there is capacity for (one, as a
// probe, while delivery is paused) and starts their deliveries, which wait
// for a send slot. It reports how many it claimed out of how many it asked
// for.
func (r *run) claim(ctx, sendCtx context.Context) (claimed, limit int, err error) {
	r.wakeWanted.Store(false) // awake now; asked for again below if need be
	inflight := int(r.inflight.Load())
	sending := inflight - int(r.recording.Load())
	room := r.slots.current() + r.prefetch()
	free := min(room-sending, r.maxInFlight()-inflight)
	limit = r.pause.limit(max(0, min(free, r.cfg.BatchSize)))
	if limit == 0 {
		if sending >= room {
			r.wakeOnSends(room - r.wakeStep(room))
		}
		return 0, 0, nil
	}
	c := r.claimedNow()
	// A claim that commits must come back to us even if we are stopping:
	// otherwise its events would wait out their lease, an attempt spent.
	claimCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeCallTimeout)
	defer cancel()
	events, err := r.store.Claim(claimCtx, r.cfg.Owner, limit, r.cfg.Lease)
	r.pause.claimed(events) // nil on error
	if err != nil {
		return 0, limit, fmt.Errorf("claim: %w", err)
	}
	if len(events) == 0 {
		return 0, limit, nil
	}
	r.inflight.Add(int64(len(events)))
	c.ctxs = r.newSendContexts(sendCtx, c.deadline)
	defer c.ctxs.release()
	if bs, ok := r.sender.(BatchSender); ok && r.cfg.SendBatch > 1 {
		// An event whose last request went unanswered goes alone: if a
		// batch holding it went unanswered, which event choked the
		// backend could not be told.
		var batched []*Event
		for _, ev := range events {
			if ev.FailedClass == Unanswered && !ev.FailedAt.IsZero() {
				r.sends.Add(1)
				c.ctxs.hold()
				go r.deliver(sendCtx, c, r.held(1), ev)
			} else {
				batched = append(batched, ev)
			}
		}
		for chunk := range slices.Chunk(batched, min(r.cfg.SendBatch, r.cfg.Concurrency)) {
			r.sends.Add(1)
			c.ctxs.hold()
			go r.deliverBatch(sendCtx, bs, c, r.held(len(chunk)), chunk)
		}
		return len(events), limit, nil
	}
	// The events there are free slots for go at once, as if nothing were
	// claimed ahead; the others wait for slots (see takeSlots).
	for _, ev := range events {
		r.sends.Add(1)
		c.ctxs.hold()
		go r.deliver(sendCtx, c, r.held(1), ev)
	}
	return len(events), limit, nil
}

// held takes n send slots if they are free now, for the events of a claim
// that go at once; if they are not, it returns the zero slot, which holds
// none.
func (r *run) held(n int) slot {
	s, _ := r.slots.tryAcquire(n)
	return s
}

// claimedNow is the timing of a claim about to be asked for.
func (r *run) claimedNow() claimed {
	at := time.Now()
	return claimed{at: at, successes: r.evidence.successes.Load(), deadline: at.Add(sendLimit(r.cfg.Lease))}
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
		leasesExpired(r.cfg.Observer, n)
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
