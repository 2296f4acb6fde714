package pgstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/internal/storekit"
	"github.com/outboxgen/outboxgen/runtime/pgstore/internal/pgdb"
)

// Count implements outbox.Inspector.
func (s *Store) Count(ctx context.Context, sel outbox.Selection) (int64, error) {
	statuses, err := storekit.Statuses("count", sel, outbox.Statuses()...)
	if err != nil {
		return 0, err
	}
	n, err := s.q.CountMatching(ctx, pgdb.CountMatchingParams{
		Statuses: statuses, EventType: optional(sel.Type), UserID: optional(sel.UserID),
		CreatedBefore: optionalTime(sel.CreatedBefore), CompletedBefore: optionalTime(sel.CompletedBefore),
	})
	if err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}

// RetryMatching implements outbox.Inspector. Each batch locks the events'
// keys before the events, as Retry does, and skips events locked by a
// processor recording an outcome.
func (s *Store) RetryMatching(ctx context.Context, sel outbox.Selection, progress func(outbox.BulkResult)) (outbox.BulkResult, error) {
	statuses, err := storekit.Statuses("retry", sel, outbox.StatusDead, outbox.StatusFailed)
	if err != nil {
		return outbox.BulkResult{}, err
	}
	res, err := storekit.Bulk(ctx, sel.Limit, func(ctx context.Context, max int) (int, int, error) {
		return s.repairBatch(ctx, sel, statuses, max, s.requeue)
	}, progress)
	if res.Done > 0 {
		s.Notify()
	}
	if err != nil {
		return res, fmt.Errorf("retry: %w", err)
	}
	return res, nil
}

// requeue gives locked dead and failed events a fresh start; dead ones
// rejoin their keys' unfinished events, and in a key that had none the
// oldest of them becomes the head, as Retry decides for one event.
func (s *Store) requeue(ctx context.Context, q *pgdb.Queries, evs []*pgdb.LockRepairableRow) error {
	slices.SortFunc(evs, func(a, b *pgdb.LockRepairableRow) int { return cmp.Compare(a.Seq, b.Seq) })
	var ids []uuid.UUID
	var keys []string
	revived := map[string][]uuid.UUID{} // by key, oldest first
	for _, ev := range evs {
		ids = append(ids, ev.ID)
		if outbox.Status(ev.Status) == outbox.StatusDead {
			keys = append(keys, ev.OrderingKey)
			revived[ev.OrderingKey] = append(revived[ev.OrderingKey], ev.ID)
		}
	}
	if err := q.RequeueMatching(ctx, pgdb.RequeueMatchingParams{Ids: ids, Now: s.now()}); err != nil {
		return fmt.Errorf("requeue: %w", err)
	}
	if len(keys) == 0 {
		return nil
	}
	counts, err := q.IncrementKeys(ctx, keys)
	if err != nil {
		return fmt.Errorf("count revived events in their keys: %w", err)
	}
	var heads []uuid.UUID
	for _, c := range counts {
		if evs := revived[c.OrderingKey]; int(c.Unfinished) == len(evs) {
			heads = append(heads, evs[0])
		}
	}
	if err := q.SetHeads(ctx, heads); err != nil {
		return fmt.Errorf("make revived events heads: %w", err)
	}
	return nil
}

// DiscardMatching implements outbox.Inspector.
func (s *Store) DiscardMatching(ctx context.Context, sel outbox.Selection, progress func(outbox.BulkResult)) (outbox.BulkResult, error) {
	statuses, err := storekit.Statuses("discard", sel, outbox.Statuses()...)
	if err != nil {
		return outbox.BulkResult{}, err
	}
	res, err := storekit.Bulk(ctx, sel.Limit, func(ctx context.Context, max int) (int, int, error) {
		return s.repairBatch(ctx, sel, statuses, max, deleteEvents)
	}, progress)
	if res.Done > 0 {
		s.Notify() // keys' next events may have moved up
	}
	if err != nil {
		return res, fmt.Errorf("discard: %w", err)
	}
	if slices.Contains(statuses, string(outbox.StatusProcessing)) {
		// Left: the selected events being delivered, never candidates.
		inFlight := sel
		inFlight.Statuses = []outbox.Status{outbox.StatusProcessing}
		n, err := s.Count(ctx, inFlight)
		if err != nil {
			return res, fmt.Errorf("discard: %w", err)
		}
		res.Skipped += n
	}
	return res, nil
}

// deleteEvents deletes locked events; the unfinished ones leave their
// keys, whose next events move up.
func deleteEvents(ctx context.Context, q *pgdb.Queries, evs []*pgdb.LockRepairableRow) error {
	var ids []uuid.UUID
	var keys []string
	for _, ev := range evs {
		ids = append(ids, ev.ID)
		if !outbox.Status(ev.Status).Finished() {
			keys = append(keys, ev.OrderingKey)
		}
	}
	if err := q.DeleteEvents(ctx, ids); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	_, err := finishKeys(ctx, q, keys)
	return err
}

// repairBatch applies repair to the next max events sel selects in
// statuses, in a transaction that locks their keys, then the events still
// to be repaired, skipping those a processor holds; it returns how many it
// repaired and how many it found held. Like a processor's, the transaction
// gives way after 500 ms of waiting for a lock (an application's
// transaction may hold several keys); it is then tried again.
func (s *Store) repairBatch(ctx context.Context, sel outbox.Selection, statuses []string, max int,
	repair func(context.Context, *pgdb.Queries, []*pgdb.LockRepairableRow) error) (done, held int, err error) {
	for tries := 1; ; tries++ {
		done, held, err = s.tryRepairBatch(ctx, sel, statuses, max, repair)
		var pgErr *pgconn.PgError
		if tries == 5 || !errors.As(err, &pgErr) || (pgErr.Code != "55P03" && pgErr.Code != "40P01") { // lock_not_available, deadlock_detected
			return done, held, err
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(lockRetry.Delay(tries)):
		}
	}
}

// lockRetry paces the batches tried again after giving way on a lock.
var lockRetry = outbox.Backoff{Base: 50 * time.Millisecond, Max: time.Second, Jitter: 0.5}

func (s *Store) tryRepairBatch(ctx context.Context, sel outbox.Selection, statuses []string, max int,
	repair func(context.Context, *pgdb.Queries, []*pgdb.LockRepairableRow) error) (done, held int, err error) {
	err = pgx.BeginTxFunc(ctx, s.pool, processorTx, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		candidates, err := q.RepairCandidates(ctx, pgdb.RepairCandidatesParams{
			Statuses: statuses, EventType: optional(sel.Type), UserID: optional(sel.UserID),
			CreatedBefore: optionalTime(sel.CreatedBefore), CompletedBefore: optionalTime(sel.CompletedBefore),
			Now: s.now(), MaxEvents: int32(max),
		})
		if err != nil || len(candidates) == 0 {
			return err
		}
		ids, keys := make([]uuid.UUID, len(candidates)), make([]string, len(candidates))
		for i, c := range candidates {
			ids[i], keys[i] = c.ID, c.OrderingKey
		}
		if _, err := q.LockKeys(ctx, keys); err != nil {
			return fmt.Errorf("lock keys: %w", err)
		}
		locked, err := q.LockRepairable(ctx, pgdb.LockRepairableParams{Ids: ids, Statuses: statuses, Now: s.now()})
		if err != nil {
			return fmt.Errorf("lock events: %w", err)
		}
		done, held = len(locked), len(candidates)-len(locked)
		if done == 0 {
			return nil
		}
		return repair(ctx, q, locked)
	})
	if err != nil {
		return 0, 0, err
	}
	return done, held, nil
}

// PurgeMatching implements outbox.Inspector.
func (s *Store) PurgeMatching(ctx context.Context, sel outbox.Selection, progress func(outbox.BulkResult)) (outbox.BulkResult, error) {
	if _, err := storekit.Statuses("purge", sel, outbox.StatusCompleted); err != nil {
		return outbox.BulkResult{}, err
	}
	res, err := storekit.Bulk(ctx, sel.Limit, func(ctx context.Context, max int) (int, int, error) {
		n, err := s.q.PurgeMatching(ctx, pgdb.PurgeMatchingParams{
			EventType: optional(sel.Type), UserID: optional(sel.UserID),
			CreatedBefore: optionalTime(sel.CreatedBefore), CompletedBefore: optionalTime(sel.CompletedBefore), MaxEvents: int32(max),
		})
		return int(n), 0, err
	}, progress)
	if err != nil {
		return res, fmt.Errorf("purge: %w", err)
	}
	return res, nil
}
