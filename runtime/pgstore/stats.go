package pgstore

import (
	"context"
	"fmt"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/internal/storekit"
)

// completedBound is how many completed events Stats counts exactly: above
// it, it estimates them from the statistics' count of live rows, so that
// a scrape of a table of millions costs what one of thousands does.
const completedBound = 10_000

// Stats implements outbox.Inspector. Waiting and dead events are counted
// exactly, through their partial indexes; completed ones exactly up to
// completedBound, and estimated beyond (see outbox.Stats).
func (s *Store) Stats(ctx context.Context) (outbox.Stats, error) {
	st, err := s.stats(ctx)
	if err != nil {
		return outbox.Stats{}, fmt.Errorf("stats: %w", err)
	}
	return st, nil
}

func (s *Store) stats(ctx context.Context) (outbox.Stats, error) {
	t := storekit.NewTally()
	waiting, err := s.q.CountWaiting(ctx)
	if err != nil {
		return outbox.Stats{}, err
	}
	for _, r := range waiting {
		t.Add(r.EventType, outbox.Status(r.Status), r.Events)
		t.Waiting(r.EventType, r.Oldest)
	}
	dead, err := s.q.CountDead(ctx)
	if err != nil {
		return outbox.Stats{}, err
	}
	for _, r := range dead {
		t.Add(r.EventType, outbox.StatusDead, r.Events)
	}
	completed, err := s.q.CountCompletedUpTo(ctx, completedBound+1)
	if err != nil {
		return outbox.Stats{}, err
	}
	if completed <= completedBound {
		byType, err := s.q.CountCompletedByType(ctx)
		if err != nil {
			return outbox.Stats{}, err
		}
		for _, r := range byType {
			t.Add(r.EventType, outbox.StatusCompleted, r.Events)
		}
	} else {
		live, err := s.q.EstimateEvents(ctx)
		if err != nil {
			return outbox.Stats{}, err
		}
		t.EstimateCompleted(max(completed, live-t.Unfinished()))
	}
	st := t.Stats()
	next, ok, err := s.nextDue(ctx)
	if err != nil {
		return outbox.Stats{}, err
	}
	if ok {
		st.NextRunAt = next.RunAt
	}
	if st.ExpiredLeases, err = s.q.CountExpiredLeases(ctx, s.now()); err != nil {
		return outbox.Stats{}, err
	}
	return st, nil
}
