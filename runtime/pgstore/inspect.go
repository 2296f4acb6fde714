package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/internal/storekit"
	"github.com/outboxgen/outboxgen/runtime/pgstore/internal/pgdb"
)

// List implements outbox.Inspector.
func (s *Store) List(ctx context.Context, f outbox.Filter) ([]*outbox.Event, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	rows, err := s.q.ListEvents(ctx, pgdb.ListEventsParams{
		Status:        optional(string(f.Status)),
		EventType:     optional(f.Type),
		UserID:        optional(f.UserID),
		CreatedBefore: optionalTime(f.CreatedBefore),
		MaxEvents:     int32(f.Limit),
	})
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return toEvents(rows), nil
}

// CountByUser implements outbox.Inspector.
func (s *Store) CountByUser(ctx context.Context, limit int) ([]outbox.UserCounts, error) {
	rows, err := s.q.CountUnfinishedByUser(ctx)
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
	row, err := s.q.GetEvent(ctx, id)
	if isNoRows(err) {
		return nil, fmt.Errorf("event %s: %w", id, outbox.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get event %s: %w", id, err)
	}
	ev := toEvent(row)
	if ev.History, err = storekit.DecodeHistory(row.AttemptLog); err != nil {
		return nil, fmt.Errorf("get event %s: %w", id, err)
	}
	return ev, nil
}

// Retry implements outbox.Inspector.
func (s *Store) Retry(ctx context.Context, id uuid.UUID) error {
	err := s.withEvent(ctx, id, func(q *pgdb.Queries, ev *pgdb.LockEventRow) error {
		switch outbox.Status(ev.Status) {
		case outbox.StatusFailed:
			return q.RequeueFailed(ctx, pgdb.RequeueFailedParams{Now: s.now(), ID: id})
		case outbox.StatusDead:
			// The event rejoins its key's queue; it is the head only if
			// the key has nothing else unfinished.
			n, err := q.IncrementKey(ctx, ev.OrderingKey)
			if err != nil {
				return err
			}
			return q.RequeueDead(ctx, pgdb.RequeueDeadParams{IsHead: n == 1, Now: s.now(), ID: id})
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
	err := s.withEvent(ctx, id, func(q *pgdb.Queries, ev *pgdb.LockEventRow) error {
		if ev.InFlight {
			return fmt.Errorf("event %s: %w; wait until its lease ends", id, outbox.ErrInFlight)
		}
		if err := q.DeleteEvent(ctx, id); err != nil {
			return err
		}
		if outbox.Status(ev.Status).Finished() {
			return nil
		}
		var err error
		promoted, err = finishKeys(ctx, q, []string{ev.OrderingKey})
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
// a large purge never holds one huge transaction.
func (s *Store) PurgeCompleted(ctx context.Context, before time.Time) (int64, error) {
	const chunk = 10_000
	var total int64
	for {
		n, err := s.q.PurgeCompleted(ctx, pgdb.PurgeCompletedParams{Before: before, MaxEvents: chunk})
		total += n
		if err != nil {
			return total, fmt.Errorf("purge completed: %w", err)
		}
		if n < chunk {
			return total, nil
		}
	}
}

// withEvent runs fn in a transaction holding the lock of the event's key,
// then of the event: the order in which Finish takes them. An event whose
// row is locked is being recorded by a processor, so it is in flight.
func (s *Store) withEvent(ctx context.Context, id uuid.UUID, fn func(*pgdb.Queries, *pgdb.LockEventRow) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, readCommitted, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		ev, err := q.GetEvent(ctx, id)
		if isNoRows(err) {
			return fmt.Errorf("event %s: %w", id, outbox.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if _, err := q.LockKey(ctx, ev.OrderingKey); err != nil {
			return err
		}
		locked, err := q.LockEvent(ctx, pgdb.LockEventParams{Now: s.now(), ID: id})
		var pgErr *pgconn.PgError
		switch {
		case isNoRows(err):
			return fmt.Errorf("event %s: %w", id, outbox.ErrNotFound)
		case errors.As(err, &pgErr) && pgErr.Code == "55P03": // lock_not_available
			return fmt.Errorf("event %s: %w", id, outbox.ErrInFlight)
		case err != nil:
			return err
		}
		return fn(q, locked)
	})
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
