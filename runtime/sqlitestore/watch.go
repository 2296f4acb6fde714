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
// The watch holds a connection of its own for as long as it runs, outside
// the read pool, which it would otherwise drain one processor at a time.
func (s *Store) watch(ctx context.Context, signal func()) {
	db, err := open(s.path, s.sync, "deferred")
	if err != nil {
		return // the poll still finds the work
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return
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
