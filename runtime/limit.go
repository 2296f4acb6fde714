package outbox

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// limiter holds the send slots: it bounds the sends in flight with a limit
// that adapts to the backend, between 1 and Config.Concurrency (see
// "Adaptive concurrency" in the Processor's documentation). Slots go to
// waiting sends first come, first served; a batch takes one per event.
//
// The limit follows the backend the way TCP's congestion window follows a
// network (additive increase, multiplicative decrease): it doubles each
// round of sends until the backend first shows it is at capacity (slow
// start, from 16), then grows by one per round while the sends it allows are in
// use and answered as fast as usual (an eighth of that pace just past
// where the backend last refused); it shrinks by a fifth when the backend
// refuses for capacity (429, 503, 504) or does not answer in time, and by
// a tenth when the recent answers to single sends take twice as long as
// usual. It shrinks at most once per round: the refusals of sends started
// before it shrank say nothing new. A round is as many sends as the
// limit.
type limiter struct {
	ceiling float64
	fixed   bool

	mu      sync.Mutex
	limit   float64
	used    int
	waiters list.List // of *slotWaiter
	// threshold ends slow start: the limit doubles while below it. It is
	// the ceiling until the backend first shows its capacity.
	threshold float64
	// atCapacity is the limit the backend last showed it could not take;
	// near it the limit grows at an eighth of the pace, so that it seldom
	// knocks on the same wall.
	atCapacity float64
	// round counts the limit's decreases; a send remembers the round it
	// started in.
	round uint64
	// fulls counts the times the limit held a send back or was reached:
	// a send that saw it move was one of a limit in use.
	fulls uint64
	// fast and usual are moving averages of how long answered sends take:
	// of the latest few, and of the latest few hundred.
	fast, usual time.Duration
}

// slotWaiter is a send waiting for n slots.
type slotWaiter struct {
	n     int
	slot  slot          // set before ready is closed
	ready chan struct{} // closed when the slots are its
}

// slot is what a send holds while in flight: how many slots, and what the
// limiter needs to learn from its answer.
type slot struct {
	n     int
	round uint64
	// fulls is the limiter's count of times it was full before the send
	// took its slots. If it moved by the send's end, the limit was in
	// use, and an answer as fast as usual says it may grow; a limit
	// nobody reaches says nothing of the backend.
	fulls uint64
}

// signal is what a send's answer says about the backend's capacity.
type signal int

const (
	answered   signal = iota // an answer: the backend had room
	neutral                  // nothing about capacity (a refusal of the event, the backend unreachable)
	overloaded               // 429 or 503, or no answer in time
)

// Limits of the adaptive limit.
const (
	// decrease is what the limit keeps of itself when the backend refuses
	// for capacity, and slower what it keeps when answers slow down.
	decrease, slower = 0.8, 0.9
	// slowdown is how much longer than usual the latest answers must take
	// to count as a backend slowing under load; answers within
	// slowdownFloor of the usual never do (scheduling in this process
	// moves a send's time by that much).
	slowdown      = 2
	slowdownFloor = time.Millisecond
	// nearCapacity bounds, as a multiple of where the backend last refused,
	// the band where the limit grows at an eighth of the pace: past it, the
	// backend has grown (a deploy, an autoscale) and the limit goes on at
	// the full pace.
	nearCapacity = 1.25
)

// initialLimit is where the adaptive limit starts: the fixed default
// Concurrency of earlier releases, so that a backend sees no more at
// first than it did from them.
const initialLimit = 16

func newLimiter(ceiling int, fixed bool) *limiter {
	l := &limiter{ceiling: float64(ceiling), fixed: fixed, threshold: float64(ceiling)}
	l.limit = l.ceiling
	if !fixed {
		l.limit = min(l.ceiling, initialLimit)
	}
	return l
}

// current is the limit now, as a whole number of sends.
func (l *limiter) current() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit)
}

// inUse is how many slots are held: sends out, and sends about to start.
func (l *limiter) inUse() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.used
}

// fits reports whether n more slots may be taken now. A batch larger than
// the limit goes alone.
func (l *limiter) fits(n int) bool { return l.used+n <= int(l.limit) || l.used == 0 }

// take gives n slots to the caller.
func (l *limiter) take(n int) slot {
	s := slot{n: n, round: l.round, fulls: l.fulls}
	l.used += n
	if l.used >= int(l.limit) {
		l.fulls++
	}
	return s
}

// tryAcquire takes n slots if they are free and nobody waits for slots.
func (l *limiter) tryAcquire(n int) (slot, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.waiters.Len() > 0 || !l.fits(n) {
		l.fulls++
		return slot{}, false
	}
	return l.take(n), true
}

// acquire waits for n slots, first come first served, until ctx ends.
func (l *limiter) acquire(ctx context.Context, n int) (slot, error) {
	l.mu.Lock()
	if l.waiters.Len() == 0 && l.fits(n) {
		s := l.take(n)
		l.mu.Unlock()
		return s, nil
	}
	w := &slotWaiter{n: n, ready: make(chan struct{})}
	elem := l.waiters.PushBack(w)
	l.fulls++
	l.mu.Unlock()

	select {
	case <-w.ready:
		return w.slot, nil
	case <-ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		select {
		case <-w.ready:
			// The slots came as ctx ended: give them back.
			l.used -= n
		default:
			l.waiters.Remove(elem)
		}
		l.wake()
		return slot{}, ctx.Err()
	}
}

// wake hands free slots to the waiters at the head of the line.
func (l *limiter) wake() {
	for e := l.waiters.Front(); e != nil; e = l.waiters.Front() {
		w := e.Value.(*slotWaiter)
		if !l.fits(w.n) {
			return
		}
		w.slot = l.take(w.n)
		l.waiters.Remove(e)
		close(w.ready)
	}
}

// release gives s's slots back, unused: the event was not sent.
func (l *limiter) release(s slot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.used -= s.n
	l.wake()
}

// done gives s's slots back after a send that took took, and adapts the
// limit to what its answer says.
func (l *limiter) done(s slot, took time.Duration, sig signal) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.used -= s.n
	if !l.fixed {
		l.adapt(s, took, sig)
	}
	l.wake()
}

func (l *limiter) adapt(s slot, took time.Duration, sig signal) {
	switch sig {
	case overloaded:
		l.shrink(s, decrease, true)
		return
	case neutral:
		return
	}
	inUse := l.fulls != s.fulls
	if s.n == 1 && l.slowerThanUsual(took) && inUse {
		l.shrink(s, slower, false)
		return
	}
	if !inUse {
		return
	}
	n := min(float64(s.n), l.limit) // a batch larger than the limit counts as a round
	switch {
	case l.limit < l.threshold:
		l.limit = min(l.limit+n, l.threshold)
	case l.atCapacity > 0 && l.limit+1 > l.atCapacity && l.limit < nearCapacity*l.atCapacity:
		l.limit += n / (8 * l.limit)
	default:
		l.limit += n / l.limit
	}
	l.limit = min(l.limit, l.ceiling)
}

// slowerThanUsual adds a send's time to the averages and reports whether
// the latest answers take twice as long as usual. Only sends of one event
// count (a batch takes longer for its size, not for the backend's load),
// and no answer counts for more than four times the usual, so that one
// slow answer of a healthy backend (or a pause of this process) cannot
// shrink the limit by itself.
func (l *limiter) slowerThanUsual(took time.Duration) bool {
	if l.usual == 0 {
		l.fast, l.usual = took, took
	}
	l.fast += (min(took, 4*l.usual) - l.fast) / 8
	l.usual += (took - l.usual) / 256
	return l.fast > slowdown*l.usual && l.fast-l.usual > slowdownFloor
}

// shrink keeps keep of the limit, once per round; full says the backend
// refused for capacity, which ends slow start and marks where. A limit of
// one send has nothing to learn from: while delivery is paused, that send
// is the probe, and its refusal says the backend is down, not how much it
// takes.
func (l *limiter) shrink(s slot, keep float64, full bool) {
	if s.round != l.round || l.limit <= 1 {
		return
	}
	if full {
		l.atCapacity = l.limit
	}
	l.limit = max(1, l.limit*keep)
	l.threshold = l.limit
	l.round++
}

// restart drops the limit to one send when delivery pauses: the backend
// is down, and the sends that resume delivery must not meet it, as it
// recovers, with the whole backlog at once. The limit grows again from
// the first delivery, doubling each round up to half the limit the
// backend last showed it could not take (or up to the ceiling), then a
// send per round.
func (l *limiter) restart() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fixed {
		return
	}
	l.limit, l.threshold = 1, l.ceiling
	if l.atCapacity > 0 {
		l.threshold = max(1, l.atCapacity/2)
	}
	l.round++
	l.fast, l.usual = 0, 0
}
