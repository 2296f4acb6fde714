package outbox

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// round sends as many events as the limit allows, all answered after took
// with sig, and returns the limit after them.
func (l *limiter) roundOf(t *testing.T, took time.Duration, sig signal) int {
	t.Helper()
	var held []slot
	for {
		s, ok := l.tryAcquire(1)
		if !ok {
			break
		}
		held = append(held, s)
	}
	if len(held) == 0 {
		t.Fatal("no slot was free at the start of a round")
	}
	for _, s := range held {
		l.done(s, took, sig)
	}
	return l.current()
}

// wantRounds runs answered rounds and fails unless the limit after each
// is the next of want.
func (l *limiter) wantRounds(t *testing.T, when string, want ...int) {
	t.Helper()
	got := make([]int, len(want))
	for i := range want {
		got[i] = l.roundOf(t, time.Millisecond, answered)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("limits %s = %v, want %v", when, got, want)
	}
}

func TestLimitDoublesEachRoundUntilTheCeiling(t *testing.T) {
	l := newLimiter(64, false)
	if got := l.current(); got != initialLimit {
		t.Fatalf("limit at the start = %d, want %d", got, initialLimit)
	}
	l.restart() // from 1, as after a pause
	l.wantRounds(t, "after each round", 2, 4, 8, 16, 32, 64, 64, 64)
}

func TestFixedLimitStaysAtConcurrency(t *testing.T) {
	l := newLimiter(32, true)
	if got := l.current(); got != 32 {
		t.Fatalf("fixed limit = %d, want 32", got)
	}
	if got := l.roundOf(t, time.Millisecond, overloaded); got != 32 {
		t.Fatalf("fixed limit after refusals = %d, want 32", got)
	}
	l.restart()
	if got := l.current(); got != 32 {
		t.Fatalf("fixed limit after a pause = %d, want 32", got)
	}
}

func TestRefusalsShrinkTheLimitOncePerRound(t *testing.T) {
	l := newLimiter(100, false)
	for l.current() < 64 {
		l.roundOf(t, time.Millisecond, answered)
	}
	// A whole round refused: one decrease, by a fifth.
	if got := l.roundOf(t, time.Millisecond, overloaded); got != 51 {
		t.Fatalf("limit after a refused round from 64 = %d, want 51", got)
	}
	// Slow start is over: the limit grows by one per round.
	if got := l.roundOf(t, time.Millisecond, answered); got != 52 {
		t.Fatalf("limit after an answered round from 51 = %d, want 52", got)
	}
}

func TestLimitGrowsSlowerNearWhereTheBackendWasFull(t *testing.T) {
	l := newLimiter(100, false)
	for l.current() < 16 {
		l.roundOf(t, time.Millisecond, answered)
	}
	l.roundOf(t, time.Millisecond, overloaded) // full at 16: 12.8
	rounds := 0
	for l.current() < 17 {
		l.roundOf(t, time.Millisecond, answered)
		rounds++
	}
	// 12.8 → 15.0 at a send per round (3 rounds), then an eighth of a
	// send per round past 15: 16 more (17 in all leaves room for rounding).
	if rounds < 17 {
		t.Fatalf("the limit passed where the backend was full after %d rounds, want at least 17", rounds)
	}
}

func TestIdleSlotsDoNotGrowTheLimit(t *testing.T) {
	l := newLimiter(64, false)
	l.restart()
	for l.current() < 8 {
		l.roundOf(t, time.Millisecond, answered)
	}
	for range 100 {
		s, ok := l.tryAcquire(1)
		if !ok {
			t.Fatal("no slot free")
		}
		l.done(s, time.Millisecond, answered)
	}
	if got := l.current(); got != 8 {
		t.Fatalf("limit after 100 sends one at a time = %d, want 8: a limit that is not in use says nothing of the backend", got)
	}
}

func TestSlowerAnswersShrinkTheLimit(t *testing.T) {
	l := newLimiter(64, false)
	for range 40 {
		l.roundOf(t, 5*time.Millisecond, answered)
	}
	if got := l.current(); got != 64 {
		t.Fatalf("limit = %d, want 64", got)
	}
	if got := l.roundOf(t, 20*time.Millisecond, answered); got != 57 {
		t.Fatalf("limit after answers 4× slower than usual = %d, want 57", got)
	}
	// Sub-millisecond answers that double are scheduling noise.
	l = newLimiter(64, false)
	for range 40 {
		l.roundOf(t, 100*time.Microsecond, answered)
	}
	if got := l.roundOf(t, 400*time.Microsecond, answered); got != 64 {
		t.Fatalf("limit after answers going from 0.1 to 0.4 ms = %d, want 64", got)
	}
}

func TestPauseRestartsTheLimitBelowWhereTheBackendWasFull(t *testing.T) {
	l := newLimiter(256, false)
	for l.current() < 64 {
		l.roundOf(t, time.Millisecond, answered)
	}
	for l.current() < 128 {
		l.roundOf(t, time.Millisecond, answered)
	}
	l.roundOf(t, time.Millisecond, overloaded) // full at 128
	l.restart()
	if got := l.current(); got != 1 {
		t.Fatalf("limit after a pause = %d, want 1", got)
	}
	// Doubling up to half of 128, then a send per round (a little less:
	// the limit grows while the round goes).
	l.wantRounds(t, "after a pause", 2, 4, 8, 16, 32, 64, 64, 65)
}

func TestARefusedProbeKeepsWhatTheLimitLearned(t *testing.T) {
	l := newLimiter(256, false)
	for l.current() < 128 {
		l.roundOf(t, time.Millisecond, answered)
	}
	l.roundOf(t, time.Millisecond, overloaded) // full at 128
	l.restart()
	// The pause's probes are refused while the backend is down.
	for range 3 {
		if got := l.roundOf(t, time.Millisecond, overloaded); got != 1 {
			t.Fatalf("limit after a refused probe = %d, want 1", got)
		}
	}
	// Refused probes must not pass for the backend's capacity.
	l.wantRounds(t, "after refused probes", 2, 4, 8, 16, 32, 64)
}

func TestLimitGrowsAtFullPacePastWhereTheBackendWasFull(t *testing.T) {
	l := newLimiter(1000, false)
	for l.current() < 64 {
		l.roundOf(t, time.Millisecond, answered)
	}
	l.roundOf(t, time.Millisecond, overloaded) // full at 64: 51.2
	rounds := 0
	for l.current() < 100 {
		l.roundOf(t, time.Millisecond, answered)
		rounds++
		if rounds > 200 {
			t.Fatalf("limit %d after 200 rounds: past 1.25 × where the backend was full, it must grow a send per round", l.current())
		}
	}
}

func TestOneSlowAnswerDoesNotShrinkTheLimit(t *testing.T) {
	l := newLimiter(64, false)
	for range 40 {
		l.roundOf(t, 10*time.Millisecond, answered)
	}
	// One answer of 200 ms in a round of 10 ms ones: a healthy backend's
	// tail, or a pause of this process.
	var held []slot
	for {
		s, ok := l.tryAcquire(1)
		if !ok {
			break
		}
		held = append(held, s)
	}
	l.done(held[0], 200*time.Millisecond, answered)
	for _, s := range held[1:] {
		l.done(s, 10*time.Millisecond, answered)
	}
	if got := l.current(); got != 64 {
		t.Fatalf("limit after one slow answer = %d, want 64", got)
	}
	// Batches take longer for their size; they are not timed.
	for range 20 {
		s, err := l.acquire(context.Background(), 50)
		if err != nil {
			t.Fatal(err)
		}
		l.done(s, 500*time.Millisecond, answered)
	}
	if got := l.current(); got != 64 {
		t.Fatalf("limit after slow batches = %d, want 64", got)
	}
}

func TestSlotsGoFirstComeFirstServed(t *testing.T) {
	l := newLimiter(2, true)
	a, _ := l.tryAcquire(1)
	b, _ := l.tryAcquire(1)
	if _, ok := l.tryAcquire(1); ok {
		t.Fatal("a third slot was free with a limit of 2")
	}
	order := make(chan int, 2)
	big := make(chan struct{})
	go func() {
		s, err := l.acquire(context.Background(), 2)
		if err != nil {
			t.Error(err)
		}
		order <- 2
		close(big)
		l.release(s)
	}()
	waitForWaiters(t, l, 1)
	go func() {
		s, err := l.acquire(context.Background(), 1)
		if err != nil {
			t.Error(err)
		}
		order <- 1
		l.release(s)
	}()
	waitForWaiters(t, l, 2)
	// One slot frees: the batch of 2 at the head still waits, and so does
	// the single send behind it.
	l.release(a)
	if _, ok := l.tryAcquire(1); ok {
		t.Fatal("tryAcquire jumped the line")
	}
	l.release(b)
	<-big
	if first, second := <-order, <-order; first != 2 || second != 1 {
		t.Fatalf("slots went to %d then %d, want the batch of 2 first", first, second)
	}
}

func TestABatchLargerThanTheLimitGoesAlone(t *testing.T) {
	l := newLimiter(64, false)
	l.restart() // limit 1
	s, err := l.acquire(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.tryAcquire(1); ok {
		t.Fatal("a send started beside a batch that exceeds the limit")
	}
	l.done(s, time.Millisecond, answered)
	if got := l.current(); got != 2 {
		t.Fatalf("limit after a batch of 10 answered = %d, want 2: a batch larger than the limit is one round, and the limit doubles", got)
	}
}

func TestAWaitThatEndsGivesItsPlaceBack(t *testing.T) {
	l := newLimiter(1, true)
	a, _ := l.tryAcquire(1)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := l.acquire(ctx, 1)
		errc <- err
	}()
	waitForWaiters(t, l, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire after its context ended = %v, want context.Canceled", err)
	}
	l.release(a)
	if _, ok := l.tryAcquire(1); !ok {
		t.Fatal("the slot was not free after the only waiter left")
	}
}

// waitForWaiters waits until n sends wait for slots.
func waitForWaiters(t *testing.T, l *limiter, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		got := l.waiters.Len()
		l.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sends wait for slots, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}
