package pgstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/internal/storekit"
	"github.com/outboxgen/outboxgen/runtime/pgstore/internal/pgdb"
)

// Claim implements outbox.Store.
func (s *Store) Claim(ctx context.Context, owner string, limit int, lease time.Duration) ([]*outbox.Event, error) {
	token := uuid.New()
	rows, err := pgdb.New(statementTx{s.pool}).Claim(ctx, pgdb.ClaimParams{
		Owner:     owner,
		Token:     token,
		Now:       s.now(),
		LeaseMs:   lease.Milliseconds(),
		MaxEvents: int32(limit),
	})
	if err != nil {
		return nil, err
	}
	// UPDATE … RETURNING does not keep the claim order; restore it.
	slices.SortFunc(rows, func(a, b *pgdb.ClaimRow) int {
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), cmp.Compare(a.Seq, b.Seq))
	})
	evs := make([]*outbox.Event, len(rows))
	for i, r := range rows {
		evs[i] = toEvent(&pgdb.OutboxEvent{
			ID: r.ID, Seq: r.Seq, EventType: r.EventType, Aggregate: r.Aggregate, AggregateID: r.AggregateID,
			UserID: r.UserID, OrderingKey: r.OrderingKey, IsNewRecord: r.IsNewRecord, EntityVersion: r.EntityVersion,
			Payload: r.Payload, Metadata: r.Metadata, Priority: r.Priority, Status: r.Status, IsHead: r.IsHead,
			Attempts: r.Attempts, MaxAttempts: r.MaxAttempts, RunAt: r.RunAt, LeaseOwner: &owner,
			LeaseToken: &token, LeaseUntil: r.LeaseUntil, LastError: r.LastError, CreatedAt: r.CreatedAt,
			UpdatedAt: r.UpdatedAt, CompletedAt: r.CompletedAt, LeaseExpiries: r.LeaseExpiries,
			Releases: r.Releases, FailedAt: r.FailedAt, FailedClass: r.FailedClass, CountedClass: r.CountedClass, InProgress: r.InProgress,
		})
		// Both are evidence about an earlier failure, and set only for an
		// event that has one, as SQLite's are.
		evs[i].OthersDelivered, evs[i].OthersDied = r.OthersDelivered, r.OthersDied && r.FailedAt != nil
	}
	return evs, nil
}

// Finish implements outbox.Store.
func (s *Store) Finish(ctx context.Context, outs []outbox.Outcome) (outbox.FinishResult, error) {
	res, promoted, err := storekit.Finish(ctx, outs, s.beginFinish, func(t string) bool { return s.hook(t) != nil })
	if promoted {
		s.Notify()
	}
	return res, err
}

func (s *Store) beginFinish(ctx context.Context) (storekit.FinishTx, func(context.Context) error, func(context.Context), error) {
	tx, err := s.beginYielding(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	rollback := func(ctx context.Context) { _ = tx.Rollback(ctx) }
	return &finishTx{s: s, tx: tx, q: s.q.WithTx(tx)}, tx.Commit, rollback, nil
}

// beginYielding begins a processor transaction that gives way on lock waits.
func (s *Store) beginYielding(ctx context.Context) (pgx.Tx, error) {
	return s.pool.BeginTx(ctx, processorTx)
}

// ReclaimExpired implements outbox.Store.
func (s *Store) ReclaimExpired(ctx context.Context) (int, error) {
	n, promoted, err := s.reclaimExpired(ctx)
	if err != nil {
		return 0, fmt.Errorf("reclaim expired leases: %w", err)
	}
	if n > 0 || promoted {
		s.Notify()
	}
	return n, nil
}

func (s *Store) reclaimExpired(ctx context.Context) (n int, promoted bool, err error) {
	tx, err := s.beginYielding(ctx)
	if err != nil {
		return 0, false, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	q := s.q.WithTx(tx)
	rows, err := q.ReclaimExpired(ctx, pgdb.ReclaimExpiredParams{MaxExpiries: outbox.MaxLeaseExpiries, Now: s.now()})
	if err != nil {
		return 0, false, err
	}
	var keys []string
	for _, r := range rows {
		if outbox.Status(r.Status) == outbox.StatusDead {
			keys = append(keys, r.OrderingKey)
		}
	}
	if promoted, err = finishKeys(ctx, q, keys); err != nil {
		return 0, false, err
	}
	return len(rows), promoted, tx.Commit(ctx)
}

// NextDue implements outbox.Store.
func (s *Store) NextDue(ctx context.Context) (time.Duration, bool, error) {
	next, ok, err := s.nextDue(ctx)
	return time.Duration(next.WaitMs) * time.Millisecond, ok, err
}

func (s *Store) nextDue(ctx context.Context) (pgdb.NextDueRow, bool, error) {
	next, err := s.q.NextDue(ctx, s.now())
	if isNoRows(err) {
		return pgdb.NextDueRow{}, false, nil
	}
	if err != nil {
		return pgdb.NextDueRow{}, false, fmt.Errorf("next due: %w", err)
	}
	return *next, true, nil
}

// finishTx is storekit.FinishTx on one pgx transaction. Each statement
// handles the whole batch through arrays, so a batch costs a handful of
// round trips whatever its size.
type finishTx struct {
	s  *Store
	tx pgx.Tx
	q  *pgdb.Queries
}

func (f *finishTx) Complete(ctx context.Context, outs []outbox.Outcome) (map[uuid.UUID]string, error) {
	ids, tokens := leases(outs)
	rows, err := f.q.Complete(ctx, pgdb.CompleteParams{Now: f.s.now(), Ids: ids, Tokens: tokens})
	done := make(map[uuid.UUID]string, len(rows))
	for _, r := range rows {
		done[r.ID] = r.OrderingKey
	}
	return done, err
}

func (f *finishTx) Kill(ctx context.Context, outs []outbox.Outcome) (map[uuid.UUID]string, error) {
	ids, tokens := leases(outs)
	rows, err := f.q.Kill(ctx, pgdb.KillParams{
		Now: f.s.now(), Ids: ids, Tokens: tokens, Errors: errorTexts(outs), Classes: classes(outs), StatusCodes: statusCodes(outs),
	})
	killed := make(map[uuid.UUID]string, len(rows))
	for _, r := range rows {
		killed[r.ID] = r.OrderingKey
	}
	return killed, err
}

func (f *finishTx) Retry(ctx context.Context, outs []outbox.Outcome) ([]uuid.UUID, error) {
	ids, tokens := leases(outs)
	return f.q.Retry(ctx, pgdb.RetryParams{
		Now: f.s.now(), Ids: ids, Tokens: tokens, DelaysMs: delays(outs), Errors: errorTexts(outs), Classes: classes(outs), StatusCodes: statusCodes(outs),
	})
}

func (f *finishTx) Release(ctx context.Context, outs []outbox.Outcome) ([]uuid.UUID, error) {
	ids, tokens := leases(outs)
	reached, dated := make([]bool, len(outs)), make([]bool, len(outs))
	for i, o := range outs {
		reached[i], dated[i] = storekit.Reached(o), storekit.Dated(o)
	}
	return f.q.Release(ctx, pgdb.ReleaseParams{
		Now: f.s.now(), Ids: ids, Tokens: tokens, DelaysMs: delays(outs), Errors: errorTexts(outs),
		Reached: reached, Dated: dated, Classes: classes(outs), StatusCodes: statusCodes(outs),
	})
}

func (f *finishTx) FinishKeys(ctx context.Context, keys []string) (bool, error) {
	return finishKeys(ctx, f.q, keys)
}

// Hooks runs the hook of each event type among ds once, with that type's
// deliveries. Careful hooks run inside a savepoint: a hook that swallows a
// failed statement leaves PostgreSQL's transaction aborted, and the
// savepoint's release then fails, so the failure is the hook's, not the
// whole batch's. A savepoint costs two round trips, which is why the first
// try of a batch goes without.
func (f *finishTx) Hooks(ctx context.Context, ds []outbox.Delivery, careful bool) error {
	for _, group := range byType(ds) {
		hook := f.s.hook(group[0].Event.Type)
		if hook == nil {
			continue
		}
		if err := f.runHook(ctx, hook, group, careful); err != nil {
			return err
		}
	}
	return nil
}

func (f *finishTx) runHook(ctx context.Context, hook DeliveredBatchHook, ds []outbox.Delivery, careful bool) error {
	if !careful {
		return hook(ctx, f.tx, ds)
	}
	sp, err := f.tx.Begin(ctx)
	if err != nil {
		return err
	}
	if err := hook(ctx, sp, ds); err != nil {
		_ = sp.Rollback(ctx)
		return err
	}
	return sp.Commit(ctx)
}

// byType groups ds by event type, types in order of first appearance and
// each group in the order of ds.
func byType(ds []outbox.Delivery) [][]outbox.Delivery {
	var groups [][]outbox.Delivery
	index := map[string]int{}
	for _, d := range ds {
		i, ok := index[d.Event.Type]
		if !ok {
			i = len(groups)
			index[d.Event.Type] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], d)
	}
	return groups
}

// finishKeys records that one event per listed key left the unfinished set
// and promotes the next event of each key that has one. It reports whether
// any was promoted.
func finishKeys(ctx context.Context, q *pgdb.Queries, keys []string) (bool, error) {
	if len(keys) == 0 {
		return false, nil
	}
	kept, err := q.ReleaseKeys(ctx, keys)
	if err != nil {
		return false, fmt.Errorf("release keys: %w", err)
	}
	if len(kept) == 0 {
		return false, nil
	}
	n, err := q.PromoteHeads(ctx, kept)
	if err != nil {
		return false, fmt.Errorf("promote heads: %w", err)
	}
	return n > 0, nil
}

func leases(outs []outbox.Outcome) (ids, tokens []uuid.UUID) {
	ids = make([]uuid.UUID, len(outs))
	tokens = make([]uuid.UUID, len(outs))
	for i, o := range outs {
		ids[i], tokens[i] = o.Event.ID, o.Event.Lease.Token
	}
	return ids, tokens
}

func delays(outs []outbox.Outcome) []int64 {
	ds := make([]int64, len(outs))
	for i, o := range outs {
		ds[i] = o.Delay.Milliseconds()
	}
	return ds
}

func classes(outs []outbox.Outcome) []string {
	cs := make([]string, len(outs))
	for i, o := range outs {
		cs[i] = storekit.Class(o)
	}
	return cs
}

func statusCodes(outs []outbox.Outcome) []int32 {
	codes := make([]int32, len(outs))
	for i, o := range outs {
		codes[i] = int32(o.StatusCode)
	}
	return codes
}

func errorTexts(outs []outbox.Outcome) []string {
	es := make([]string, len(outs))
	for i, o := range outs {
		es[i] = o.Error
	}
	return es
}

func toEvents(rows []*pgdb.OutboxEvent) []*outbox.Event {
	evs := make([]*outbox.Event, len(rows))
	for i, r := range rows {
		evs[i] = toEvent(r)
	}
	return evs
}

func toEvent(r *pgdb.OutboxEvent) *outbox.Event {
	// Metadata is informational: unreadable metadata (written by hand, say)
	// must not stop the event, or its whole batch, from being delivered.
	meta, _ := outbox.DecodeMetadata(r.Metadata)
	ev := &outbox.Event{
		ID:            r.ID,
		Type:          r.EventType,
		Aggregate:     r.Aggregate,
		AggregateID:   r.AggregateID,
		UserID:        r.UserID,
		OrderingKey:   r.OrderingKey,
		IsNewRecord:   r.IsNewRecord,
		EntityVersion: r.EntityVersion,
		Payload:       r.Payload,
		Metadata:      meta,
		Priority:      int(r.Priority),
		MaxAttempts:   int(r.MaxAttempts),
		Status:        outbox.Status(r.Status),
		Attempts:      int(r.Attempts),
		LeaseExpiries: int(r.LeaseExpiries),
		Releases:      int(r.Releases),
		InProgress:    int(r.InProgress),
		RunAt:         r.RunAt,
		CreatedAt:     r.CreatedAt,
		UpdatedAt:     r.UpdatedAt,
	}
	if r.LastError != nil {
		ev.LastError = *r.LastError
	}
	if r.LeaseOwner != nil {
		ev.Lease.Owner = *r.LeaseOwner
	}
	if r.LeaseToken != nil {
		ev.Lease.Token = *r.LeaseToken
	}
	if r.LeaseUntil != nil {
		ev.Lease.Until = *r.LeaseUntil
	}
	if r.CompletedAt != nil {
		ev.CompletedAt = *r.CompletedAt
	}
	if r.FailedAt != nil {
		ev.FailedAt = *r.FailedAt
	}
	if r.FailedClass != nil {
		ev.FailedClass = outbox.ParseClass(*r.FailedClass)
	}
	if r.CountedClass != nil {
		ev.CountedClass = outbox.ParseClass(*r.CountedClass)
	}
	return ev
}

var _ outbox.Store = (*Store)(nil)
