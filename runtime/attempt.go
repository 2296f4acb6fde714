package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// attempt is one delivery attempt's outcome and how long the send took.
type attempt struct {
	out  Outcome
	took time.Duration
}

// claimed is what the sends of one claim share.
type claimed struct {
	// at is the moment before the claim was asked for: the store stamped
	// the lease after it, so the lease lasts at least until at + Lease.
	at time.Time
	// successes is how many deliveries had succeeded by then; deliver
	// sets it again when the send starts, which is what "nothing got
	// through since" is measured from.
	successes uint64
	// send is the number of the send, once it starts (see evidence), and
	// sentAt when it started.
	send   uint64
	sentAt time.Time
	// othersOut is set when, as the send's answer came, other sends were
	// still out: any of them may yet show that deliveries get through.
	othersOut bool
	// deadline is when sends must end, with time left to record their
	// outcomes while the lease still holds.
	deadline time.Time
	// answered is set when the backend answered a ping just before the
	// send (see Pinger).
	answered bool
	// ctxs are the contexts the claim's sends share.
	ctxs *sendContexts
}

// sendContexts are the contexts the sends of one claim share, since their
// deadline is the same: one timer a claim rather than one or two an event
// (they were 7 % of a no-op drain's CPU). Each send holds a reference, and
// so does the claim while it starts them; the last to let go cancels them.
type sendContexts struct {
	// send is the processor's send context until the claim's send
	// deadline: a send runs under it.
	send context.Context
	// wait ends with send or when the processor begins to stop: an event
	// waiting for a send slot waits under it, and goes back unsent.
	wait   context.Context
	cancel func()
	refs   atomic.Int64
}

// newSendContexts makes the contexts of a claim's sends, held by the
// claim until it lets go.
func (r *run) newSendContexts(sendCtx context.Context, deadline time.Time) *sendContexts {
	send, cancelSend := context.WithDeadline(sendCtx, deadline)
	wait, cancelWait := context.WithCancel(send)
	stopWaiting := context.AfterFunc(r.stopping, cancelWait)
	sc := &sendContexts{send: send, wait: wait, cancel: func() {
		stopWaiting()
		cancelWait()
		cancelSend()
	}}
	sc.refs.Store(1)
	return sc
}

// hold takes a reference for a send about to start.
func (sc *sendContexts) hold() { sc.refs.Add(1) }

// release lets go of a reference; the last one cancels the contexts.
func (sc *sendContexts) release() {
	if sc.refs.Add(-1) == 0 {
		sc.cancel()
	}
}

// deliver makes one delivery attempt, once it has a send slot (held
// already when the claim found one free), and hands its outcome to the
// completer.
func (r *run) deliver(stop context.Context, c claimed, held slot, ev *Event) {
	defer r.sends.Done()
	defer c.ctxs.release()
	s, unsent, ok := r.takeSlots(stop, c, held, ev)
	if !ok {
		r.handOver(attempt{out: unsent})
		return
	}
	c = r.evidence.sending(c)
	// A send must end before its lease does, or the event could be claimed
	// again and delivered twice at once.
	ctx := c.ctxs.send
	c.answered = r.ping(ctx, ev)
	start := time.Now()
	receipt, err := r.sender.Send(ctx, ev)
	took := time.Since(start)
	r.sent(took)
	c.othersOut = r.slots.inUse() > s.n
	out := withStatus(r.outcome(stop, ctx, ev, c, receipt, err), err)
	// The next send may start while this outcome is recorded, and knows
	// of the pause this one may have begun.
	r.slots.done(s, took, capacitySignal(stop, ctx, err))
	r.handOver(attempt{out: out, took: took})
}

// takeSlots makes sure evs hold a send slot each: held is the slots the
// claim took, as it does for the events there were free slots for; the
// others, claimed ahead, have the zero slot, which holds none, and wait
// for slots here. When the processor stops or the send deadline passes
// first, or delivery paused while they waited (and none of evs is the
// pause's probe), it returns the outcome of the first event, released
// unsent with its attempt unspent, and no slot: ok is false, and the
// caller gives the other events the same fate.
func (r *run) takeSlots(stop context.Context, c claimed, held slot, evs ...*Event) (s slot, unsent Outcome, ok bool) {
	if held.n > 0 {
		if !time.Now().Before(c.deadline) {
			r.slots.release(held)
			return slot{}, r.tooLate(evs[0], c), false
		}
		return held, Outcome{}, true
	}
	ctx := c.ctxs.wait
	stopped := func() (slot, Outcome, bool) {
		r.pause.settled(evs[0])
		return slot{}, Outcome{Event: evs[0], Kind: Release, Error: "released unsent: the processor stopped before a send slot was free"}, false
	}
	s, err := r.slots.acquire(ctx, len(evs))
	if err != nil {
		if stop.Err() != nil || r.stopping.Err() != nil {
			return stopped()
		}
		return slot{}, r.tooLate(evs[0], c), false
	}
	switch {
	case r.stopping.Err() != nil:
		r.slots.release(s)
		return stopped()
	case time.Until(c.deadline) < r.minSendTime():
		r.slots.release(s)
		return slot{}, r.tooLate(evs[0], c), false
	}
	if wait, reason := r.pause.heldBack(evs...); wait > 0 {
		r.slots.release(s)
		r.dueAt(time.Now().Add(wait))
		// The pause's failure stays the event's last error: it is why the
		// event waits, and what an operator needs to fix.
		return slot{}, Outcome{Event: evs[0], Kind: Release, Delay: wait, Error: "released unsent while delivery is paused: " + reason}, false
	}
	return s, Outcome{}, true
}

// capacitySignal is what a send's result says about the backend's
// capacity, for the adaptive limit: err is the send's error, ctx its own
// context (bounded by the send deadline), stop the processor's.
func capacitySignal(stop, ctx context.Context, err error) signal {
	switch code := StatusCode(err); {
	case err == nil:
		return answered
	case stop.Err() != nil:
		return neutral
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout:
		return overloaded
	case ctx.Err() != nil:
		return overloaded // no answer before the deadline
	}
	if class, _ := Classify(err); class == Unanswered {
		return overloaded // no answer before the sender's own timeout, or a dropped connection
	}
	return neutral
}

// ping asks a Pinger sender whether the backend answers, before sending
// again an event whose last request went unanswered; see [Pinger].
func (r *run) ping(ctx context.Context, ev *Event) bool {
	p, ok := r.sender.(Pinger)
	if !ok || ev.FailedAt.IsZero() || ev.FailedClass != Unanswered {
		return false
	}
	return p.Ping(ctx, ev) == nil
}

// deliverBatch makes one delivery attempt of several events in one call
// and hands each event's outcome to the completer.
func (r *run) deliverBatch(stop context.Context, bs BatchSender, c claimed, held slot, evs []*Event) {
	defer r.sends.Done()
	defer c.ctxs.release()
	s, unsent, ok := r.takeSlots(stop, c, held, evs...)
	if !ok {
		for _, ev := range evs {
			out := unsent
			out.Event = ev
			r.handOver(attempt{out: out})
		}
		return
	}
	c = r.evidence.sending(c)
	start := time.Now()
	ctx := c.ctxs.send
	results, err := bs.SendBatch(ctx, evs)
	took := time.Since(start)
	r.sent(took)
	c.othersOut = r.slots.inUse() > s.n
	if err == nil && len(results) != len(evs) {
		err = TransientError(fmt.Errorf("outbox: the batch sender returned %d results for %d events", len(results), len(evs)), 0)
	}
	outs := make([]attempt, len(evs))
	// The request was answered unless it failed as a whole; one event
	// refused for capacity says the backend is full.
	sig := capacitySignal(stop, ctx, err)
	// The deliveries are weighed before the failures: the same request
	// shows that the backend takes events, and a refusal weighed first
	// would pause delivery for nothing.
	for _, delivered := range []bool{true, false} {
		for i, ev := range evs {
			receipt, sendErr := Receipt{}, err
			if err == nil {
				receipt, sendErr = results[i].Receipt, results[i].Err
			}
			if (sendErr == nil) != delivered {
				continue
			}
			if capacitySignal(stop, ctx, sendErr) == overloaded {
				sig = overloaded
			}
			outs[i] = attempt{out: withStatus(r.outcome(stop, ctx, ev, c, receipt, sendErr), sendErr), took: took}
		}
	}
	r.slots.done(s, took, sig)
	for _, a := range outs {
		r.handOver(a)
	}
}

// sendLimit is how long after the claim a send may go on: the lease, less
// a margin for recording the outcome while the lease still holds (a tenth
// of the lease, and at least 2 s or half of it).
func sendLimit(lease time.Duration) time.Duration {
	return lease - max(lease/10, min(lease/2, 2*time.Second))
}

// tooLate is the outcome of an event whose lease left too little time for
// its send when the send could start (a slow claim, a long pause of this
// process, a wait for a send slot): it is released unsent, since sending
// it could outlive its lease, or be cut off and count as unanswered.
func (r *run) tooLate(ev *Event, c claimed) Outcome {
	r.pause.settled(ev)
	r.log.Warn("outbox event released unsent: its lease left too little time to send it", "event_id", ev.ID, "event_type", ev.Type,
		"claimed_ago", time.Since(c.at).Round(time.Millisecond))
	return Outcome{Event: ev, Kind: Release, Error: "released unsent: its lease left too little time for a send"}
}

// outcome decides what a send's result means for the event; see
// "Evidence" in the Processor's documentation. stop is the processor's
// stop signal; ctx is the send's own, bounded by the send deadline.
func (r *run) outcome(stop, ctx context.Context, ev *Event, c claimed, receipt Receipt, err error) Outcome {
	if err == nil {
		return r.delivered(ev, c, receipt)
	}
	log := r.eventLog(ev)
	if stop.Err() != nil {
		r.pause.settled(ev)
		log.Warn("outbox delivery cancelled by stop; event released", "err", err)
		return Outcome{Event: ev, Kind: Release, Error: "processor stopped during delivery: " + err.Error()}
	}
	class, retryAfter := Classify(err)
	if ctx.Err() != nil {
		// Cut off by the send deadline: the request may have been
		// written, and no answer came.
		class, err = Unanswered, fmt.Errorf("no answer within the time the lease allows for a send (%s): %w", sendLimit(r.cfg.Lease), err)
	}
	if class == InProgress {
		if ev.InProgress < MaxInProgress {
			return r.inProgress(ev, err, retryAfter, log)
		}
		class = Transient
	}
	pausedFor := r.pauseUnlessDelivering(ev, c, class, err, retryAfter, log)
	held := class != Unavailable && r.evidence.against(ev, c, dropped(err))
	switch {
	case class == Unavailable:
		// The backend never saw the request: nothing to hold against the
		// event, whatever else is happening.
		delay := pausedFor
		if delay <= 0 {
			delay = r.backoff(ev.Type).Delay(ev.Attempts)
		}
		r.dueAt(time.Now().Add(delay))
		return Outcome{Event: ev, Kind: Release, Class: Unavailable, Delay: delay, Error: "backend unavailable: " + err.Error()}
	case !held:
		return r.givenBack(ev, class, err, retryAfter, pausedFor, log)
	case class == Permanent && ev.CountedClass == Permanent && ev.Attempts > 1:
		// A permanent answer kills once it repeats a permanent failure that
		// counted: three failures with other deliveries between them, the
		// last two permanent. One
		// held refusal could still be a deploy's edge, where the backend
		// started refusing everything just after the last delivery.
		log.Error("outbox event rejected again after other deliveries succeeded; it is dead", "err", err)
		r.evidence.forget(ev)
		return Outcome{Event: ev, Kind: Dead, Class: class, Error: "permanent: " + err.Error()}
	}
	return r.failed(ev, class, err, retryAfter, log)
}

// delivered is the outcome of a successful send; it ends a pause, whenever
// its request went out: an answer that came after the pause began shows
// the backend answers.
func (r *run) delivered(ev *Event, c claimed, receipt Receipt) Outcome {
	r.evidence.delivered(ev, c)
	if r.pause.reset() {
		r.eventLog(ev).Info("outbox delivery resumed: the backend took an event again")
		r.cfg.Observer.Resumed()
		r.stateChanged()
	}
	// Most outcomes are deliveries: their logger is made only when it logs
	// (it cost 2 % of a no-op drain's CPU).
	if r.log.Enabled(context.Background(), slog.LevelDebug) {
		r.eventLog(ev).Debug("outbox event delivered")
	}
	return Outcome{Event: ev, Kind: Delivered, Receipt: receipt}
}

// eventLog is the processor's logger with the attributes of ev's attempt.
func (r *run) eventLog(ev *Event) *slog.Logger {
	return r.log.With("event_id", ev.ID, "event_type", ev.Type, "attempt", ev.Attempts, "max_attempts", ev.MaxAttempts)
}

// inProgress is the outcome of a send the backend is still processing
// under an earlier request: tried again soon, no attempt spent, no pause.
func (r *run) inProgress(ev *Event, err error, retryAfter time.Duration, log *slog.Logger) Outcome {
	r.pause.settled(ev)
	delay := retryAfter
	if delay <= 0 {
		delay = r.cfg.UnavailableBackoff.Delay(ev.InProgress + 1)
	}
	log.Info("outbox backend is still processing an earlier delivery; will try again", "err", err, "retry_in", delay)
	r.dueAt(time.Now().Add(delay))
	return Outcome{Event: ev, Kind: Release, Reached: true, Class: InProgress, Delay: delay, Error: "in progress: " + err.Error()}
}

// pauseUnlessDelivering pauses delivery, or extends the pause, when a
// failure comes and no delivery succeeded while the event's request was
// out: nothing gets through. When other sends are still out, a delivery
// that succeeded lately counts too (see evidence.deliveredLately): a
// refusal can come back before any of the sends the backend did take is
// answered. It returns how long is left of the pause, or 0.
func (r *run) pauseUnlessDelivering(ev *Event, c claimed, class Class, err error, retryAfter time.Duration, log *slog.Logger) time.Duration {
	if r.evidence.deliveredSince(c) || (c.othersOut && r.evidence.deliveredLately()) {
		r.pause.settled(ev)
		return 0
	}
	pausedFor, started := r.pause.trip(time.Now(), ev, class, err.Error(), retryAfter)
	if started {
		r.slots.restart()
		log.Warn("outbox delivery paused: no delivery is getting through", "class", class, "err", err, "probe_in", pausedFor)
		r.cfg.Observer.Paused(pausedFor, err)
		r.stateChanged()
	}
	r.dueAt(time.Now().Add(pausedFor))
	return pausedFor
}

// givenBack is the outcome of a failure nothing yet holds against the
// event: its attempt is given back, the failure counted and dated. The
// event waits out the pause and then a wait of its own that grows with its
// releases, so that the probes of a pause go round the events that are due
// instead of trying one event again and again.
func (r *run) givenBack(ev *Event, class Class, err error, retryAfter, pausedFor time.Duration, log *slog.Logger) Outcome {
	delay := retryAfter
	if delay <= 0 {
		delay = r.backoff(ev.Type).Delay(ev.Attempts)
	}
	delay = max(delay, pausedFor+r.cfg.UnavailableBackoff.Delay(ev.Releases+1))
	// While paused, the pause's own log line says what is going on.
	level := slog.LevelWarn
	if pausedFor > 0 {
		level = slog.LevelDebug
	}
	log.Log(context.Background(), level, "outbox delivery failed; the attempt is given back until other deliveries show the backend works",
		"class", class, "err", err, "retry_in", delay)
	r.dueAt(time.Now().Add(delay))
	return Outcome{Event: ev, Kind: Release, Reached: true, Class: class, Delay: delay, Error: class.String() + ": " + err.Error()}
}

// failed is the outcome of a counted failed attempt: a retry, or death when
// the attempts are used up.
func (r *run) failed(ev *Event, class Class, err error, retryAfter time.Duration, log *slog.Logger) Outcome {
	if ev.Attempts >= ev.MaxAttempts {
		r.evidence.forget(ev)
		log.Error("outbox event failed its last attempt; it is dead", "class", class, "err", err)
		return Outcome{Event: ev, Kind: Dead, Class: class, Error: fmt.Sprintf("gave up after %d attempts: %s: %v", ev.Attempts, class, err)}
	}
	delay := retryAfter
	if delay <= 0 {
		delay = r.backoff(ev.Type).Delay(ev.Attempts)
	}
	log.Warn("outbox delivery failed; will retry", "class", class, "err", err, "retry_in", delay)
	r.dueAt(time.Now().Add(delay))
	return Outcome{Event: ev, Kind: Retry, Class: class, Delay: delay, Error: class.String() + ": " + err.Error()}
}

// backoff returns the retry schedule of an event type.
func (r *run) backoff(eventType string) Backoff {
	if b, ok := r.cfg.Backoffs[eventType]; ok {
		return b
	}
	return r.cfg.Backoff
}
