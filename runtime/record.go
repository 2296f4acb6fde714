package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// complete records outcomes as they arrive, batching whatever is waiting
// into one store transaction.
func (r *run) complete(ctx context.Context) {
	var held []attempt
	for {
		batch := held
		if len(batch) == 0 {
			a, ok := <-r.results
			if !ok {
				return
			}
			batch = append(batch, a)
		}
	drain:
		for len(batch) < r.capacity() {
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
		batch, held = oncePerEvent(batch)
		outs := make([]Outcome, len(batch))
		took := make(map[uuid.UUID]time.Duration, len(batch))
		for i, a := range batch {
			outs[i] = a.out
			took[a.out.Event.ID] = a.took
		}
		recorded := r.finish(ctx, outs)
		// No longer in flight before the Observer hears of it: State read
		// from an Observer's callback, or after it, counts the batch gone.
		r.recording.Add(-int64(len(batch)))
		r.inflight.Add(-int64(len(batch)))
		r.wake()
		for _, o := range recorded {
			r.cfg.Observer.Recorded(o, took[o.Event.ID])
		}
	}
}

// handOver gives an outcome to the completer. The event no longer holds
// room for sending: if the loop waits for that room, it may claim again.
func (r *run) handOver(a attempt) {
	r.recording.Add(1)
	r.results <- a
	if r.wakeWanted.Load() && r.sendingNow() <= r.wakeAt.Load() && r.wakeWanted.CompareAndSwap(true, false) {
		r.wake()
	}
}

// wakeOnSends asks handOver to wake the loop once no more than at events
// are being sent or waiting for a slot: the loop found no room to claim,
// and a record, which wakes it too, may not come soon (the completer may
// be waiting for the store). If the sends are already down to at, it
// wakes the loop at once.
func (r *run) wakeOnSends(at int) {
	r.wakeAt.Store(int64(at))
	r.wakeWanted.Store(true)
	if r.sendingNow() <= int64(at) && r.wakeWanted.CompareAndSwap(true, false) {
		r.wake()
	}
}

// sendingNow is how many claimed events are being sent or waiting for a
// slot.
func (r *run) sendingNow() int64 { return r.inflight.Load() - r.recording.Load() }

// wake tells the loop that it may have room to claim.
func (r *run) wake() {
	select {
	case r.freed <- struct{}{}:
	default:
	}
}

// oncePerEvent splits a batch into the first outcome of each event and the
// rest, held for the next batch. An event has two outcomes when its lease
// expired during a send and it came back under a new lease: a store tells
// what it recorded by event id, so the two must go in separate calls, and
// the stale one then fails its fencing alone.
func oncePerEvent(batch []attempt) (first, held []attempt) {
	seen := make(map[uuid.UUID]bool, len(batch))
	first = make([]attempt, 0, len(batch))
	for _, a := range batch {
		if seen[a.out.Event.ID] {
			held = append(held, a)
			continue
		}
		seen[a.out.Event.ID] = true
		first = append(first, a)
	}
	return first, held
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
	recorded = make([]Outcome, 0, len(batch))
	for failures := 0; len(batch) > 0; {
		callCtx, cancel := context.WithTimeout(ctx, storeCallTimeout)
		res, err := r.store.Finish(callCtx, batch)
		cancel()
		// What was committed counts, even when Finish then failed: it must
		// neither be recorded again nor be missing from the Observer.
		done := make(map[uuid.UUID]bool, len(res.Recorded))
		for _, id := range res.Recorded {
			done[id] = true
		}
		var rest []Outcome
		for _, o := range batch {
			if done[o.Event.ID] {
				recorded = append(recorded, o)
			} else {
				rest = append(rest, o)
			}
		}
		if err != nil {
			batch = rest
			failures++
			switch {
			case len(batch) == 0:
				return recorded
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
		for _, id := range res.Lost {
			r.log.Warn("outbox lease lost before the outcome was recorded; the new lease holder decides", "event_id", id)
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
		next = append(next, r.failed(ev, Transient, fmt.Errorf("delivered, but the delivered hook failed: %w", err), 0, log))
	}
	return next
}
