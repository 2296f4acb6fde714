package sqlitestore

import (
	"context"
	"sync"
	"time"
)

// Subscribe implements outbox.Store. Besides commits made through this
// Store, the subscription notices commits by other processes by watching
// SQLite's data_version, which changes whenever another connection commits.
func (s *Store) Subscribe() (<-chan struct{}, func()) {
	sub := s.local.Subscribe()
	if s.watchEvery <= 0 {
		return sub.C, sub.Cancel
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.watch(ctx, sub.Signal)
	}()
	return sub.C, func() {
		cancel()
		wg.Wait()
		sub.Cancel()
	}
}

// watch signals when data_version changes. Commits by this process change it
// too (they use another connection); the extra wake-ups cost a claim query.
func (s *Store) watch(ctx context.Context, signal func()) {
	conn, err := s.read.Conn(ctx)
	if err != nil {
		return // the poll still finds the work
	}
	defer conn.Close()
	ticker := time.NewTicker(s.watchEvery)
	defer ticker.Stop()
	var last int64
	for {
		var v int64
		if err := conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err == nil {
			if last != 0 && v != last {
				signal()
			}
			last = v
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
