package outbox

import (
	"math"
	"math/rand/v2"
	"time"
)

// Backoff spaces out retries: the n-th consecutive failure waits
// Base·2^(n-1), capped at Max, spread by ±Jitter so that events that failed
// together do not retry together.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
	// Jitter is the fraction of the delay to randomise, from 0 to 1.
	Jitter float64
}

// DefaultBackoff is the seed's schedule (30 s, 1 m, 2 m, 4 m, 8 m … capped
// at 1 h) with ±20% jitter.
func DefaultBackoff() Backoff {
	return Backoff{Base: 30 * time.Second, Max: time.Hour, Jitter: 0.2}
}

// Delay returns the wait after the n-th consecutive failure (n ≥ 1).
func (b Backoff) Delay(n int) time.Duration {
	return b.delay(n, rand.Float64)
}

func (b Backoff) delay(n int, random func() float64) time.Duration {
	if n < 1 {
		n = 1
	}
	d := b.Base
	for i := 1; i < n && (b.Max <= 0 || d < b.Max); i++ {
		if d > math.MaxInt64/2 {
			break // doubling again would overflow
		}
		d *= 2
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	if b.Jitter > 0 {
		spread := float64(d) * b.Jitter
		d += time.Duration(spread * (2*random() - 1))
	}
	if d < 0 {
		d = 0
	}
	return d
}

func (b Backoff) orDefault(def Backoff) Backoff {
	if b == (Backoff{}) {
		return def
	}
	if b.Base <= 0 {
		b.Base = def.Base
	}
	if b.Max <= 0 {
		b.Max = def.Max
	}
	if b.Max < b.Base {
		b.Max = b.Base
	}
	if b.Jitter < 0 {
		b.Jitter = 0
	} else if b.Jitter > 1 {
		b.Jitter = 1
	}
	return b
}
