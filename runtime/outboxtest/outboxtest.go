// Package outboxtest helps an application test code that writes through the
// outbox: a throwaway SQLite store, a Sender that records deliveries and
// fails on demand, assertions on what was enqueued, and Drain, which runs a
// processor until every event has reached its end.
package outboxtest

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
)

// NewSQLiteStore returns a migrated store in a new file under t.TempDir(),
// closed when t ends.
func NewSQLiteStore(t testing.TB, opts ...sqlitestore.Option) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "outbox.db"), opts...)
	if err != nil {
		t.Fatalf("outboxtest: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("outboxtest: %v", err)
	}
	return s
}

// NewPostgresStore returns a migrated store on the database at url, closed
// when t ends. The database should be the test's own.
func NewPostgresStore(t testing.TB, url string, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), url, 8, opts...)
	if err != nil {
		t.Fatalf("outboxtest: %v", err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("outboxtest: %v", err)
	}
	return s
}

// txStore is a store whose transactions are of type Tx.
type txStore[Tx any] interface {
	InTx(ctx context.Context, fn func(Tx) error) error
	Enqueue(ctx context.Context, tx Tx, ev outbox.Event) (outbox.Event, error)
}

// EnqueueSQLite enqueues events in one committed transaction and returns
// them as stored.
func EnqueueSQLite(t testing.TB, s *sqlitestore.Store, events ...outbox.Event) []outbox.Event {
	t.Helper()
	return enqueue[*sql.Tx](t, s, events)
}

// EnqueuePostgres enqueues events in one committed transaction and returns
// them as stored.
func EnqueuePostgres(t testing.TB, s *pgstore.Store, events ...outbox.Event) []outbox.Event {
	t.Helper()
	return enqueue[pgx.Tx](t, s, events)
}

func enqueue[Tx any](t testing.TB, s txStore[Tx], events []outbox.Event) []outbox.Event {
	t.Helper()
	out := make([]outbox.Event, 0, len(events))
	err := s.InTx(context.Background(), func(tx Tx) error {
		for _, ev := range events {
			stored, err := s.Enqueue(context.Background(), tx, ev)
			if err != nil {
				return err
			}
			out = append(out, stored)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("outboxtest: enqueue: %v", err)
	}
	return out
}

// RequireEnqueued fails t unless the outbox holds an event of eventType for
// the entity aggregateID, and returns the newest such event.
func RequireEnqueued(t testing.TB, s outbox.Inspector, eventType, aggregateID string) *outbox.Event {
	t.Helper()
	evs, err := s.List(context.Background(), outbox.Filter{Type: eventType, Limit: 100_000})
	if err != nil {
		t.Fatalf("outboxtest: %v", err)
	}
	var found *outbox.Event
	for _, ev := range evs {
		if ev.AggregateID == aggregateID {
			found = ev
		}
	}
	if found == nil {
		t.Fatalf("outboxtest: no %s event for entity %s in the outbox (%d %s events for other entities)", eventType, aggregateID, len(evs), eventType)
	}
	return found
}

// RequireCount fails t unless the outbox holds exactly n events of eventType.
func RequireCount(t testing.TB, s outbox.Inspector, eventType string, n int) {
	t.Helper()
	evs, err := s.List(context.Background(), outbox.Filter{Type: eventType, Limit: 100_000})
	if err != nil {
		t.Fatalf("outboxtest: %v", err)
	}
	if len(evs) != n {
		t.Fatalf("outboxtest: %d %s events in the outbox, want %d", len(evs), eventType, n)
	}
}

// Drain runs a processor on store with sender until no event is pending,
// processing or failed, then stops it. An event the sender keeps failing
// goes dead only when other deliveries succeed between two of its failures
// (see "Evidence" in the outbox package), so a test that wants an event
// dead has the sender deliver others meanwhile. Retries are fast (milliseconds) so
// tests do not wait out production backoff. It fails t if the outbox does
// not drain within timeout (0 means 30 s) and returns the final stats.
func Drain(t testing.TB, store outbox.Store, sender outbox.Sender, timeout time.Duration) outbox.Stats {
	t.Helper()
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	recorded := make(chan struct{}, 1)
	p, err := outbox.NewProcessor(store, sender, outbox.Config{
		Logger:             slog.New(slog.NewTextHandler(testLog{t}, nil)),
		Lease:              10 * time.Second,
		PollInterval:       50 * time.Millisecond,
		Backoff:            outbox.Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond},
		UnavailableBackoff: outbox.Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond},
		Observer:           signalObserver(recorded),
	})
	if err != nil {
		t.Fatalf("outboxtest: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("outboxtest: processor: %v", err)
		}
	}()

	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	// Each recorded outcome prompts a look; the ticker covers events that
	// finish without passing through this processor (another one, a retry
	// made by hand).
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := store.Stats(context.Background())
		if err != nil {
			t.Fatalf("outboxtest: %v", err)
		}
		if Unfinished(st) == 0 {
			return st
		}
		select {
		case <-recorded:
		case <-tick.C:
		case <-deadline.C:
			msg := ""
			if state := p.State(); state.Paused {
				msg = fmt.Sprintf("; delivery is paused since %s: %s (an event's failure counts against it only when other deliveries succeed between two of its failures)",
					state.PausedSince.Format(time.RFC3339), state.PauseReason)
			}
			t.Fatalf("outboxtest: the outbox did not drain in %s: %s%s", timeout, describe(st), msg)
		}
	}
}

// Unfinished counts the events of st still waiting for delivery.
func Unfinished(st outbox.Stats) int64 {
	return st.Counts[outbox.StatusPending] + st.Counts[outbox.StatusProcessing] + st.Counts[outbox.StatusFailed]
}

func describe(st outbox.Stats) string {
	s := ""
	for _, status := range outbox.Statuses() {
		s += fmt.Sprintf("%s %d, ", status, st.Counts[status])
	}
	return s[:len(s)-2]
}

// testLog writes the processor's log lines to the test's log, which shows
// them when the test fails.
type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// signalObserver signals its channel whenever an outcome is recorded.
type signalObserver chan struct{}

func (c signalObserver) Recorded(outbox.Outcome, time.Duration) {
	select {
	case c <- struct{}{}:
	default:
	}
}
func (signalObserver) Paused(time.Duration, error) {}
func (signalObserver) Resumed()                    {}
