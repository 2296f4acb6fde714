package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/internal/storekit"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore/internal/sqlitedb"
)

// List implements outbox.Inspector.
func (s *Store) List(ctx context.Context, f outbox.Filter) ([]*outbox.Event, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	rows, err := sqlitedb.New(s.read).ListEvents(ctx, sqlitedb.ListEventsParams{
		Status:        optional(string(f.Status)),
		EventType:     optional(f.Type),
		UserID:        optional(f.UserID),
		CreatedBefore: optionalMicros(f.CreatedBefore),
		MaxEvents:     int64(f.Limit),
	})
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return toEvents(rows)
}

// CountByUser implements outbox.Inspector.
func (s *Store) CountByUser(ctx context.Context, limit int) ([]outbox.UserCounts, error) {
	rows, err := sqlitedb.New(s.read).CountUnfinishedByUser(ctx)
	if err != nil {
		return nil, fmt.Errorf("count by user: %w", err)
	}
	counts := make([]storekit.UserStatusCount, len(rows))
	for i, r := range rows {
		counts[i] = storekit.UserStatusCount{UserID: r.UserID, Status: r.Status, Events: r.Events}
	}
	return storekit.TopUsers(counts, limit), nil
}

// Get implements outbox.Inspector.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (*outbox.Event, error) {
	row, err := sqlitedb.New(s.read).GetEvent(ctx, id.String())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("event %s: %w", id, outbox.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get event %s: %w", id, err)
	}
	ev, err := toEvent(row)
	if err != nil {
		return nil, err
	}
	if ev.History, err = storekit.DecodeHistory([]byte(row.AttemptLog)); err != nil {
		return nil, fmt.Errorf("get event %s: %w", id, err)
	}
	return ev, nil
}

// Retry implements outbox.Inspector.
func (s *Store) Retry(ctx context.Context, id uuid.UUID) error {
	now := s.micros()
	err := s.withEvent(ctx, id, func(q *sqlitedb.Queries, ev sqlitedb.OutboxEvent) error {
		switch outbox.Status(ev.Status) {
		case outbox.StatusFailed:
			return q.RequeueFailed(ctx, sqlitedb.RequeueFailedParams{Now: now, ID: ev.ID})
		case outbox.StatusDead:
			// The event rejoins its key's queue; it is the head only if
			// the key has nothing else unfinished.
			busy, err := q.KeyHasUnfinished(ctx, ev.OrderingKey)
			if err != nil {
				return err
			}
			return q.RequeueDead(ctx, sqlitedb.RequeueDeadParams{IsHead: busy == 0, Now: now, ID: ev.ID})
		}
		return fmt.Errorf("event %s is %s: %w", id, ev.Status, outbox.ErrNotRetryable)
	})
	if err != nil {
		return fmt.Errorf("retry: %w", err)
	}
	s.Notify()
	return nil
}

// Discard implements outbox.Inspector.
func (s *Store) Discard(ctx context.Context, id uuid.UUID) error {
	promoted := false
	now := s.clock()
	err := s.withEvent(ctx, id, func(q *sqlitedb.Queries, ev sqlitedb.OutboxEvent) error {
		status := outbox.Status(ev.Status)
		if status == outbox.StatusProcessing && ev.LeaseUntil.Int64 > micros(now) {
			until := fromMicros(ev.LeaseUntil.Int64)
			return fmt.Errorf("event %s: %w until its lease ends at %s", id, outbox.ErrInFlight, until.Format(time.RFC3339))
		}
		if err := q.DeleteEvent(ctx, ev.ID); err != nil {
			return err
		}
		if !ev.IsHead {
			return nil // finished, or waiting behind its key's head
		}
		var err error
		promoted, err = promoteNext(ctx, q, []finishedHead{{key: ev.OrderingKey, seq: ev.Seq}})
		return err
	})
	if err != nil {
		return fmt.Errorf("discard: %w", err)
	}
	if promoted {
		s.Notify()
	}
	return nil
}

// PurgeCompleted implements outbox.Inspector. It deletes in chunks so that
// writers are never held up by one long purge.
func (s *Store) PurgeCompleted(ctx context.Context, before time.Time) (int64, error) {
	const chunk = 5_000
	var total int64
	for {
		n, err := s.q.PurgeCompleted(ctx, sqlitedb.PurgeCompletedParams{Before: nullInt(micros(before)), MaxEvents: chunk})
		total += n
		if err != nil {
			return total, fmt.Errorf("purge completed: %w", err)
		}
		if n < chunk {
			return total, nil
		}
	}
}

// withEvent runs fn in a write transaction after reading the event.
func (s *Store) withEvent(ctx context.Context, id uuid.UUID, fn func(*sqlitedb.Queries, sqlitedb.OutboxEvent) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		q := s.q.WithTx(tx)
		ev, err := q.GetEvent(ctx, id.String())
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("event %s: %w", id, outbox.ErrNotFound)
		}
		if err != nil {
			return err
		}
		return fn(q, ev)
	})
}

func optionalMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micros(t)
}

func optional(s string) any {
	if s == "" {
		return nil
	}
	return s
}
