package outbox

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// evidence is what a run knows for certain about what happened between two
// failures of an event: whether a delivery succeeded whose request went
// out after the first failure, and which events failed since the last
// success. What it holds against an event counts instead of reading
// clocks, so a clock that steps, or two stores' timestamps, cannot fake
// it; only deliveredLately, which can hold off a pause but never spends an
// attempt, reads this process's monotonic clock.
//
// Sends are numbered as they start. A success counts against an earlier
// failure only when its send started after the failure was seen: outcomes
// reach the run in whatever order their goroutines get there, so a
// request answered just before an outage began can be recorded after a
// failure in it, and must not make that failure look like the event's own.
type evidence struct {
	successes atomic.Uint64 // deliveries that succeeded
	started   atomic.Uint64 // sends started; each send's number
	// base is when the run began; lastAt is when the latest success was
	// recorded, as time since base, and usual how long a successful send
	// usually takes (a moving average), both for deliveredLately.
	base          time.Time
	lastAt, usual atomic.Int64

	mu sync.Mutex
	// newest is the number of the latest-started send that succeeded.
	newest uint64
	// marks holds what the run knows of each event whose last failure it
	// saw.
	marks map[uuid.UUID]mark
	// failing is the one event that failed since the last success, if
	// only one did; several is set once another did too. A success counts
	// here only when its send started after the latest failure
	// (lastFailure, the number of sends started by then): one sent before
	// it says nothing of whether the failures since were one event's.
	failing     uuid.UUID
	several     bool
	lastFailure uint64
}

// mark is a failure this run saw: how many sends had started by then, and
// the event's attempts and releases as claimed for the failed send. Until
// the event fails again, its attempts and releases, less its 409s
// (InProgress), come back one above that at each claim: a counted failure
// keeps its attempt or adds a release, and a release unsent gives back the
// claim's. Anything else means a failure came between that this run did
// not see (another processor's, or an operator's fresh start), and the
// store's evidence decides instead.
type mark struct {
	sends uint64
	tries int
}

// maxRemembered bounds the failures a run remembers; past it, it forgets
// them all and relies on the store's evidence alone.
const maxRemembered = 100_000

func newEvidence() *evidence { return &evidence{base: time.Now(), marks: make(map[uuid.UUID]mark)} }

// sending is c as a send that starts now has it: numbered, dated, and
// knowing how many deliveries had succeeded before it. Whether anything got
// through while its request was out is measured from here, not from the
// claim: an event may have waited for a slot, or others of its claim been
// sent and answered first.
func (e *evidence) sending(c claimed) claimed {
	c.successes, c.send, c.sentAt = e.successes.Load(), e.started.Add(1), time.Now()
	return c
}

// delivered counts a successful delivery of ev by the send c.
func (e *evidence) delivered(ev *Event, c claimed) {
	now := time.Since(e.base)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.successes.Add(1)
	e.newest = max(e.newest, c.send)
	e.lastAt.Store(int64(now))
	if !c.sentAt.IsZero() { // every send is dated by sending; guard the average anyway
		took, usual := int64(time.Since(c.sentAt)), e.usual.Load()
		if usual == 0 {
			usual = took
		}
		e.usual.Store(usual + (took-usual)/16)
	}
	delete(e.marks, ev.ID)
	if c.send > e.lastFailure {
		e.failing, e.several = uuid.Nil, false
	}
}

// deliveredSince reports whether a delivery succeeded after c's send
// started, whenever its own request went out: something gets through.
func (e *evidence) deliveredSince(c claimed) bool { return e.successes.Load() > c.successes }

// deliveredLately reports whether a delivery succeeded within twice the
// time a successful send usually takes. A refusal can come back far faster
// than a delivery (a 503 from a backend at capacity, while the sends it
// took are still being served): that nothing succeeded while such a
// request was out says nothing of whether anything gets through.
func (e *evidence) deliveredLately() bool {
	last := e.lastAt.Load()
	return last > 0 && time.Since(e.base)-time.Duration(last) < 2*time.Duration(e.usual.Load())
}

// against reports whether ev's failure is evidence against it, and notes
// the failure. It is, when the event failed before and another delivery
// sent since succeeded; or when its request was dropped again right after
// the backend answered a ping, and it is the only event that failed since
// the last delivery sent after the failures, dead ones included, here or,
// as the claim tells (Event.OthersDied), in another processor or run (a
// backend that drops every request is down, not poisoned, and the
// failures of other events show it). For failures this run saw it knows
// that exactly (see mark); for the others (seen by another processor, or
// an earlier run) it asks the store's dates.
func (e *evidence) against(ev *Event, c claimed, dropped bool) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.failing == uuid.Nil && !e.several:
		e.failing = ev.ID
	case e.failing != ev.ID:
		e.several = true
	}
	m, ok := e.marks[ev.ID]
	ok = ok && !ev.FailedAt.IsZero() && ev.Attempts+ev.Releases-ev.InProgress == m.tries+1
	var held bool
	switch {
	case ok:
		held = e.newest > m.sends || (dropped && c.answered && !e.several && !ev.OthersDied)
	default:
		// The earlier failure came before this send started.
		held = !ev.FailedAt.IsZero() && (ev.OthersDelivered || e.newest > c.send)
	}
	if len(e.marks) >= maxRemembered {
		clear(e.marks)
	}
	e.lastFailure = e.started.Load()
	e.marks[ev.ID] = mark{sends: e.lastFailure, tries: ev.Attempts + ev.Releases}
	return held
}

// forget drops what the run remembers of ev's failures: it is dead. It
// stays the event that failed since the last success, so the next event to
// fail before another delivery succeeds (its key's next event, say) is not
// alone: when the next event's requests are dropped too, the backend may
// drop every request, and the ping rule kills at most one event while
// nothing is delivered.
func (e *evidence) forget(ev *Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.marks, ev.ID)
}
