package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore/internal/sqlitedb"
)

// ListPage implements outbox.Browser.
func (s *Store) ListPage(ctx context.Context, f outbox.Filter, after outbox.PageKey) ([]*outbox.Event, error) {
	if !f.Status.Valid() {
		return nil, fmt.Errorf("list page: status %q: a page lists one status", f.Status)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	afterAt := int64(-1 << 63) // the zero key comes before every event
	if !after.At.IsZero() {
		afterAt = micros(after.At)
	}
	p := sqlitedb.ListPageParams{
		Status:         string(f.Status),
		AfterCreatedAt: afterAt,
		AfterID:        after.ID.String(),
		EventType:      optional(f.Type),
		UserID:         optional(f.UserID),
		CreatedBefore:  optionalMicros(f.CreatedBefore),
		MaxEvents:      int64(f.Limit),
	}
	q := sqlitedb.New(s.read)
	var rows []sqlitedb.OutboxEvent
	var err error
	switch f.Status { // the same parameters, each statement for its plan
	case outbox.StatusCompleted:
		rows, err = q.ListCompletedPage(ctx, sqlitedb.ListCompletedPageParams{
			AfterCompletedAt: sql.NullInt64{Int64: afterAt, Valid: true}, AfterID: p.AfterID, EventType: p.EventType,
			UserID: p.UserID, CreatedBefore: p.CreatedBefore, MaxEvents: p.MaxEvents,
		})
	case outbox.StatusFailed, outbox.StatusDead:
		rows, err = q.ListFailedOrDeadPage(ctx, sqlitedb.ListFailedOrDeadPageParams(p))
	default:
		rows, err = q.ListPage(ctx, p)
	}
	if err != nil {
		return nil, fmt.Errorf("list page of %s events: %w", f.Status, err)
	}
	evs, err := toEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("list page of %s events: %w", f.Status, err)
	}
	for _, ev := range evs {
		ev.Payload = nil
	}
	return evs, nil
}

// CountMatching implements outbox.Browser.
func (s *Store) CountMatching(ctx context.Context, f outbox.Filter) (int64, error) {
	n, err := sqlitedb.New(s.read).CountFiltered(ctx, sqlitedb.CountFilteredParams{
		Status:        optional(string(f.Status)),
		EventType:     optional(f.Type),
		UserID:        optional(f.UserID),
		CreatedBefore: optionalMicros(f.CreatedBefore),
	})
	if err != nil {
		return 0, fmt.Errorf("count matching events: %w", err)
	}
	return n, nil
}

// ActivityByMinute implements outbox.Browser.
func (s *Store) ActivityByMinute(ctx context.Context, since time.Time) ([]outbox.MinuteCounts, error) {
	q := sqlitedb.New(s.read)
	delivered, err := q.DeliveredPerMinute(ctx, nullInt(micros(since)))
	if err != nil {
		return nil, fmt.Errorf("deliveries per minute: %w", err)
	}
	failed, err := q.FailedPerMinute(ctx, nullInt(micros(since)))
	if err != nil {
		return nil, fmt.Errorf("failures per minute: %w", err)
	}
	d := make(map[time.Time]int64, len(delivered))
	for _, r := range delivered {
		d[fromMicros(r.Minute)] += r.Events
	}
	fl := make(map[time.Time]int64, len(failed))
	for _, r := range failed {
		fl[fromMicros(r.Minute)] += r.Events
	}
	return outbox.MergeMinutes(d, fl), nil
}

var _ outbox.Browser = (*Store)(nil)
