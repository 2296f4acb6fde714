package outbox

import (
	"sync"
	"time"
)

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
