package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

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

// deliverBatch makes one delivery attempt of several events in one call
// and hands each event's outcome to the completer.
func (r *run) deliverBatch(stop context.Context, bs BatchSender, evs []*Event) {
	defer r.sends.Done()
	ctx, cancel := context.WithTimeout(stop, r.sendLimit())
	defer cancel()
	start := time.Now()
	results, err := bs.SendBatch(ctx, evs)
	took := time.Since(start)
	if err == nil && len(results) != len(evs) {
		err = TransientError(fmt.Errorf("outbox: the batch sender returned %d results for %d events", len(results), len(evs)), 0)
	}
	for i, ev := range evs {
		receipt, sendErr := Receipt{}, err
		if err == nil {
			receipt, sendErr = results[i].Receipt, results[i].Err
		}
		r.results <- attempt{out: r.outcome(stop, ctx, ev, start, receipt, sendErr), took: took}
	}
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

// backoff returns the retry schedule of an event type.
func (r *run) backoff(eventType string) Backoff {
	if b, ok := r.cfg.Backoffs[eventType]; ok {
		return b
	}
	return r.cfg.Backoff
}
