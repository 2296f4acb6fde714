package inbox_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/outboxgen/outboxgen/runtime/inbox"
)

// Purge deletes every old key however many there are, a few thousand per
// statement.
func TestPurgeDeletesEveryOldKey(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		send(w.handler(), newEvent("note.created", note(uuid.New(), "ada", 1, "hello")))
		const keys = 12_005 // more than two of the stores' purge batches
		w.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
			INSERT INTO inbox_keys (key, fingerprint, metric, entity_id, status, backend_id, applied, received_at)
			SELECT k.key || '-' || n.i, k.fingerprint, k.metric, k.entity_id, k.status, k.backend_id, k.applied, k.received_at
			FROM inbox_keys AS k, n`, keys-1)
		if n := w.count("SELECT count(*) FROM inbox_keys"); n != keys {
			t.Fatalf("seeded %d keys, want %d", n, keys)
		}
		if n, err := w.purge(time.Microsecond); err != nil || n != keys {
			t.Fatalf("purge: %d, %v; want %d", n, err, keys)
		}
		if n := w.count("SELECT count(*) FROM inbox_keys"); n != 0 {
			t.Fatalf("%d keys left after the purge", n)
		}
		if n, err := w.purge(time.Microsecond); err != nil || n != 0 {
			t.Fatalf("a second purge: %d, %v; want 0", n, err)
		}
	})
}

// purges passes purges through to a store and reports each result.
type purges struct {
	inbox.Purger
	fail    error // the first purge fails with it, if set
	results chan int64
	mu      sync.Mutex
	calls   int
}

func (p *purges) Purge(ctx context.Context, retention time.Duration) (int64, error) {
	p.mu.Lock()
	p.calls++
	first := p.calls == 1
	p.mu.Unlock()
	if first && p.fail != nil {
		p.report(-1)
		return 0, p.fail
	}
	n, err := p.Purger.Purge(ctx, retention)
	if err == nil {
		p.report(n)
	}
	return n, err
}

// report passes n on unless the test stopped reading (results is large
// enough for every result the test reads).
func (p *purges) report(n int64) {
	select {
	case p.results <- n:
	default:
	}
}

// lockedLog is a log written by PurgeEvery's goroutine and read by the test.
type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// PurgeEvery purges at once and at each tick, says what it deleted, goes
// on after a failed purge, and returns when its context ends.
func TestPurgeEvery(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		h := w.handler()
		for range 3 {
			send(h, newEvent("note.created", note(uuid.New(), "ada", 1, "hello")))
		}
		p := &purges{Purger: w.purger, fail: errors.New("the database is away"), results: make(chan int64, 16)}
		var out lockedLog
		log := slog.New(slog.NewTextHandler(&out, nil))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- inbox.PurgeEvery(ctx, p, time.Microsecond, time.Millisecond, log) }()
		if n := <-p.results; n != -1 {
			t.Fatalf("the first purge deleted %d; want it to fail", n)
		}
		if n := <-p.results; n != 3 {
			t.Fatalf("the purge after the failure deleted %d keys; want 3", n)
		}
		// A purge logs before it waits for the next tick: once the next
		// purge ran, the log says what this one did.
		if n := <-p.results; n != 0 {
			t.Fatalf("the next purge deleted %d keys; want 0", n)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("PurgeEvery: %v", err)
		}
		for _, want := range []string{"purging old keys failed", "the database is away", "purged old keys", "keys=3"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("the log does not say %q:\n%s", want, out.String())
			}
		}
	})
	t.Run("not positive", func(t *testing.T) {
		if err := inbox.PurgeEvery(t.Context(), nil, 0, time.Hour, nil); err == nil {
			t.Error("a zero retention was accepted")
		}
		if err := inbox.PurgeEvery(t.Context(), nil, time.Hour, 0, nil); err == nil {
			t.Error("a zero interval was accepted")
		}
	})
}
