package pgstore

import (
	"context"
	"fmt"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/pgstore/internal/pgdb"
)

// ListPage implements outbox.Browser.
func (s *Store) ListPage(ctx context.Context, f outbox.Filter, after outbox.PageKey) ([]*outbox.Event, error) {
	if !f.Status.Valid() {
		return nil, fmt.Errorf("list page: status %q: a page lists one status", f.Status)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	// The statements take the same parameters; each exists for its plan.
	p := pgdb.ListPageParams{
		Status:         string(f.Status),
		AfterCreatedAt: after.At,
		AfterID:        after.ID,
		EventType:      optional(f.Type),
		CreatedBefore:  optionalTime(f.CreatedBefore),
		MaxEvents:      int32(f.Limit),
	}
	var rows []*pgdb.OutboxEvent
	var err error
	switch {
	case f.Status == outbox.StatusCompleted && f.UserID != "": // in completion order
		rows, err = s.q.ListCompletedPageOfUser(ctx, pgdb.ListCompletedPageOfUserParams{
			UserID: f.UserID, AfterCompletedAt: p.AfterCreatedAt, AfterID: p.AfterID,
			EventType: p.EventType, CreatedBefore: p.CreatedBefore, MaxEvents: p.MaxEvents,
		})
	case f.Status == outbox.StatusCompleted:
		rows, err = s.q.ListCompletedPage(ctx, pgdb.ListCompletedPageParams{
			AfterCompletedAt: p.AfterCreatedAt, AfterID: p.AfterID,
			EventType: p.EventType, CreatedBefore: p.CreatedBefore, MaxEvents: p.MaxEvents,
		})
	case f.UserID != "":
		rows, err = s.q.ListPageOfUser(ctx, pgdb.ListPageOfUserParams{
			UserID: f.UserID, Status: p.Status, AfterCreatedAt: p.AfterCreatedAt, AfterID: p.AfterID,
			EventType: p.EventType, CreatedBefore: p.CreatedBefore, MaxEvents: p.MaxEvents,
		})
	case f.Status == outbox.StatusFailed || f.Status == outbox.StatusDead:
		rows, err = s.q.ListFailedOrDeadPage(ctx, pgdb.ListFailedOrDeadPageParams(p))
	default:
		rows, err = s.q.ListPage(ctx, p)
	}
	if err != nil {
		return nil, fmt.Errorf("list page of %s events: %w", f.Status, err)
	}
	evs := toEvents(rows)
	for _, ev := range evs {
		ev.Payload = nil
	}
	return evs, nil
}

// CountMatching implements outbox.Browser.
func (s *Store) CountMatching(ctx context.Context, f outbox.Filter) (int64, error) {
	n, err := s.q.CountFiltered(ctx, pgdb.CountFilteredParams{
		Status:        optional(string(f.Status)),
		EventType:     optional(f.Type),
		UserID:        optional(f.UserID),
		CreatedBefore: optionalTime(f.CreatedBefore),
	})
	if err != nil {
		return 0, fmt.Errorf("count matching events: %w", err)
	}
	return n, nil
}

// ActivityByMinute implements outbox.Browser.
func (s *Store) ActivityByMinute(ctx context.Context, since time.Time) ([]outbox.MinuteCounts, error) {
	delivered, err := s.q.DeliveredPerMinute(ctx, since)
	if err != nil {
		return nil, fmt.Errorf("deliveries per minute: %w", err)
	}
	failed, err := s.q.FailedPerMinute(ctx, since)
	if err != nil {
		return nil, fmt.Errorf("failures per minute: %w", err)
	}
	d := make(map[time.Time]int64, len(delivered))
	for _, r := range delivered {
		d[r.Minute] += r.Events
	}
	fl := make(map[time.Time]int64, len(failed))
	for _, r := range failed {
		fl[r.Minute] += r.Events
	}
	return outbox.MergeMinutes(d, fl), nil
}

var _ outbox.Browser = (*Store)(nil)
