package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/internal/storekit"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore/internal/sqlitedb"
)

// Claim implements outbox.Store.
func (s *Store) Claim(ctx context.Context, owner string, limit int, lease time.Duration) ([]*outbox.Event, error) {
	var rows []sqlitedb.OutboxEvent
	var lastClaimed, lastDeath int64
	// The clock is read once the write connection is ours: a claim that
	// waited behind a long transaction must not hand out a lease that is
	// already over.
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.clock()
		q := s.delivery().WithTx(tx)
		token := nullString(uuid.NewString())
		var err error
		rows, err = q.ClaimInOrder(ctx, sqlitedb.ClaimInOrderParams{
			Owner: nullString(owner), Token: token, LeaseUntil: nullInt(micros(now.Add(lease))), Now: micros(now),
			Window: int64(claimWindow(limit)), MaxEvents: int64(limit),
		})
		if err == nil && len(rows) < limit {
			// Every due head of the window is ours; the rest are beyond it.
			var more []sqlitedb.OutboxEvent
			more, err = q.ClaimDue(ctx, sqlitedb.ClaimDueParams{
				Owner: nullString(owner), Token: token, LeaseUntil: nullInt(micros(now.Add(lease))), Now: micros(now),
				MaxEvents: int64(limit - len(rows)),
			})
			rows = append(rows, more...)
		}
		if err != nil || !slices.ContainsFunc(rows, func(r sqlitedb.OutboxEvent) bool { return r.FailedAt.Valid }) {
			return err
		}
		if lastClaimed, err = q.LastDeliveryClaimedAt(ctx); err != nil {
			return err
		}
		lastDeath, err = q.LastDeathAt(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	// UPDATE … RETURNING does not keep the claim order; restore it.
	slices.SortFunc(rows, func(a, b sqlitedb.OutboxEvent) int {
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), cmp.Compare(a.Seq, b.Seq))
	})
	evs, err := toEvents(rows)
	for i, r := range rows {
		if err == nil && r.FailedAt.Valid {
			evs[i].OthersDelivered = r.FailedAt.Int64 < lastClaimed
			evs[i].OthersDied = lastDeath != 0 && lastDeath >= lastClaimed
		}
	}
	return evs, err
}

// claimWindow is how many heads, in claim order, a claim of limit events
// looks at before it asks the due index instead (see ClaimInOrder): enough
// that on a backlog, where nearly every head is due, the first try is the
// only one.
func claimWindow(limit int) int { return 4*limit + 64 }

// Finish implements outbox.Store.
//
// Outcomes are recorded a chunk at a time (see finishChunk), each chunk in
// a transaction of its own: SQLite has one writer, and the application's
// saves wait for the processor's transaction to end.
func (s *Store) Finish(ctx context.Context, outs []outbox.Outcome) (outbox.FinishResult, error) {
	var all outbox.FinishResult
	for len(outs) > 0 {
		n := min(len(outs), s.finishChunk())
		chunk := outs[:n]
		outs = outs[n:]
		res, promoted, err := storekit.Finish(ctx, chunk, s.beginFinish, func(t string) bool { return s.hook(t) != nil })
		if promoted {
			s.Notify()
		}
		all.Recorded = append(all.Recorded, res.Recorded...)
		all.Lost = append(all.Lost, res.Lost...)
		for id, err := range res.HookErrors {
			if all.HookErrors == nil {
				all.HookErrors = make(map[uuid.UUID]error)
			}
			all.HookErrors[id] = err
		}
		if err != nil {
			return all, err
		}
	}
	return all, nil
}

// finishShared is how many outcomes one transaction of Finish records at
// most while the application writes. Eight writers saving beside a drain
// of the default Config (bench -only sqlite): unbounded, 266-270 saves/s
// beside 3,500-3,700 delivered; chunks of 64, 380-430 saves/s beside
// 2,600-2,700; chunks of 32, 440 saves/s beside 1,750. (Fixed 16/100,
// before the adaptive limit and these defaults: 570-670 beside
// 1,700-1,900.)
const finishShared = 64

// finishAlone is the chunk while no application transaction waits: each
// commit costs an fsync (0.7 ms on the benchmark machine), and chunks of
// 1,000 drained a 50,000 backlog 20 % faster than chunks of 64 at
// Concurrency 1000, and 2 % faster with the default Config (medians of
// three).
const finishAlone = 1000

// finishChunk is the size of Finish's next transaction: finishShared while
// an application transaction runs or waits for the write connection, so
// that saves get in between, finishAlone otherwise.
func (s *Store) finishChunk() int {
	if s.appTx.Load() > 0 {
		return finishShared
	}
	return finishAlone
}

func (s *Store) beginFinish(ctx context.Context) (storekit.FinishTx, func(context.Context) error, func(context.Context), error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	commit := func(context.Context) error { return tx.Commit() }
	rollback := func(context.Context) { _ = tx.Rollback() }
	return &finishTx{s: s, tx: tx, q: s.delivery().WithTx(tx), now: s.clock(), finished: map[string]int64{}}, commit, rollback, nil
}

// ReclaimExpired implements outbox.Store.
func (s *Store) ReclaimExpired(ctx context.Context) (int, error) {
	n, promoted := 0, false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		q := s.q.WithTx(tx)
		lastClaimed, err := q.LastDeliveryClaimedAt(ctx)
		if err != nil {
			return err
		}
		rows, err := q.ReclaimExpired(ctx, sqlitedb.ReclaimExpiredParams{
			MaxExpiries: outbox.MaxLeaseExpiries, Now: nullInt(s.micros()), LastDeliveryClaimed: nullInt(lastClaimed),
		})
		if err != nil {
			return err
		}
		n = len(rows)
		var heads []finishedHead
		for _, r := range rows {
			if outbox.Status(r.Status) == outbox.StatusDead {
				heads = append(heads, finishedHead{key: r.OrderingKey, seq: r.Seq})
			}
		}
		promoted, err = promoteNext(ctx, q, heads)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reclaim expired leases: %w", err)
	}
	if n > 0 || promoted {
		s.Notify()
	}
	return n, nil
}

// NextDue implements outbox.Store.
func (s *Store) NextDue(ctx context.Context) (time.Duration, bool, error) {
	at, ok, err := s.nextRunAt(ctx)
	return max(0, at.Sub(s.clock())), ok, err
}

func (s *Store) nextRunAt(ctx context.Context) (time.Time, bool, error) {
	at, err := sqlitedb.New(s.read).NextDue(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due: %w", err)
	}
	return fromMicros(at), true, nil
}

// finishTx is storekit.FinishTx on one SQLite transaction. Deliveries, the
// common outcome, are recorded in one statement per batch; the others in
// one per event, which SQLite, in process, runs in microseconds.
type finishTx struct {
	s   *Store
	tx  *sql.Tx
	q   *sqlitedb.Queries
	now time.Time
	// finished holds, by key, the seq of the head that Complete or Kill
	// finished: FinishKeys promotes the event after it.
	finished map[string]int64
}

func (f *finishTx) Complete(ctx context.Context, outs []outbox.Outcome) (map[uuid.UUID]string, error) {
	done := make(map[uuid.UUID]string, len(outs)) // events whose lease is gone are left out
	for len(outs) > 0 {
		// One statement per round, each event at most once in it: an event
		// whose lease expired may come back under a new lease and have
		// both outcomes in one batch, of which only the live one completes.
		leases := make(map[string]string, len(outs))
		var again []outbox.Outcome
		for _, o := range outs {
			if _, ok := leases[o.Event.ID.String()]; ok {
				again = append(again, o)
				continue
			}
			leases[o.Event.ID.String()] = o.Event.Lease.Token.String()
		}
		text, err := json.Marshal(leases)
		if err != nil {
			return nil, err
		}
		rows, err := f.q.Complete(ctx, sqlitedb.CompleteParams{Now: nullInt(micros(f.now)), Leases: string(text)})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			id, err := uuid.Parse(r.ID)
			if err != nil {
				return nil, fmt.Errorf("event id %q: %w", r.ID, err)
			}
			done[id] = r.OrderingKey
			f.finish(r.OrderingKey, r.Seq)
		}
		outs = again
	}
	return done, nil
}

func (f *finishTx) Kill(ctx context.Context, outs []outbox.Outcome) (map[uuid.UUID]string, error) {
	killed := make(map[uuid.UUID]string, len(outs))
	for _, o := range outs {
		row, err := f.q.Kill(ctx, sqlitedb.KillParams{
			LastError: nullString(o.Error), Now: nullInt(micros(f.now)), FailedClass: nullString(storekit.Class(o)),
			StatusCode: int64(o.StatusCode), ID: o.Event.ID.String(), Token: nullString(o.Event.Lease.Token.String()),
		})
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		killed[o.Event.ID] = row.OrderingKey
		f.finish(row.OrderingKey, row.Seq)
	}
	return killed, nil
}

func (f *finishTx) Retry(ctx context.Context, outs []outbox.Outcome) ([]uuid.UUID, error) {
	return f.each(outs, func(o outbox.Outcome) (int64, error) {
		return f.q.Retry(ctx, sqlitedb.RetryParams{
			RunAt: micros(f.now.Add(o.Delay)), LastError: nullString(o.Error), Now: nullInt(micros(f.now)),
			FailedClass: nullString(storekit.Class(o)), StatusCode: int64(o.StatusCode),
			ID: o.Event.ID.String(), Token: nullString(o.Event.Lease.Token.String()),
		})
	})
}

func (f *finishTx) Release(ctx context.Context, outs []outbox.Outcome) ([]uuid.UUID, error) {
	return f.each(outs, func(o outbox.Outcome) (int64, error) {
		return f.q.Release(ctx, sqlitedb.ReleaseParams{
			Dated: boolInt(storekit.Dated(o)), Reached: boolInt(storekit.Reached(o)), FailedClass: nullString(storekit.Class(o)),
			RunAt: micros(f.now.Add(o.Delay)), LastError: nullString(o.Error), StatusCode: int64(o.StatusCode), Now: micros(f.now),
			ID: o.Event.ID.String(), Token: nullString(o.Event.Lease.Token.String()),
		})
	})
}

// each runs a fenced single-row update per outcome and returns the ids it changed.
func (f *finishTx) each(outs []outbox.Outcome, update func(outbox.Outcome) (int64, error)) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	for _, o := range outs {
		n, err := update(o)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			ids = append(ids, o.Event.ID)
		}
	}
	return ids, nil
}

// finish notes that key's head at seq finished. One head per key is ever
// claimed; should two events of a key finish in one transaction, the key's
// next head comes after the later.
func (f *finishTx) finish(key string, seq int64) {
	f.finished[key] = max(f.finished[key], seq)
}

func (f *finishTx) FinishKeys(ctx context.Context, keys []string) (bool, error) {
	heads := make([]finishedHead, len(keys))
	for i, key := range keys {
		heads[i] = finishedHead{key: key, seq: f.finished[key]}
	}
	return promoteNext(ctx, f.q, heads)
}

// Hooks runs each delivery's hook in turn: a statement costs SQLite no
// round trip, so its hooks need no batch form. SQLite keeps a transaction
// usable after a failed statement, so a hook needs no savepoint to fail
// alone; the errors that do end a SQLite transaction (a full disk, an I/O
// error) fail the statements after the hook, unless the hook swallows one:
// then they run outside the transaction. A hook must return its errors.
func (f *finishTx) Hooks(ctx context.Context, ds []outbox.Delivery, _ bool) error {
	for _, d := range ds {
		if hook := f.s.hook(d.Event.Type); hook != nil {
			if err := hook(ctx, f.tx, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// finishedHead is a key's head that was delivered, went dead or was
// discarded: its key needs a new head.
type finishedHead struct {
	key string
	seq int64
}

// promoteNext gives each key whose head finished its next event as head,
// if it has one (see PromoteNext), in one statement. It reports whether any
// was promoted.
func promoteNext(ctx context.Context, q *sqlitedb.Queries, heads []finishedHead) (bool, error) {
	if len(heads) == 0 {
		return false, nil
	}
	list := make([][2]any, len(heads))
	for i, h := range heads {
		list[i] = [2]any{hex.EncodeToString([]byte(h.key)), h.seq}
	}
	text, err := json.Marshal(list)
	if err != nil {
		return false, err
	}
	n, err := q.PromoteNext(ctx, string(text))
	if err != nil {
		return false, fmt.Errorf("promote the next events of %d keys: %w", len(heads), err)
	}
	return n > 0, nil
}

func toEvents(rows []sqlitedb.OutboxEvent) ([]*outbox.Event, error) {
	evs := make([]*outbox.Event, len(rows))
	for i, r := range rows {
		ev, err := toEvent(r)
		if err != nil {
			return nil, err
		}
		evs[i] = ev
	}
	return evs, nil
}

func toEvent(r sqlitedb.OutboxEvent) (*outbox.Event, error) {
	id, err := uuid.Parse(r.ID)
	if err != nil {
		return nil, fmt.Errorf("event id %q: %w", r.ID, err)
	}
	// Metadata is informational: unreadable metadata (written by hand, say)
	// must not stop the event, or its whole batch, from being delivered.
	meta, _ := outbox.DecodeMetadata([]byte(r.Metadata.String))
	ev := &outbox.Event{
		ID:            id,
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
		RunAt:         fromMicros(r.RunAt),
		LastError:     r.LastError.String,
		CreatedAt:     fromMicros(r.CreatedAt),
		UpdatedAt:     fromMicros(r.UpdatedAt),
	}
	if r.LeaseToken.Valid {
		if ev.Lease.Token, err = uuid.Parse(r.LeaseToken.String); err != nil {
			return nil, fmt.Errorf("event %s lease token: %w", id, err)
		}
		ev.Lease.Owner = r.LeaseOwner.String
		ev.Lease.Until = fromMicros(r.LeaseUntil.Int64)
	}
	if r.CompletedAt.Valid {
		ev.CompletedAt = fromMicros(r.CompletedAt.Int64)
	}
	if r.FailedAt.Valid {
		ev.FailedAt = fromMicros(r.FailedAt.Int64)
		ev.FailedClass = outbox.ParseClass(r.FailedClass.String)
	}
	if r.CountedClass.Valid {
		ev.CountedClass = outbox.ParseClass(r.CountedClass.String)
	}
	return ev, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: true} }

func nullInt(v int64) sql.NullInt64 { return sql.NullInt64{Int64: v, Valid: true} }

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

var _ outbox.Store = (*Store)(nil)
