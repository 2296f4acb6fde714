package pgstore

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// Subscribe implements outbox.Store. Besides this process's own commits, the
// subscription hears NOTIFY from every other process, over a connection of
// its own that is re-established with backoff if it drops.
func (s *Store) Subscribe() (<-chan struct{}, func()) {
	sub := s.local.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.listen(ctx, sub.Signal)
	}()
	return sub.C, func() {
		cancel()
		wg.Wait()
		sub.Cancel()
	}
}

var reconnect = outbox.Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2}

func (s *Store) listen(ctx context.Context, signal func()) {
	for failures := 0; ctx.Err() == nil; {
		listened, err := s.listenOnce(ctx, signal)
		if ctx.Err() != nil {
			return
		}
		if listened {
			failures = 0 // the connection worked for a while: start the backoff over
		}
		failures++
		wait := reconnect.Delay(failures)
		s.log.Warn("outbox LISTEN connection lost; reconnecting", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// listenOnce holds one LISTEN connection until it fails or ctx ends. It
// reports whether it got as far as listening.
func (s *Store) listenOnce(ctx context.Context, signal func()) (listened bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return false, err
	}
	// Notifications sent while we were not listening are lost; look once.
	signal()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		if s.notifier.fromOthers(n.Payload) {
			signal()
		}
	}
}

// notifier sends NOTIFY after commits, outside the writers' transactions,
// coalescing bursts: while one NOTIFY is in flight, or less than
// notifySpacing after it, any number of further kicks cost one more, sent
// when the spacing is over. Every kick is followed by a NOTIFY that starts
// after it, so no commit is left to the poll.
type notifier struct {
	pool    *pgxpool.Pool
	channel string
	origin  string // the payload, which tells this store's NOTIFYs from others'
	log     *slog.Logger

	mu      sync.Mutex
	pending bool
	running bool
	closed  bool
	last    time.Time // when the latest NOTIFY was sent
	wg      sync.WaitGroup
}

func (n *notifier) kick() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	n.pending = true
	if n.running {
		return
	}
	n.running = true
	n.wg.Add(1)
	go n.send()
}

// notifySpacing is the least time between two NOTIFYs of one store. Each
// is a transaction of its own, which PostgreSQL serialises on its
// notification queue; under a stream of saves, one per few milliseconds
// wakes the other processes as well as one per commit would, at a fraction
// of the cost.
const notifySpacing = 5 * time.Millisecond

// notifyQuery sends the wake-up without waiting for its commit record to
// reach the disk: a NOTIFY lost in a crash costs at most a poll interval,
// never an event.
const notifyQuery = "SELECT pg_notify($1, $2), set_config('synchronous_commit', 'off', true)"

func (n *notifier) send() {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		if !n.pending {
			n.running = false
			n.mu.Unlock()
			return
		}
		// Once the store is closing, the last NOTIFY goes without waiting.
		if wait := notifySpacing - time.Since(n.last); wait > 0 && !n.closed {
			n.mu.Unlock()
			time.Sleep(wait) // kicks meanwhile join this NOTIFY
			continue
		}
		n.pending = false
		n.last = time.Now()
		n.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// A lost NOTIFY only delays delivery until the next poll.
		if _, err := n.pool.Exec(ctx, notifyQuery, n.channel, n.origin); err != nil {
			n.log.Debug("outbox NOTIFY failed", "err", err)
		}
		cancel()
	}
}

// fromOthers reports whether a NOTIFY with payload came from another
// store. This store's own NOTIFYs follow wake-ups it gave its subscribers
// already; heard again, each would cost a claim that finds nothing.
func (n *notifier) fromOthers(payload string) bool { return payload != n.origin }

// close stops taking kicks and waits for the NOTIFY of the last ones.
func (n *notifier) close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.wg.Wait()
}
