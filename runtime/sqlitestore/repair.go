package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/internal/storekit"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore/internal/sqlitedb"
)

// Count implements outbox.Inspector.
func (s *Store) Count(ctx context.Context, sel outbox.Selection) (int64, error) {
	statuses, err := storekit.Statuses("count", sel, outbox.Statuses()...)
	if err != nil {
		return 0, err
	}
	n, err := sqlitedb.New(s.read).CountMatching(ctx, sqlitedb.CountMatchingParams{
		Statuses: jsonList(statuses), EventType: optional(sel.Type), UserID: optional(sel.UserID),
		CreatedBefore: optionalMicros(sel.CreatedBefore), CompletedBefore: optionalMicros(sel.CompletedBefore),
	})
	if err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}

// RetryMatching implements outbox.Inspector.
func (s *Store) RetryMatching(ctx context.Context, sel outbox.Selection, progress func(outbox.BulkResult)) (outbox.BulkResult, error) {
	statuses, err := storekit.Statuses("retry", sel, outbox.StatusDead, outbox.StatusFailed)
	if err != nil {
		return outbox.BulkResult{}, err
	}
	res, err := storekit.Bulk(ctx, sel.Limit, s.repairBatches(sel, statuses, requeue), progress)
	if res.Done > 0 {
		s.Notify()
	}
	if err != nil {
		return res, fmt.Errorf("retry: %w", err)
	}
	return res, nil
}

// requeue gives dead and failed events (oldest first) a fresh start; dead
// ones rejoin their keys' unfinished events, and in a key that had none the
// oldest of them becomes the head, as Retry decides for one event.
func requeue(ctx context.Context, q *sqlitedb.Queries, evs []sqlitedb.RepairCandidatesRow, now int64) error {
	ids := make([]string, len(evs))
	var heads []string // per idle key, its oldest revived event
	seen := map[string]bool{}
	for i, ev := range evs {
		ids[i] = ev.ID
		if outbox.Status(ev.Status) != outbox.StatusDead || seen[ev.OrderingKey] {
			continue
		}
		seen[ev.OrderingKey] = true
		busy, err := q.KeyHasUnfinished(ctx, ev.OrderingKey)
		if err != nil {
			return fmt.Errorf("requeue: %w", err)
		}
		if busy == 0 {
			heads = append(heads, ev.ID)
		}
	}
	if err := q.RequeueMatching(ctx, sqlitedb.RequeueMatchingParams{Ids: jsonList(ids), Now: now}); err != nil {
		return fmt.Errorf("requeue: %w", err)
	}
	for _, id := range heads {
		if err := q.SetHead(ctx, id); err != nil {
			return fmt.Errorf("make a revived event its key's head: %w", err)
		}
	}
	return nil
}

// DiscardMatching implements outbox.Inspector.
func (s *Store) DiscardMatching(ctx context.Context, sel outbox.Selection, progress func(outbox.BulkResult)) (outbox.BulkResult, error) {
	statuses, err := storekit.Statuses("discard", sel, outbox.Statuses()...)
	if err != nil {
		return outbox.BulkResult{}, err
	}
	res, err := storekit.Bulk(ctx, sel.Limit, s.repairBatches(sel, statuses, deleteEvents), progress)
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

// deleteEvents deletes events; the keys whose heads they include get their
// next events as heads.
func deleteEvents(ctx context.Context, q *sqlitedb.Queries, evs []sqlitedb.RepairCandidatesRow, _ int64) error {
	ids := make([]string, len(evs))
	var heads []finishedHead
	for i, ev := range evs {
		ids[i] = ev.ID
		if ev.IsHead {
			heads = append(heads, finishedHead{key: ev.OrderingKey, seq: ev.Seq})
		}
	}
	if err := q.DeleteEvents(ctx, jsonList(ids)); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	_, err := promoteNext(ctx, q, heads)
	return err
}

// repairBatches returns the batches of a repair of the events sel selects
// in statuses: each applies repair to the next events in one write
// transaction, reading on from where the last ended. SQLite's single
// writer keeps processors out meanwhile, so no event is ever held.
func (s *Store) repairBatches(sel outbox.Selection, statuses []string,
	repair func(context.Context, *sqlitedb.Queries, []sqlitedb.RepairCandidatesRow, int64) error) storekit.Batch {
	var after int64
	return func(ctx context.Context, max int) (done, held int, err error) {
		var last int64
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			now := s.micros()
			q := s.q.WithTx(tx)
			evs, err := q.RepairCandidates(ctx, sqlitedb.RepairCandidatesParams{
				After: after, Statuses: jsonList(statuses), EventType: optional(sel.Type), UserID: optional(sel.UserID),
				CreatedBefore: optionalMicros(sel.CreatedBefore), CompletedBefore: optionalMicros(sel.CompletedBefore),
				Now: nullInt(now), MaxEvents: int64(max),
			})
			if err != nil || len(evs) == 0 {
				return err
			}
			done, last = len(evs), evs[len(evs)-1].Seq
			return repair(ctx, q, evs, now)
		})
		if err != nil {
			return 0, 0, err
		}
		if done > 0 {
			after = last
		}
		return done, 0, nil
	}
}

// PurgeMatching implements outbox.Inspector.
func (s *Store) PurgeMatching(ctx context.Context, sel outbox.Selection, progress func(outbox.BulkResult)) (outbox.BulkResult, error) {
	if _, err := storekit.Statuses("purge", sel, outbox.StatusCompleted); err != nil {
		return outbox.BulkResult{}, err
	}
	res, err := storekit.Bulk(ctx, sel.Limit, func(ctx context.Context, max int) (int, int, error) {
		n, err := s.q.PurgeMatching(ctx, sqlitedb.PurgeMatchingParams{
			EventType: optional(sel.Type), UserID: optional(sel.UserID),
			CreatedBefore: optionalMicros(sel.CreatedBefore), CompletedBefore: optionalMicros(sel.CompletedBefore), MaxEvents: int64(max),
		})
		return int(n), 0, err
	}, progress)
	if err != nil {
		return res, fmt.Errorf("purge: %w", err)
	}
	return res, nil
}

// jsonList is a list as the queries take it: a JSON array, which they read
// with json_each.
func jsonList(items []string) string {
	b, _ := json.Marshal(items) // strings always encode
	return string(b)
}
