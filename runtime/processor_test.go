package outbox_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/outboxgen/outboxgen/internal/pgtest"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testStore is a store under test with its driver-specific operations.
type testStore struct {
	outbox.Store
	enqueue     func(t *testing.T, events ...outbox.Event) []outbox.Event
	onDelivered func(eventType string, fn func(outbox.Delivery) error)
}

// eachStore runs test against a fresh SQLite file and a fresh PostgreSQL database.
func eachStore(t *testing.T, test func(t *testing.T, s testStore)) {
	t.Run("sqlite", func(t *testing.T) {
		s := outboxtest.NewSQLiteStore(t)
		test(t, testStore{
			Store:   s,
			enqueue: func(t *testing.T, evs ...outbox.Event) []outbox.Event { return outboxtest.EnqueueSQLite(t, s, evs...) },
			onDelivered: func(typ string, fn func(outbox.Delivery) error) {
				s.OnDelivered(typ, func(_ context.Context, _ *sql.Tx, d outbox.Delivery) error { return fn(d) })
			},
		})
	})
	t.Run("postgres", func(t *testing.T) {
		s := outboxtest.NewPostgresStore(t, pgtest.NewDatabase(t))
		test(t, testStore{
			Store: s,
			enqueue: func(t *testing.T, evs ...outbox.Event) []outbox.Event {
				return outboxtest.EnqueuePostgres(t, s, evs...)
			},
			onDelivered: func(typ string, fn func(outbox.Delivery) error) {
				s.OnDelivered(typ, func(_ context.Context, _ pgx.Tx, d outbox.Delivery) error { return fn(d) })
			},
		})
	})
}

// fast is a configuration that retries in milliseconds and logs to t.
func fast(t *testing.T) outbox.Config {
	return outbox.Config{
		Logger:             slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Concurrency:        8,
		BatchSize:          16,
		Lease:              5 * time.Second,
		PollInterval:       20 * time.Millisecond,
		Backoff:            outbox.Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond},
		UnavailableBackoff: outbox.Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond},
		StopTimeout:        time.Second,
	}
}

// testWriter sends log lines to the test's log, shown when it fails.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// newProcessor returns a processor, failing t if NewProcessor refuses.
func newProcessor(t *testing.T, s outbox.Store, sender outbox.Sender, cfg outbox.Config) *outbox.Processor {
	t.Helper()
	p, err := outbox.NewProcessor(s, sender, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// start runs a processor until the test ends, then stops it and checks it
// stopped cleanly.
func start(t *testing.T, s outbox.Store, sender outbox.Sender, cfg outbox.Config) *recorder {
	t.Helper()
	_, rec := startProcessor(t, s, sender, cfg)
	return rec
}

// startProcessor is start, also returning the processor, for its State.
func startProcessor(t *testing.T, s outbox.Store, sender outbox.Sender, cfg outbox.Config) (*outbox.Processor, *recorder) {
	t.Helper()
	rec := newRecorder()
	p, _ := startObserved(t, s, sender, cfg, rec)
	return p, rec
}

// startObserved is start with the recorder given, which processors may
// share. stop stops the processor and waits for it, as a restart does; the
// test's end does too, if it has not.
func startObserved(t *testing.T, s outbox.Store, sender outbox.Sender, cfg outbox.Config, rec *recorder) (p *outbox.Processor, stop func()) {
	t.Helper()
	cfg.Observer = rec
	p = newProcessor(t, s, sender, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("processor: %v", err)
		}
	})
	t.Cleanup(stop)
	return p, stop
}

// recorder is an Observer that lets tests wait for outcomes.
type recorder struct {
	mu       sync.Mutex
	outcomes []outbox.Outcome
	paused   int
	resumed  int
	changed  chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) Recorded(o outbox.Outcome, _ time.Duration) {
	r.mu.Lock()
	r.outcomes = append(r.outcomes, o)
	r.mu.Unlock()
	r.signal()
}

func (r *recorder) Paused(time.Duration, error) {
	r.mu.Lock()
	r.paused++
	r.mu.Unlock()
}

func (r *recorder) Resumed() {
	r.mu.Lock()
	r.resumed++
	r.mu.Unlock()
}

func (r *recorder) signal() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// count returns how many recorded outcomes are of kind.
func (r *recorder) count(kind outbox.OutcomeKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, o := range r.outcomes {
		if o.Kind == kind {
			n++
		}
	}
	return n
}

// releasesOf returns how many times the event id was released.
func (r *recorder) releasesOf(id uuid.UUID) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, o := range r.outcomes {
		if o.Kind == outbox.Release && o.Event.ID == id {
			n++
		}
	}
	return n
}

// waitFor waits until n outcomes of kind have been recorded.
func (r *recorder) waitFor(t *testing.T, kind outbox.OutcomeKind, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for r.count(kind) < n {
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatalf("after %s: %d %s outcomes recorded, want %d", timeout, r.count(kind), kind, n)
		}
	}
}

// waitUntil waits until cond holds, looking again at each recorded outcome.
func (r *recorder) waitUntil(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatalf("condition not met after %s", timeout)
		}
	}
}

func event(key string, version int) outbox.Event {
	return outbox.Event{
		Type:          "weight.updated",
		Aggregate:     "weight",
		AggregateID:   key,
		UserID:        "user-1",
		EntityVersion: int64(version),
		Payload:       json.RawMessage(fmt.Sprintf(`{"version":%d}`, version)),
	}
}

func TestProcessorDeliversEachKeyInOrder(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		const keys, versions = 20, 8
		for v := 1; v <= versions; v++ {
			var batch []outbox.Event
			for k := 0; k < keys; k++ {
				batch = append(batch, event(fmt.Sprintf("k%02d", k), v))
			}
			batch = append(batch, event("poison", v))
			s.enqueue(t, batch...)
		}
		sender := &outboxtest.Sender{}
		// The poison key's first event is rejected for good (twice, the
		// second time after other deliveries succeeded: then it is dead);
		// the rest of that key and every other key must still be delivered.
		sender.FailWhen(func(ev *outbox.Event) error {
			if ev.AggregateID == "poison" && ev.EntityVersion == 1 {
				return outbox.PermanentError(errors.New("422 Unprocessable Entity"))
			}
			return nil
		})
		rec := start(t, s, sender, fast(t))
		rec.waitFor(t, outbox.Delivered, (keys+1)*versions-1, 30*time.Second)
		rec.waitFor(t, outbox.Dead, 1, 10*time.Second)

		got := map[string][]int64{}
		for _, ev := range sender.Delivered() {
			got[ev.AggregateID] = append(got[ev.AggregateID], ev.EntityVersion)
		}
		for key, vs := range got {
			first := int64(1)
			if key == "poison" {
				first = 2
			}
			for i, v := range vs {
				if v != first+int64(i) {
					t.Fatalf("key %s delivered versions %v; want each once, in order", key, vs)
				}
			}
		}
		st, err := s.Stats(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st.Counts[outbox.StatusDead] != 1 || st.Counts[outbox.StatusCompleted] != int64((keys+1)*versions-1) {
			t.Fatalf("final counts %v", st.Counts)
		}
	})
}

// A processor that claimed an event and died (its lease is never
// completed): the event is delivered by another once the lease expires.
func TestProcessorRedeliversAfterLeaseExpiry(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		ev := s.enqueue(t, event("w1", 1))[0]
		claimed, err := s.Claim(t.Context(), "crashed", 10, 300*time.Millisecond)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim = %d events, %v", len(claimed), err)
		}
		sender := &outboxtest.Sender{}
		rec := start(t, s, sender, fast(t))
		rec.waitFor(t, outbox.Delivered, 1, 10*time.Second)

		got, err := s.Get(t.Context(), ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		// The dead processor's attempt was given back, and the expiry
		// counted as a release, not against the event: nothing had been
		// delivered since it last failed.
		if got.Status != outbox.StatusCompleted || got.Attempts != 1 || got.LeaseExpiries != 0 || got.Releases != 1 {
			t.Fatalf("event: status %s, attempts %d, expiries %d, releases %d; want completed at the first counted attempt after one release",
				got.Status, got.Attempts, got.LeaseExpiries, got.Releases)
		}
		if len(sender.Delivered()) != 1 {
			t.Fatalf("delivered %d times, want once", len(sender.Delivered()))
		}
	})
}

// The backend is unreachable for far longer than the whole retry schedule:
// no event goes dead, and all are delivered when it returns.
func TestProcessorOutlastsAnUnavailableBackend(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		const n = 30
		var batch []outbox.Event
		for i := range n {
			batch = append(batch, event(fmt.Sprintf("w%02d", i), 1))
		}
		s.enqueue(t, batch...)

		cfg := fast(t)
		// Five attempts spaced 1, 2, 4, 5 ms would be spent in 12 ms.
		down := time.Now().Add(300 * time.Millisecond)
		sender := &outboxtest.Sender{}
		sender.FailWhen(func(*outbox.Event) error {
			if time.Now().Before(down) {
				return outbox.UnavailableError(errors.New("dial tcp 127.0.0.1:8080: connect: connection refused"))
			}
			return nil
		})
		rec := start(t, s, sender, cfg)
		rec.waitFor(t, outbox.Delivered, n, 30*time.Second)

		if sender.Attempts() <= n {
			t.Fatalf("the backend was never found unavailable (%d attempts)", sender.Attempts())
		}
		completed, err := s.List(t.Context(), outbox.Filter{Status: outbox.StatusCompleted, Limit: n})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range completed {
			if ev.Attempts != 1 {
				t.Fatalf("event %s took %d counted attempts; unavailability must not count", ev.AggregateID, ev.Attempts)
			}
		}
		if len(completed) != n || rec.count(outbox.Dead) != 0 {
			t.Fatalf("%d completed, %d dead; want %d and 0", len(completed), rec.count(outbox.Dead), n)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if rec.paused == 0 || rec.resumed == 0 {
			t.Fatalf("paused %d times, resumed %d times; want both", rec.paused, rec.resumed)
		}
	})
}

// An event that keeps failing while other deliveries succeed uses up its
// attempts and goes dead. Its first failure is given back (nothing had
// shown the backend working since), each later one counts.
func TestProcessorGivesUpAfterMaxAttempts(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		ev := event("w1", 1)
		ev.MaxAttempts = 3
		stored := s.enqueue(t, ev)[0]
		sender := &outboxtest.Sender{}
		var others atomic.Int64
		sender.FailWhen(func(ev *outbox.Event) error {
			if ev.AggregateID != "w1" {
				return nil
			}
			// Traffic goes on around the failing event.
			s.enqueue(t, event(fmt.Sprintf("other-%d", others.Add(1)), 1))
			return errors.New("500 Internal Server Error")
		})
		rec := start(t, s, sender, fast(t))
		rec.waitFor(t, outbox.Dead, 1, 10*time.Second)

		got, err := s.Get(t.Context(), stored.ID)
		if err != nil {
			t.Fatal(err)
		}
		tries := sender.AttemptsOf(stored.ID)
		if got.Status != outbox.StatusDead || got.Attempts != 3 || got.Releases < 1 || tries != 3+got.Releases ||
			!strings.Contains(got.LastError, "gave up after 3 attempts: transient: 500 Internal Server Error") {
			t.Fatalf("status %s, attempts %d, releases %d (sender saw %d tries), last error %q", got.Status, got.Attempts, got.Releases, tries, got.LastError)
		}
	})
}

// Stopping the processor mid-delivery releases the event without spending
// an attempt.
func TestProcessorStopReleasesInFlight(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		stored := s.enqueue(t, event("w1", 1))[0]
		sending := make(chan struct{})
		sender := outbox.SenderFunc(func(ctx context.Context, _ *outbox.Event) (outbox.Receipt, error) {
			close(sending)
			<-ctx.Done() // a backend that never answers
			return outbox.Receipt{}, ctx.Err()
		})
		cfg := fast(t)
		// The send is cut off after StopTimeout and its release then has
		// as long to be recorded: 50 ms was too little for a PostgreSQL
		// transaction on a loaded CI machine.
		cfg.StopTimeout = 500 * time.Millisecond
		p := newProcessor(t, s, sender, cfg)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		<-sending
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(t.Context(), stored.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != outbox.StatusPending || got.Attempts != 0 || !strings.Contains(got.LastError, "stopped") {
			t.Fatalf("after stop: status %s, attempts %d, last error %q; want pending, 0, a note of the stop", got.Status, got.Attempts, got.LastError)
		}
	})
}

// A delivered hook that fails sends the event round again: it is delivered
// twice (the backend dedupes on the idempotency key) and completes.
func TestProcessorRetriesAFailedHook(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		var mu sync.Mutex
		calls := 0
		s.onDelivered("weight.updated", func(outbox.Delivery) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls == 1 {
				return errors.New("database is locked")
			}
			return nil
		})
		stored := s.enqueue(t, event("w1", 1))[0]
		sender := &outboxtest.Sender{}
		rec := start(t, s, sender, fast(t))
		rec.waitFor(t, outbox.Delivered, 1, 10*time.Second)

		got, err := s.Get(t.Context(), stored.ID)
		if err != nil {
			t.Fatal(err)
		}
		delivered := sender.Delivered()
		if got.Status != outbox.StatusCompleted || len(delivered) != 2 || delivered[0].ID != delivered[1].ID {
			t.Fatalf("status %s after %d deliveries; want completed after 2 of the same event", got.Status, len(delivered))
		}
	})
}

func TestProcessorRunsOnce(t *testing.T) {
	s := outboxtest.NewSQLiteStore(t)
	p := newProcessor(t, s, &outboxtest.Sender{}, fast(t))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	results := make(chan error, 2)
	for range 2 {
		go func() { results <- p.Run(ctx) }()
	}
	// Whichever Run lost the race returns at once, refused; the other runs
	// until cancelled and returns nil.
	if err := <-results; err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("first result %v, want a refusal", err)
	}
	cancel()
	if err := <-results; err != nil {
		t.Fatalf("the running processor returned %v", err)
	}
}

// A BatchSender gets up to SendBatch events per call, and one event's
// failure in a batch holds back none of the others.
func TestProcessorSendsInBatches(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		var evs []outbox.Event
		for i := range 16 {
			evs = append(evs, event(fmt.Sprintf("w%d", i), 1))
		}
		bad := s.enqueue(t, evs...)[7]
		sender := &outboxtest.Sender{}
		var later atomic.Int64
		sender.FailWhen(func(ev *outbox.Event) error {
			if ev.ID != bad.ID {
				return nil
			}
			// Traffic goes on around the rejected event, so that its
			// rejections are held against it.
			s.enqueue(t, event(fmt.Sprintf("later-%d", later.Add(1)), 1))
			return outbox.PermanentError(errors.New("422 Unprocessable Entity"))
		})
		cfg := fast(t)
		cfg.Concurrency, cfg.BatchSize, cfg.SendBatch = 16, 16, 5
		rec := start(t, s, sender, cfg)
		rec.waitFor(t, outbox.Dead, 1, 10*time.Second)
		n := int(later.Load())
		rec.waitFor(t, outbox.Delivered, 15+n, 10*time.Second)

		batches := sender.Batches()
		sent := 0
		for _, n := range batches {
			if n < 1 || n > 5 {
				t.Errorf("a batch of %d events, want 1 to 5", n)
			}
			sent += n
		}
		// The others, the later ones, and the rejected one three times or
		// more.
		if tries := sender.AttemptsOf(bad.ID); tries < 3 || sent != 15+n+tries || slices.Max(batches) != 5 {
			t.Fatalf("batches %v, the rejected event sent %d times: want every send in batches of at most 5, the first claim's full ones of 5", batches, tries)
		}
	})
}

// One event refused in a batch whose other events are delivered does not
// pause delivery: the same request shows that the backend takes events.
func TestARefusalInABatchOfDeliveriesDoesNotPause(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		var evs []outbox.Event
		for i := range 5 {
			evs = append(evs, event(fmt.Sprintf("w%d", i), 1))
		}
		first := s.enqueue(t, evs...)[0] // first in the batch
		sender := &outboxtest.Sender{}
		var refused atomic.Bool
		sender.FailWhen(func(ev *outbox.Event) error {
			if ev.ID == first.ID && refused.CompareAndSwap(false, true) {
				return outbox.TransientError(errors.New("503 Service Unavailable"), 0)
			}
			return nil
		})
		cfg := fast(t)
		cfg.SendBatch = 5
		rec := start(t, s, sender, cfg)
		rec.waitFor(t, outbox.Delivered, 5, 10*time.Second)
		if n := rec.pausedCount(); n != 0 || !slices.Equal(sender.Batches(), []int{5, 1}) {
			t.Fatalf("%d pauses, batches %v; want none, and the refused event sent again alone", n, sender.Batches())
		}
	})
}

// unavailableOnce is a BatchSender whose first batch gets no answer.
type unavailableOnce struct {
	*outboxtest.Sender
	failed atomic.Bool
}

func (u *unavailableOnce) SendBatch(ctx context.Context, evs []*outbox.Event) ([]outbox.SendResult, error) {
	if u.failed.CompareAndSwap(false, true) {
		return nil, outbox.UnavailableError(errors.New("connection refused"))
	}
	return u.Sender.SendBatch(ctx, evs)
}

// A batch that fails as a whole fails for each of its events: here the
// backend is unavailable, so the events are released with their attempt
// given back, and delivered once it answers.
func TestProcessorBatchFailsAsAWhole(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		stored := s.enqueue(t, event("w1", 1), event("w2", 1), event("w3", 1))
		sender := &unavailableOnce{Sender: &outboxtest.Sender{}}
		cfg := fast(t)
		cfg.SendBatch = 10
		rec := start(t, s, sender, cfg)
		rec.waitFor(t, outbox.Delivered, 3, 10*time.Second)
		if got := rec.count(outbox.Release); got != 3 {
			t.Errorf("%d events released after the unavailable batch, want 3", got)
		}
		for _, ev := range stored {
			got, err := s.Get(t.Context(), ev.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != outbox.StatusCompleted || got.Attempts != 1 {
				t.Errorf("%s: status %s after %d attempts, want completed after 1", ev.AggregateID, got.Status, got.Attempts)
			}
		}
	})
}

// manualWake is a store whose commits reach the processor only when the
// test hands them over; the channel is unbuffered, so a send returns once
// the processor has taken the wake-up.
type manualWake struct {
	outbox.Store
	wake chan struct{}
}

func (m manualWake) Subscribe() (<-chan struct{}, func()) { return m.wake, func() {} }

// An event scheduled for later, committed while every slot is busy, is
// delivered when it is due, not at the next poll.
func TestProcessorLearnsDueTimesWhileBusy(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		s.enqueue(t, event("w1", 1))
		started, release := make(chan struct{}), make(chan struct{})
		sender := &outboxtest.Sender{}
		var once sync.Once
		sender.OnDelivery(func(outbox.Event) {
			once.Do(func() {
				close(started)
				<-release
			})
		})
		cfg := fast(t)
		cfg.Concurrency, cfg.PollInterval, cfg.Lease = 1, time.Minute, time.Minute
		store := manualWake{Store: s.Store, wake: make(chan struct{})}
		rec := start(t, store, sender, cfg)
		<-started // the only slot is busy

		later := event("w2", 1)
		later.RunAt = time.Now().Add(300 * time.Millisecond)
		s.enqueue(t, later)
		store.wake <- struct{}{} // the commit's wake-up, taken while busy
		close(release)

		rec.waitFor(t, outbox.Delivered, 2, 10*time.Second)
	})
}
