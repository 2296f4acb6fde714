package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/httpsender"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
)

// Every class of failure, answered to every request for far longer than
// the whole retry schedule, pauses delivery, visibly, and kills nothing:
// when the backend recovers, everything is delivered, each event at its
// first counted attempt.
func TestEveryFailureClassPausesWithoutKilling(t *testing.T) {
	classes := map[string]error{
		"502 gateway":        outbox.TransientError(errors.New("POST /v1/weight: 502 Bad Gateway"), 0),
		"503 + Retry-After":  outbox.TransientError(errors.New("POST /v1/weight: 503 Service Unavailable"), 2*time.Millisecond),
		"400 to everything":  outbox.PermanentError(errors.New("POST /v1/weight: 400 Bad Request")),
		"404 missing route":  outbox.PermanentError(errors.New("POST /v1/weight: 404 Not Found")),
		"308 moved":          outbox.PermanentError(errors.New("POST /v1/weight: 308 Permanent Redirect")),
		"403 WAF":            outbox.PermanentError(errors.New("POST /v1/weight: 403 Forbidden")),
		"dropped connection": outbox.UnansweredError(errors.New("POST /v1/weight: EOF")),
		"refused connection": outbox.UnavailableError(errors.New("dial tcp: connection refused")),
		"unclassified":       errors.New("something nobody classified"),
	}
	for name, failure := range classes {
		t.Run(name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, s testStore) {
				const n = 12
				for i := range n {
					ev := event(fmt.Sprintf("w%02d", i), 1)
					ev.MaxAttempts = 2
					s.enqueue(t, ev)
				}
				var down atomic.Bool
				down.Store(true)
				sender := &outboxtest.Sender{}
				sender.FailWhen(func(*outbox.Event) error {
					if down.Load() {
						return failure
					}
					return nil
				})
				cfg := fast(t) // retries 1 to 5 ms apart: the schedule is spent in ms
				rec := newRecorder()
				cfg.Observer = rec
				p := newProcessor(t, s, sender, cfg)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- p.Run(ctx) }()
				defer func() {
					cancel()
					if err := <-done; err != nil {
						t.Error(err)
					}
				}()

				// Well past the schedule: every event tried, many tried again.
				rec.waitFor(t, outbox.Release, 3*n, 10*time.Second)
				state := p.State()
				if !state.Paused || state.PausedSince.IsZero() || !strings.Contains(state.PauseReason, strings.SplitN(failure.Error(), ":", 2)[0]) {
					t.Fatalf("state during the outage: %+v; want paused, since when, and why", state)
				}
				st, err := s.Stats(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if st.Counts[outbox.StatusDead] != 0 || rec.count(outbox.Retry) != 0 {
					t.Fatalf("during the outage: %v, %d retries counted; want nothing dead, no attempt spent", st.Counts, rec.count(outbox.Retry))
				}

				down.Store(false)
				rec.waitFor(t, outbox.Delivered, n, 10*time.Second)
				evs, err := s.List(t.Context(), outbox.Filter{Status: outbox.StatusCompleted})
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range evs {
					if ev.Attempts != 1 {
						t.Fatalf("%s delivered at counted attempt %d, want 1", ev.AggregateID, ev.Attempts)
					}
				}
				rec.mu.Lock()
				paused, resumed := rec.paused, rec.resumed
				rec.mu.Unlock()
				if len(evs) != n || paused != 1 || resumed != 1 || p.State().Paused {
					t.Fatalf("%d delivered, paused %d times, resumed %d times, still paused %v; want %d, one pause, one resume, not paused",
						len(evs), paused, resumed, p.State().Paused, n)
				}
			})
		})
	}
}

// A poison event, whose request makes the backend drop the connection,
// ends dead while other deliveries go on, and its entity's later events
// are then delivered.
func TestPoisonEventEndsDead(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		poison := event("p", 1)
		poison.MaxAttempts = 3
		stored := s.enqueue(t, poison, event("p", 2))
		var others atomic.Int64
		sender := &outboxtest.Sender{}
		sender.FailWhen(func(ev *outbox.Event) error {
			if ev.ID != stored[0].ID {
				return nil
			}
			// The backend crashed on it; traffic from other users goes on.
			s.enqueue(t, event(fmt.Sprintf("other-%d", others.Add(1)), 1))
			return outbox.UnansweredError(errors.New("POST /v1/weight: connection reset by peer"))
		})
		rec := start(t, s, sender, fast(t))
		rec.waitFor(t, outbox.Dead, 1, 10*time.Second)
		got, err := s.Get(t.Context(), stored[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != outbox.StatusDead || got.Attempts != 3 || got.Releases < 1 || got.FailedClass != outbox.Unanswered {
			t.Fatalf("poison event: status %s, attempts %d, releases %d, class %s", got.Status, got.Attempts, got.Releases, got.FailedClass)
		}
		// Its entity's next event is delivered.
		rec.waitUntil(t, 10*time.Second, func() bool {
			return slices.ContainsFunc(sender.Delivered(), func(ev outbox.Event) bool { return ev.ID == stored[1].ID })
		})
	})
}

// "Still in progress" answers are tried again soon, spending no attempt
// and pausing nothing, a bounded number of times.
func TestInProgressIsRetriedWithoutSpendingAttempts(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		stored := s.enqueue(t, event("w1", 1))[0]
		sender := &outboxtest.Sender{}
		sender.FailNext(
			outbox.InProgressError(errors.New("409 Conflict"), time.Millisecond),
			outbox.InProgressError(errors.New("409 Conflict"), time.Millisecond),
			outbox.InProgressError(errors.New("409 Conflict"), time.Millisecond),
		)
		rec := start(t, s, sender, fast(t))
		rec.waitFor(t, outbox.Delivered, 1, 10*time.Second)
		got, err := s.Get(t.Context(), stored.ID)
		if err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		paused := rec.paused
		rec.mu.Unlock()
		if got.Attempts != 1 || got.Releases != 3 || !got.FailedAt.IsZero() || paused != 0 {
			t.Fatalf("after three in-progress answers: attempts %d, releases %d, failed at %v, paused %d times; want 1, 3, never failed, no pause",
				got.Attempts, got.Releases, got.FailedAt, paused)
		}
	})
}

// Past MaxInProgress, "in progress" is a transient failure like any other:
// held against the event once other deliveries succeed.
func TestInProgressIsBounded(t *testing.T) {
	s := outboxtest.NewSQLiteStore(t)
	stuck := event("stuck", 1)
	stuck.MaxAttempts = 1
	stored := outboxtest.EnqueueSQLite(t, s, stuck)[0]
	var others atomic.Int64
	sender := &outboxtest.Sender{}
	sender.FailWhen(func(ev *outbox.Event) error {
		if ev.ID != stored.ID {
			return nil
		}
		outboxtest.EnqueueSQLite(t, s, event(fmt.Sprintf("other-%d", others.Add(1)), 1))
		return outbox.InProgressError(errors.New("409 Conflict"), time.Millisecond)
	})
	rec := start(t, s, sender, fast(t))
	rec.waitFor(t, outbox.Dead, 1, 20*time.Second)
	got, err := s.Get(t.Context(), stored.ID)
	if err != nil {
		t.Fatal(err)
	}
	// MaxInProgress in-progress releases, then transient ones until a
	// delivery follows one of them, then the counted failure on its only
	// attempt.
	if got.Releases <= outbox.MaxInProgress || got.Attempts != 1 || got.FailedClass != outbox.Transient || sender.AttemptsOf(stored.ID) != got.Releases+1 {
		t.Fatalf("dead after %d releases, %d attempts, %d sends", got.Releases, got.Attempts, sender.AttemptsOf(stored.ID))
	}
}

// slowClaim is a store whose claims take a while to come back (a slow
// commit, a stalled connection) and that tells when each one began.
type slowClaim struct {
	outbox.Store
	delay time.Duration
	mu    sync.Mutex
	began []time.Time
}

func (s *slowClaim) Claim(ctx context.Context, owner string, limit int, lease time.Duration) ([]*outbox.Event, error) {
	s.mu.Lock()
	s.began = append(s.began, time.Now())
	delay := s.delay
	s.mu.Unlock()
	evs, err := s.Store.Claim(ctx, owner, limit, lease)
	time.Sleep(delay) // the fault under test: the claim's answer is late
	return evs, err
}

func (s *slowClaim) setDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

func (s *slowClaim) firstClaim() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.began[0]
}

// A send's deadline is measured from the moment before its claim, not from
// when the send starts: a slow claim eats into it.
func TestSendDeadlineCountsFromTheClaim(t *testing.T) {
	s := outboxtest.NewSQLiteStore(t)
	outboxtest.EnqueueSQLite(t, s, event("w1", 1))
	store := &slowClaim{Store: s, delay: 100 * time.Millisecond}
	deadlines := make(chan time.Time, 1)
	sender := outbox.SenderFunc(func(ctx context.Context, _ *outbox.Event) (outbox.Receipt, error) {
		d, _ := ctx.Deadline()
		deadlines <- d
		return outbox.Receipt{}, nil
	})
	cfg := slowPoll(t)
	cfg.Lease = 2 * time.Second // a send may go on 1 s after the claim
	start(t, store, sender, cfg)
	deadline := <-deadlines
	if limit := store.firstClaim().Add(time.Second); deadline.After(limit) {
		t.Fatalf("send deadline %s after the claim began; want at most 1s", deadline.Sub(store.firstClaim()))
	}
}

// An event whose deadline has passed when its send would start is released
// unsent, with its attempt given back.
func TestEventIsReleasedUnsentWhenItsDeadlinePassed(t *testing.T) {
	s := outboxtest.NewSQLiteStore(t)
	stored := outboxtest.EnqueueSQLite(t, s, event("w1", 1))[0]
	store := &slowClaim{Store: s, delay: 600 * time.Millisecond}
	sender := &outboxtest.Sender{}
	cfg := slowPoll(t)
	cfg.Lease = time.Second // sends must end 500 ms after the claim
	rec := start(t, store, sender, cfg)
	rec.waitFor(t, outbox.Release, 1, 10*time.Second)
	if sender.Attempts() != 0 {
		t.Fatalf("sent %d times past the deadline", sender.Attempts())
	}
	store.setDelay(0)
	rec.waitFor(t, outbox.Delivered, 1, 10*time.Second)
	got, err := s.Get(t.Context(), stored.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Attempts != 1 || got.Releases != 0 || sender.Attempts() != 1 {
		t.Fatalf("delivered after %d attempts, %d releases, %d sends; want 1, 0, 1", got.Attempts, got.Releases, sender.Attempts())
	}
}

// NewProcessor refuses a lease that would cut a send off before the
// sender's own timeout, and says what to change.
func TestNewProcessorChecksTheLeaseAgainstTheSender(t *testing.T) {
	s := outboxtest.NewSQLiteStore(t)
	sender, err := httpsender.New("http://127.0.0.1:1", map[string]string{"weight.updated": "/v1/weight"}, httpsender.WithTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, err = outbox.NewProcessor(s, sender, outbox.Config{Lease: 20 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "Config.Lease of 20s") || !strings.Contains(err.Error(), "raise Lease above") {
		t.Fatalf("a 20 s lease with a 20 s sender timeout: %v", err)
	}
	if _, err := outbox.NewProcessor(s, sender, outbox.Config{}); err != nil {
		t.Fatalf("the default lease with a 20 s sender timeout: %v", err)
	}
	if _, err := outbox.NewProcessor(nil, sender, outbox.Config{}); err == nil {
		t.Fatal("a processor without a store")
	}
}

// An event whose request makes the backend drop the connection (it crashes
// on it) ends dead even when nothing else is being delivered: the backend
// answers a ping, and then drops the event's request again. Its entity's
// next event, poisoned too, is not killed the same way while nothing else
// is delivered, since a backend that drops every request looks just the
// same: it waits, paused, until another delivery succeeds, and then ends
// dead too; the one after is delivered.
func TestPoisonEndsDeadWithNoOtherTraffic(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		var evs []outbox.Event
		for v := 1; v <= 3; v++ {
			ev := event("p", v)
			ev.MaxAttempts = 2
			if v < 3 {
				ev.Metadata = map[string]string{"poison": "yes"}
			}
			evs = append(evs, ev)
		}
		stored := s.enqueue(t, evs...)
		backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.Method == http.MethodOptions:
				w.WriteHeader(http.StatusNoContent)
			case r.Header.Get("X-Outbox-Meta-Poison") != "":
				io.Copy(io.Discard, r.Body)
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					conn.Close() // the backend "crashes" on this payload
				}
			default:
				w.WriteHeader(http.StatusCreated)
			}
		}))
		defer backend.Close()
		rec := start(t, s, newSender(t, backend.URL), fast(t))
		rec.waitFor(t, outbox.Dead, 1, 10*time.Second)
		second := stored[1].ID
		rec.waitUntil(t, 10*time.Second, func() bool { return rec.releasesOf(second) >= 4 || rec.count(outbox.Dead) > 1 })
		if rec.count(outbox.Dead) != 1 || rec.count(outbox.Retry) != 1 {
			t.Fatalf("%d dead, %d counted retries while the second poisoned event was dropped with nothing delivered; want only the first's",
				rec.count(outbox.Dead), rec.count(outbox.Retry))
		}
		s.enqueue(t, event("q", 1)) // another entity's change is delivered
		rec.waitFor(t, outbox.Dead, 2, 10*time.Second)
		for _, poisoned := range stored[:2] {
			got, err := s.Get(t.Context(), poisoned.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != outbox.StatusDead || got.Attempts != 2 || got.Releases < 1 || got.FailedClass != outbox.Unanswered {
				t.Fatalf("poison %d: status %s, attempts %d, releases %d, class %s; want dead after a release and two counted attempts",
					poisoned.EntityVersion, got.Status, got.Attempts, got.Releases, got.FailedClass)
			}
		}
		rec.waitFor(t, outbox.Delivered, 2, 10*time.Second)
	})
}

// A backend that drops every request while answering pings kills nothing,
// even when one request sent before the others failed is answered after
// them: that delivery says nothing of the failures since, to this processor
// or to another that reads them from the store, and the events dropped one
// at a time in the pause that follows are not singled out.
func TestDroppingEveryRequestAfterALateSuccessKillsNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		var evs []outbox.Event
		for i := range 10 {
			ev := event(fmt.Sprintf("d%d", i), 1)
			ev.MaxAttempts = 1
			evs = append(evs, ev)
		}
		s.enqueue(t, evs...)
		sender := &droppingSender{slowFirst: make(chan struct{})}
		sender.dropping.Store(true)
		cfg := fast(t)
		cfg.Concurrency = 16
		rec := start(t, s, sender, cfg)
		rec.waitFor(t, outbox.Release, 1, 10*time.Second)
		close(sender.slowFirst) // the first request is answered once a failure is recorded
		// Each dropped event sent three times, unless events die first.
		rec.waitUntil(t, 20*time.Second, func() bool { return rec.count(outbox.Release) >= 9*3 || rec.count(outbox.Dead) > 0 })
		if rec.count(outbox.Dead) != 0 || rec.count(outbox.Retry) != 0 || rec.count(outbox.Delivered) != 1 {
			t.Fatalf("%d dead, %d counted retries, %d delivered while every request but the first was dropped; want 0, 0, 1",
				rec.count(outbox.Dead), rec.count(outbox.Retry), rec.count(outbox.Delivered))
		}
		// A second processor (or this one restarted) knows the failures
		// only from the store, which must not take the late delivery for
		// one that followed them.
		startObserved(t, s, sender, cfg, rec)
		released := rec.count(outbox.Release)
		rec.waitUntil(t, 20*time.Second, func() bool { return rec.count(outbox.Release) >= released+9*2 || rec.count(outbox.Dead) > 0 })
		if rec.count(outbox.Dead) != 0 || rec.count(outbox.Retry) != 0 {
			t.Fatalf("beside a second processor: %d dead, %d counted retries while every request was dropped", rec.count(outbox.Dead), rec.count(outbox.Retry))
		}
		sender.dropping.Store(false)
		rec.waitFor(t, outbox.Delivered, 10, 20*time.Second)
	})
}

// A backend that drops every request while answering pings kills at most
// one event while nothing is delivered, however often the processor
// restarts: the next run learns from the store that an event died since the
// last delivery. Here one key's events are all that is due, so each is
// alone in its turn.
func TestDroppingEveryRequestKillsOneEventAcrossRestarts(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		var evs []outbox.Event
		for v := 1; v <= 4; v++ {
			ev := event("k", v)
			ev.MaxAttempts = 2
			evs = append(evs, ev)
		}
		stored := s.enqueue(t, evs...)
		sender := &droppingSender{slowFirst: make(chan struct{})}
		close(sender.slowFirst)
		sender.calls.Store(1) // no request is answered
		sender.dropping.Store(true)
		rec := newRecorder()
		_, stop := startObserved(t, s, sender, fast(t), rec)
		rec.waitFor(t, outbox.Dead, 1, 10*time.Second) // the first, alone, on the ping's word
		for run := 2; run <= 3; run++ {
			stop()
			released := rec.releasesOf(stored[1].ID)
			_, stop = startObserved(t, s, sender, fast(t), rec)
			rec.waitUntil(t, 10*time.Second, func() bool { return rec.releasesOf(stored[1].ID) >= released+4 || rec.count(outbox.Dead) > 1 })
			if n := rec.count(outbox.Dead); n != 1 {
				t.Fatalf("run %d: %d events dead while every request was dropped; want the first only", run, n)
			}
		}
		sender.dropping.Store(false)
		rec.waitFor(t, outbox.Delivered, 3, 10*time.Second)
	})
}

// droppingSender answers pings; its first request succeeds once slowFirst
// is closed, and every other request is dropped while dropping is set.
type droppingSender struct {
	dropping  atomic.Bool
	calls     atomic.Int64
	slowFirst chan struct{}
}

func (d *droppingSender) Send(ctx context.Context, ev *outbox.Event) (outbox.Receipt, error) {
	if d.calls.Add(1) == 1 {
		select {
		case <-d.slowFirst:
		case <-ctx.Done():
			return outbox.Receipt{}, ctx.Err()
		}
		return outbox.Receipt{}, nil
	}
	if d.dropping.Load() {
		return outbox.Receipt{}, outbox.DroppedError(errors.New("connection reset by peer"))
	}
	return outbox.Receipt{}, nil
}

func (d *droppingSender) Ping(context.Context, *outbox.Event) error { return nil }

// A backend that takes requests and never answers anything (a hung
// application behind a proxy), for far longer than the retry schedule,
// kills nothing: pings go unanswered too, and delivery stays paused.
func TestBlackHoleKillsNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		for i := range 3 {
			ev := event(fmt.Sprintf("w%d", i), 1)
			ev.MaxAttempts = 2
			s.enqueue(t, ev)
		}
		var hung atomic.Bool
		hung.Store(true)
		release := make(chan struct{})
		backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hung.Load() {
				select {
				case <-r.Context().Done():
				case <-release:
				}
				return
			}
			w.WriteHeader(http.StatusCreated)
		}))
		defer backend.Close()
		defer close(release)
		cfg := fast(t)
		rec := newRecorder()
		cfg.Observer = rec
		sender, err := httpsender.New(backend.URL, map[string]string{"weight.updated": "/v1/weight"}, httpsender.WithTimeout(20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer sender.CloseIdleConnections()
		p := newProcessor(t, s, sender, cfg)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		defer func() { cancel(); <-done }()

		rec.waitFor(t, outbox.Release, 12, 20*time.Second) // each event tried four times
		if rec.count(outbox.Dead) != 0 || rec.count(outbox.Retry) != 0 || !p.State().Paused || p.State().PauseClass != outbox.Unanswered {
			t.Fatalf("%d dead, %d counted retries, state %+v; want nothing held against the events, delivery paused", rec.count(outbox.Dead), rec.count(outbox.Retry), p.State())
		}
		hung.Store(false)
		rec.waitFor(t, outbox.Delivered, 3, 20*time.Second)
	})
}

// A backend that times out every POST while something in front of it still
// answers pings (a CORS layer, a proxy) is down, not poisoned: a ping
// answered before a timeout proves nothing, and nothing dies.
func TestTimeoutsWithPingsAnsweredKillNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		for i := range 3 {
			ev := event(fmt.Sprintf("w%d", i), 1)
			ev.MaxAttempts = 2
			s.enqueue(t, ev)
		}
		release := make(chan struct{})
		backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			select { // overloaded: the POST gets no answer in time
			case <-r.Context().Done():
			case <-release:
			}
		}))
		defer backend.Close()
		defer close(release)
		rec := start(t, s, timedSender(t, backend.URL, 20*time.Millisecond), fast(t))
		rec.waitFor(t, outbox.Release, 12, 20*time.Second)
		if rec.count(outbox.Dead) != 0 || rec.count(outbox.Retry) != 0 {
			t.Fatalf("%d dead, %d counted retries while every POST timed out", rec.count(outbox.Dead), rec.count(outbox.Retry))
		}
	})
}

// A backend that drops the connection on every POST while answering pings
// (it crashes on any request) kills nothing either: the events' drops come
// between one another's, so none is singled out.
func TestDroppingEveryRequestKillsNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		for i := range 3 {
			ev := event(fmt.Sprintf("w%d", i), 1)
			ev.MaxAttempts = 2
			s.enqueue(t, ev)
		}
		var crashing atomic.Bool
		crashing.Store(true)
		backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.Method == http.MethodOptions:
				w.WriteHeader(http.StatusNoContent)
			case crashing.Load():
				io.Copy(io.Discard, r.Body)
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					conn.Close()
				}
			default:
				w.WriteHeader(http.StatusCreated)
			}
		}))
		defer backend.Close()
		rec := start(t, s, timedSender(t, backend.URL, time.Second), fast(t))
		rec.waitFor(t, outbox.Release, 15, 20*time.Second) // each event dropped five times
		if rec.count(outbox.Dead) != 0 || rec.count(outbox.Retry) != 0 {
			t.Fatalf("%d dead, %d counted retries while every POST was dropped", rec.count(outbox.Dead), rec.count(outbox.Retry))
		}
		crashing.Store(false)
		rec.waitFor(t, outbox.Delivered, 3, 20*time.Second)
	})
}

// A delivery that succeeded before an event's failure does not count as
// following it, even when the two are recorded together: a failure of the
// event during the outage that follows is not held against it.
func TestADeliveryBeforeAFailureIsNoEvidence(t *testing.T) {
	eachStore(t, func(t *testing.T, s testStore) {
		a := event("a", 1)
		b := event("b", 1)
		b.MaxAttempts = 1
		stored := s.enqueue(t, a, b)
		var down atomic.Bool
		bStarted, aDone := make(chan struct{}), make(chan struct{})
		sender := outbox.SenderFunc(func(ctx context.Context, ev *outbox.Event) (outbox.Receipt, error) {
			switch {
			case down.Load():
				return outbox.Receipt{}, outbox.TransientError(errors.New("503"), 0)
			case ev.ID == stored[0].ID:
				<-bStarted
				defer close(aDone)
				return outbox.Receipt{}, nil
			default: // b: fails once a's delivery succeeded, and the outage begins
				close(bStarted)
				<-aDone
				down.Store(true)
				return outbox.Receipt{}, outbox.TransientError(errors.New("503"), 0)
			}
		})
		rec := start(t, s, sender, fast(t))
		rec.waitFor(t, outbox.Release, 4, 10*time.Second) // b given back again and again during the outage
		if rec.count(outbox.Dead) != 0 || rec.count(outbox.Retry) != 0 {
			t.Fatalf("b: %d dead, %d counted retries with no delivery after its first failure", rec.count(outbox.Dead), rec.count(outbox.Retry))
		}
	})
}

// timedSender is an httpsender to url with a per-request timeout.
func timedSender(t *testing.T, url string, timeout time.Duration) *httpsender.Sender {
	t.Helper()
	sender, err := httpsender.New(url, map[string]string{"weight.updated": "/v1/weight"}, httpsender.WithTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sender.CloseIdleConnections)
	return sender
}
