package outbox

import (
	"math"
	"testing"
	"time"
)

func TestBackoffFollowsTheSeedSchedule(t *testing.T) {
	b := DefaultBackoff()
	b.Jitter = 0
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
	for i, w := range want {
		if got := b.Delay(i + 1); got != w {
			t.Errorf("delay after failure %d = %s, want %s", i+1, got, w)
		}
	}
	if got := b.Delay(1000); got != time.Hour {
		t.Errorf("delay after 1000 failures = %s, want the 1 h cap", got)
	}
}

func TestBackoffJitterStaysInBounds(t *testing.T) {
	b := Backoff{Base: time.Second, Max: time.Minute, Jitter: 0.2}
	for _, r := range []float64{0, 0.5, 0.999} {
		got := b.delay(1, func() float64 { return r })
		if got < 800*time.Millisecond || got > 1200*time.Millisecond {
			t.Errorf("jittered delay %s with random %v is outside ±20%% of 1 s", got, r)
		}
	}
	if lo, hi := b.delay(1, func() float64 { return 0 }), b.delay(1, func() float64 { return 0.999 }); lo == hi {
		t.Errorf("jitter does not spread delays: %s both", lo)
	}
}

func TestBackoffDefaults(t *testing.T) {
	if got := (Backoff{}).orDefault(DefaultBackoff()); got != DefaultBackoff() {
		t.Errorf("zero backoff became %+v, want the default", got)
	}
	got := Backoff{Base: time.Minute, Max: time.Second, Jitter: 3}.orDefault(DefaultBackoff())
	if got.Max != time.Minute || got.Jitter != 1 {
		t.Errorf("inconsistent backoff became %+v; want max raised to base and jitter capped at 1", got)
	}
}

func TestBackoffNeverOverflows(t *testing.T) {
	for _, b := range []Backoff{{Base: time.Hour}, {Base: time.Second, Max: time.Duration(math.MaxInt64)}} {
		if got := b.Delay(200); got <= 0 {
			t.Errorf("%+v after 200 failures: %s", b, got)
		}
	}
}
