package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outboxgen/outboxgen/internal/pgtest"
)

// listenTo returns a function that waits, up to 10 s, for the next NOTIFY
// on channel of the database at url, and returns its payload.
func listenTo(t *testing.T, url, channel string) func() string {
	t.Helper()
	ctx := t.Context()
	listener, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close(context.WithoutCancel(ctx)) })
	if _, err := listener.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	return func() string {
		t.Helper()
		waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		n, err := listener.WaitForNotification(waitCtx)
		if err != nil {
			t.Fatalf("no NOTIFY: %v", err)
		}
		return n.Payload
	}
}

func openStore(t *testing.T, url string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(t.Context(), url, 2, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// A wake-up held back by the NOTIFY spacing is still sent when the store
// closes: other processes hear of the last commits before it.
func TestCloseSendsTheLastNotify(t *testing.T) {
	url := pgtest.NewDatabase(t)
	heard := listenTo(t, url, "outbox_test_close")
	s := openStore(t, url, WithChannel("outbox_test_close"))
	s.Notify()
	heard()
	s.Notify() // within the spacing of the first: held back
	s.Close()
	heard()
}

// A store's NOTIFY is told from another store's by its payload: its own
// subscribers, woken in the process already, ignore it; others do not.
func TestOwnNotifyIsToldFromOthers(t *testing.T) {
	url := pgtest.NewDatabase(t)
	heard := listenTo(t, url, DefaultChannel)
	a, b := openStore(t, url), openStore(t, url)
	a.notifier.kick()
	fromA := heard()
	b.notifier.kick()
	fromB := heard()
	if a.notifier.fromOthers(fromA) || b.notifier.fromOthers(fromB) {
		t.Errorf("a store takes its own NOTIFY (%q, %q) for another's", fromA, fromB)
	}
	if !a.notifier.fromOthers(fromB) || !b.notifier.fromOthers(fromA) {
		t.Errorf("a store takes another's NOTIFY (%q, %q) for its own", fromA, fromB)
	}
}

// A commit through one store wakes the subscribers of another store on the
// same database, as it would another process's.
func TestNotifyWakesOtherStores(t *testing.T) {
	url := pgtest.NewDatabase(t)
	writer, reader := openStore(t, url), openStore(t, url)
	wake, cancel := reader.Subscribe()
	defer cancel()
	next := func(after string) {
		t.Helper()
		select {
		case <-wake:
		case <-time.After(10 * time.Second):
			t.Fatalf("no wake-up within 10 s %s", after)
		}
	}
	next("of subscribing") // every subscription starts with one
	writer.Notify()
	next("of another store's commit")
}
