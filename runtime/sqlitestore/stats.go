package sqlitestore

import (
	"context"
	"fmt"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/internal/storekit"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore/internal/sqlitedb"
)

// Stats implements outbox.Inspector. Waiting and dead events are counted
// through their partial indexes; completed ones are read from the counts
// that triggers keep (migration 0007), exact and in constant time.
func (s *Store) Stats(ctx context.Context) (outbox.Stats, error) {
	st, err := s.stats(ctx)
	if err != nil {
		return outbox.Stats{}, fmt.Errorf("stats: %w", err)
	}
	return st, nil
}

func (s *Store) stats(ctx context.Context) (outbox.Stats, error) {
	q := sqlitedb.New(s.read)
	t := storekit.NewTally()
	waiting, err := q.CountWaiting(ctx)
	if err != nil {
		return outbox.Stats{}, err
	}
	for _, r := range waiting {
		t.Add(r.EventType, outbox.Status(r.Status), r.Events)
		t.Waiting(r.EventType, fromMicros(r.Oldest))
	}
	dead, err := q.CountDead(ctx)
	if err != nil {
		return outbox.Stats{}, err
	}
	for _, r := range dead {
		t.Add(r.EventType, outbox.StatusDead, r.Events)
	}
	completed, err := q.CountCompleted(ctx)
	if err != nil {
		return outbox.Stats{}, err
	}
	for _, r := range completed {
		t.Add(r.EventType, outbox.StatusCompleted, r.Events)
	}
	st := t.Stats()
	if st.NextRunAt, _, err = s.nextRunAt(ctx); err != nil {
		return outbox.Stats{}, err
	}
	if st.ExpiredLeases, err = q.CountExpiredLeases(ctx, nullInt(s.micros())); err != nil {
		return outbox.Stats{}, err
	}
	return st, nil
}
