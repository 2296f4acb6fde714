package outbox

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

// pause is the processor-wide stop on delivery while nothing gets
// through: failures arrive and no delivery succeeded while their
// requests were out (see run.pauseUnlessDelivering). While paused the
// processor sends one event at a time (a probe), each after a wait that
// grows with every failed probe; the first delivery that succeeds ends
// the pause.
type pause struct {
	backoff Backoff
	mu      sync.Mutex
	until   time.Time // no claims before this
	streak  int       // failures since the pause began
	since   time.Time // when the pause began; zero when delivery flows
	reason  string    // the failure that began it
	class   Class     // its class
	probing bool      // a probe is claimed or in flight
	probe   uuid.UUID // the probe's event, once claimed
}

// trip records a failure while nothing gets through. It starts a pause
// (started is true) or, when the pause's wait is over, extends it with
// the next, longer wait; atLeast is the backend's Retry-After, if any. It
// returns how long is left of the pause.
func (p *pause) trip(now time.Time, ev *Event, class Class, reason string, atLeast time.Duration) (left time.Duration, started bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.settle(ev)
	if now.Before(p.until) {
		return p.until.Sub(now), false
	}
	started = p.since.IsZero()
	if started {
		p.since, p.reason, p.class = now, reason, class
	}
	p.streak++
	d := max(p.backoff.Delay(p.streak), atLeast)
	p.until = now.Add(d)
	return d, started
}

// reset ends the pause after a successful delivery; it reports whether
// there was one to end.
func (p *pause) reset() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	was := !p.since.IsZero()
	p.until, p.streak, p.since, p.reason, p.class, p.probing, p.probe = time.Time{}, 0, time.Time{}, "", Transient, false, uuid.Nil
	return was
}

// settled notes that an outcome that neither trips nor resets the pause
// came in: if it was the probe's, another may go.
func (p *pause) settled(ev *Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.settle(ev)
}

func (p *pause) settle(ev *Event) {
	if p.probing && ev.ID == p.probe {
		p.probing, p.probe = false, uuid.Nil
	}
}

// claimed tells the pause what a probe's claim brought: the probe's event,
// or nothing (no event was due, or the claim failed), so another may go.
func (p *pause) claimed(evs []*Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.probing || p.probe != uuid.Nil {
		return
	}
	if len(evs) == 0 {
		p.probing = false
		return
	}
	p.probe = evs[0].ID
}

// heldBack decides, for events claimed before delivery paused that now
// have a send slot, whether they may go: events wait the pause out unsent
// rather than knock on a backend that takes nothing. It returns how long
// they wait, or zero when they may go: delivery flows, one of them is the
// probe, or the pause's wait is over and no probe is out (then the one
// event becomes the probe). With a wait comes the failure that began the
// pause, which the held events record as the reason they wait.
func (p *pause) heldBack(evs ...*Event) (wait time.Duration, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.since.IsZero() {
		return 0, ""
	}
	for _, ev := range evs {
		if ev.ID == p.probe {
			return 0, ""
		}
	}
	if left := time.Until(p.until); left > 0 {
		return left, p.reason
	}
	if !p.probing && len(evs) == 1 {
		p.probing, p.probe = true, evs[0].ID
		return 0, ""
	}
	return p.backoff.Delay(max(p.streak, 1)), p.reason
}

// remaining is how long until events may be claimed again.
func (p *pause) remaining(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.until.Sub(now)
}

// limit bounds a claim of up to want events: all of them while delivery
// flows; while paused, one probe at a time, until its outcome comes.
func (p *pause) limit(want int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.since.IsZero():
		return want
	case p.probing || want == 0:
		return 0
	}
	p.probing = true
	return 1
}

// state is the pause as the processor reports it.
func (p *pause) state() (since time.Time, class Class, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.since, p.class, p.reason
}
