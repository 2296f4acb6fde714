package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outboxgen/outboxgen/internal/pgtest"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
)

// A wake-up held back by the NOTIFY spacing is still sent when the store
// closes: other processes hear of the last commits before it.
func TestCloseSendsTheLastNotify(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	listener, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(context.WithoutCancel(ctx))
	if _, err := listener.Exec(ctx, "LISTEN outbox_test_close"); err != nil {
		t.Fatal(err)
	}
	s, err := pgstore.Open(ctx, url, 2, pgstore.WithChannel("outbox_test_close"))
	if err != nil {
		t.Fatal(err)
	}
	heard := func() {
		t.Helper()
		waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, err := listener.WaitForNotification(waitCtx); err != nil {
			t.Fatalf("no NOTIFY: %v", err)
		}
	}
	s.Notify()
	heard()
	s.Notify() // within the spacing of the first: held back
	s.Close()
	heard()
}
