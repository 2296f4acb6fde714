package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The raw PostgreSQL loop is the physical limit the processor's no-op
// drain is measured against: hand-written SQL on pgx doing what the store
// must do per batch and nothing else, on the same template database.
//
// The loop count comes from a sweep on the 2-core machine, the 100,000-event
// template, one drain each, other work running (load average 7), events/s:
//
//	loops              1       2       4       8
//	claims of 100   5,229   9,571   9,694   8,996
//	claims of 1000  8,922  13,907  13,337  11,314
//
// One loop leaves the server idle during each round trip; from two on both
// cores are busy, and eight only add contention. Four are kept, and
// both claim sizes measured, as the processor's configurations range over
// both. In the same sweep the processor at Concurrency 1000, BatchSize 250
// drained 5,467–7,162/s.

// rawPGWorkers is how many raw loops claim and complete in parallel.
const rawPGWorkers = 4

// rawPGBatches are the claim sizes the raw loop is measured at.
var rawPGBatches = []int{100, 1000}

func rawPGDef(batch int) def {
	return def{fmt.Sprintf("backlog.raw.%d", batch), groupBacklog,
		fmt.Sprintf("raw SQL claim-and-complete loop, %d loops, claims of %d (the physical limit)", rawPGWorkers, batch), "events/s", true}
}

func rawPGCPUDef(batch int) def {
	return def{fmt.Sprintf("cpu.raw.%d", batch), groupCPU, fmt.Sprintf("raw SQL loop, %d loops, claims of %d", rawPGWorkers, batch), "µs/event", false}
}

func rawPGKeys() []string {
	keys := make([]string, len(rawPGBatches))
	for i, n := range rawPGBatches {
		keys[i] = rawPGDef(n).Key
	}
	return keys
}

// rawBacklogs measures the raw loop on the no-op drain's template.
func (b *bench) rawBacklogs(ctx context.Context, template string) {
	n := b.sizes.Backlog
	for _, batch := range rawPGBatches {
		b.measureDrain(ctx, rawPGDef(batch), rawPGCPUDef(batch), template, func(ctx context.Context, dbURL string) (drainResult, error) {
			return rawPGLoop(ctx, dbURL, n, rawPGWorkers, batch, b.sizes.DrainCap, false)
		})
	}
}

// rawClaim claims a batch as the store's Claim does: only heads, due,
// highest priority then oldest first, read from outbox_events_claimable
// with FOR UPDATE SKIP LOCKED, so that parallel loops take disjoint
// batches. It returns what a sender needs (type and payload) besides what
// completion needs (id and key), but keeps no lease owner or token, and
// skips the check of operator pauses.
const rawClaim = `WITH due AS (
    SELECT id FROM outbox_events
    WHERE is_head AND status IN ('pending', 'failed') AND run_at <= now()
    ORDER BY priority DESC, seq
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE outbox_events e
SET status = 'processing', attempts = e.attempts + 1, lease_until = now() + interval '60 seconds', updated_at = now()
FROM due
WHERE e.id = due.id
RETURNING e.id, e.ordering_key, e.event_type, e.payload`

// rawComplete records a batch delivered, as Complete, ReleaseKeys and
// PromoteHeads do in one transaction: the events completed, then, in one
// statement, their keys' counts of unfinished events lowered (the rows of
// keys left with none deleted) and the oldest unfinished event of each key
// that has one made its head. The promotion reads the events as the first
// statement left them. No head needs to be looked for first: the completed
// events were their keys' heads. The keys are not locked in key order:
// during a drain nothing else takes them, and a key is in at most one batch
// at a time (only its head is claimable, and the next head is promoted in
// the transaction completing the previous).
var rawComplete = []string{
	`UPDATE outbox_events SET status = 'completed', is_head = false, lease_until = NULL, completed_at = now(), updated_at = now()
	WHERE id = ANY($1::uuid[])`,
	`WITH counted AS (
	    SELECT key, count(*)::integer AS n FROM unnest($1::text[]) AS key GROUP BY key
	), idle AS (
	    DELETE FROM outbox_keys k USING counted c WHERE k.ordering_key = c.key AND k.unfinished <= c.n
	), kept AS (
	    UPDATE outbox_keys k SET unfinished = k.unfinished - c.n
	    FROM counted c WHERE k.ordering_key = c.key AND k.unfinished > c.n
	    RETURNING k.ordering_key
	)
	UPDATE outbox_events e SET is_head = true
	FROM (
	    SELECT DISTINCT ON (ordering_key) id FROM outbox_events
	    WHERE ordering_key IN (SELECT ordering_key FROM kept) AND status IN ('pending', 'processing', 'failed')
	    ORDER BY ordering_key, seq
	) nxt
	WHERE e.id = nxt.id`,
}

// rawOutOfOrder counts claimed events that an unfinished event of their
// key precedes: per-key FIFO allows none.
const rawOutOfOrder = `SELECT count(*) FROM outbox_events e
WHERE e.id = ANY($1::uuid[]) AND EXISTS (
    SELECT 1 FROM outbox_events o
    WHERE o.ordering_key = e.ordering_key AND o.seq < e.seq AND o.status <> 'completed')`

// rawPGLoop drains a backlog of total events with workers loops, each
// claiming up to batch events in one statement and completing them in one
// round trip (a pgx batch is one implicit transaction). With check set,
// every claim is first checked against per-key FIFO (slower: for tests).
func rawPGLoop(ctx context.Context, dbURL string, total, workers, batch int, limit time.Duration, check bool) (drainResult, error) {
	pool, err := openPool(ctx, dbURL, workers)
	if err != nil {
		return drainResult{}, err
	}
	defer pool.Close()
	// Connect every loop's connection before the clock starts.
	conns := make([]*pgxpool.Conn, workers)
	for i := range conns {
		if conns[i], err = pool.Acquire(ctx); err != nil {
			for _, c := range conns[:i] {
				c.Release()
			}
			return drainResult{}, fmt.Errorf("acquire connection: %w", err)
		}
	}
	c := newCounter(total)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errs := make([]error, workers)
	before := takeCPU()
	start := time.Now()
	for i, conn := range conns {
		wg.Go(func() {
			defer conn.Release()
			errs[i] = rawPGWorker(runCtx, conn.Conn(), c, batch, check)
			if errs[i] != nil {
				stop()
			}
		})
	}
	res := c.wait(runCtx, start, limit)
	res.CPU = takeCPU().since(before)
	stop()
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if res.Done == 0 {
		return res, errors.New("no event was completed")
	}
	if !res.Capped {
		// Checked after the clock stopped: the loop counted what it
		// completed; the database must agree.
		var unfinished, keys int
		err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM outbox_events WHERE status <> 'completed'), (SELECT count(*) FROM outbox_keys)`).Scan(&unfinished, &keys)
		if err != nil {
			return res, fmt.Errorf("count what is left: %w", err)
		}
		if unfinished > 0 || keys > 0 {
			return res, fmt.Errorf("the drain ended with %d events not completed and %d key rows left", unfinished, keys)
		}
	}
	return res, nil
}

// rawPGWorker claims and completes batches until the counter says the
// backlog is drained or ctx ends. A claim that comes back empty before then
// finds every unfinished event claimed by other loops, or behind a head
// they hold: it waits for their completions to promote more.
func rawPGWorker(ctx context.Context, conn *pgx.Conn, c *counter, batch int, check bool) error {
	for ctx.Err() == nil && c.done.Load() < c.total {
		ids, keys, err := rawClaimBatch(ctx, conn, batch)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			if ctx.Err() != nil {
				return nil
			}
			// Other loops hold the heads; their completion promotes more.
			time.Sleep(time.Millisecond)
			continue
		}
		if check {
			var bad int
			if err := conn.QueryRow(ctx, rawOutOfOrder, ids).Scan(&bad); err != nil {
				return fmt.Errorf("check order: %w", err)
			}
			if bad > 0 {
				return fmt.Errorf("%d claimed events have an unfinished predecessor of their key", bad)
			}
		}
		if err := rawCompleteBatch(ctx, conn, ids, keys); err != nil || ctx.Err() != nil {
			return err // nil when the drain ended: the batch may not have been completed
		}
		c.add(int64(len(ids)))
	}
	return nil
}

func rawClaimBatch(ctx context.Context, conn *pgx.Conn, batch int) (ids []uuid.UUID, keys []string, err error) {
	rows, err := conn.Query(ctx, rawClaim, batch)
	if err != nil {
		return nil, nil, ignoreStopped(ctx, fmt.Errorf("claim: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var key, typ string
		var payload []byte
		if err := rows.Scan(&id, &key, &typ, &payload); err != nil {
			return nil, nil, fmt.Errorf("claim: %w", err)
		}
		ids, keys = append(ids, id), append(keys, key)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, ignoreStopped(ctx, fmt.Errorf("claim: %w", err))
	}
	return ids, keys, nil
}

func rawCompleteBatch(ctx context.Context, conn *pgx.Conn, ids []uuid.UUID, keys []string) error {
	var q pgx.Batch
	q.Queue(rawComplete[0], ids)
	q.Queue(rawComplete[1], keys)
	if err := conn.SendBatch(ctx, &q).Close(); err != nil {
		return ignoreStopped(ctx, fmt.Errorf("complete: %w", err))
	}
	return nil
}

// ignoreStopped drops the error of a statement cancelled because the drain
// ended (the cap passed, or another loop failed).
func ignoreStopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}
