package pgstore_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outboxgen/outboxgen/internal/pgtest"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
)

// statements records what a pool sends, for the plans of the store's own
// statements.
type statements struct {
	mu   sync.Mutex
	sent []sentStatement
}

type sentStatement struct {
	sql  string
	args []any
}

func (r *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, sentStatement{d.SQL, d.Args})
	return ctx
}

func (r *statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// The claim is sent in a batch, between BEGIN and COMMIT.

func (r *statements) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (r *statements) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, sentStatement{d.SQL, d.Args})
}

func (r *statements) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// named returns the last statement sent of the sqlc query name, and
// forgets what was sent.
func (r *statements) named(t *testing.T, name string) sentStatement {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	defer func() { r.sent = nil }()
	for i := len(r.sent) - 1; i >= 0; i-- {
		if strings.HasPrefix(r.sent[i].sql, "-- name: "+name+" ") {
			return r.sent[i]
		}
	}
	t.Fatalf("no %s statement sent", name)
	return sentStatement{}
}

// TestConsolePagesUseTheirIndexes plans the console's statements as the
// store sends them, with sorts and sequential scans priced out, and checks
// that each reads its index (migration 0010) in order: a page of dead
// events must cost the same at the millionth event as at the first, so a
// plan that sorts them, or scans the table, is a regression even while the
// table is small. Then it checks that those indexes take nothing from the
// claim's plan.
func TestConsolePagesUseTheirIndexes(t *testing.T) {
	ctx := t.Context()
	s, pool, sent := tracedStore(t)
	after := outbox.PageKey{At: time.Now().Add(-time.Hour)}

	cases := []struct {
		name, statement, index string
		sorted                 bool // the rows come out of the index in the page's order
		run                    func() error
	}{
		{"ListPage of dead events", "ListFailedOrDeadPage", "outbox_events_failed_or_dead_created", true, func() error {
			_, err := s.ListPage(ctx, outbox.Filter{Status: outbox.StatusDead, Type: "weight.created"}, after)
			return err
		}},
		{"ListPage of failed events", "ListFailedOrDeadPage", "outbox_events_failed_or_dead_created", true, func() error {
			_, err := s.ListPage(ctx, outbox.Filter{Status: outbox.StatusFailed}, after)
			return err
		}},
		{"ListPage of completed events", "ListCompletedPage", "outbox_events_completed", true, func() error {
			_, err := s.ListPage(ctx, outbox.Filter{Status: outbox.StatusCompleted, Type: "weight.created"}, after)
			return err
		}},
		{"ActivityByMinute", "FailedPerMinute", "outbox_events_failed_at", false, func() error {
			_, err := s.ActivityByMinute(ctx, time.Now().Add(-time.Hour))
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(); err != nil {
				t.Fatal(err)
			}
			plan := explain(t, pool, sent.named(t, c.statement), "SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off")
			if !strings.Contains(plan, c.index) {
				t.Errorf("the plan does not read %s:\n%s", c.index, plan)
			}
			if strings.Contains(plan, "Seq Scan") || (c.sorted && sortsAll(plan)) {
				t.Errorf("the plan scans or sorts:\n%s", plan)
			}
		})
	}

	// A claim on statistics taken before a drain (every event pending
	// then, half completed now, as when a backlog drains faster than
	// autovacuum analyzes) must still read its partial indexes: the
	// claimable events, and the latest completion for the evidence of
	// other deliveries. An index of every event leading with status once
	// looked as cheap to the planner here, and each claim read every
	// completed event.
	if _, err := pool.Exec(ctx, `INSERT INTO outbox_events (id, event_type, aggregate, aggregate_id, user_id, ordering_key,
			is_new_record, entity_version, payload, priority, status, is_head, attempts, max_attempts, run_at, created_at, updated_at)
		SELECT gen_random_uuid(), 'weight.created', 'weight', i::text, 'u' || i % 50, 'e/' || i, true, 1, '{}', 5,
			'pending', true, 0, 5, now(), now(), now()
		FROM generate_series(1, 20000) AS i`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE outbox_events"); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "UPDATE outbox_events SET status = 'completed', is_head = false, completed_at = now() WHERE seq % 2 = 0"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, "plan", 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	plan := explain(t, pool, sent.named(t, "Claim"), "")
	for _, index := range []string{"outbox_events_claimable", "outbox_events_completed"} {
		if !strings.Contains(plan, index) {
			t.Errorf("the claim on stale statistics does not read %s:\n%s", index, plan)
		}
	}
}

// tracedStore returns a store on a new, migrated database whose pool
// records every statement it sends, and the pool.
func tracedStore(t *testing.T) (*pgstore.Store, *pgxpool.Pool, *statements) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	migrated, err := pgstore.Open(t.Context(), url, 2)
	if err != nil {
		t.Fatal(err)
	}
	err = migrated.Migrate(t.Context())
	migrated.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	sent := &statements{}
	cfg.ConnConfig.Tracer = sent
	cfg.AfterConnect = pgstore.PrepareConn
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pgstore.New(pool), pool, sent
}

// sortsAll reports whether plan sorts rows that its index did not give in
// order. An incremental sort is fine: it orders only the rows that share a
// presorted key (the events completed in one microsecond).
func sortsAll(plan string) bool {
	for line := range strings.Lines(plan) {
		if strings.HasPrefix(strings.TrimLeft(line, " ->"), "Sort  (") {
			return true
		}
	}
	return false
}

// explain returns the plan of st after the settings set, e.g. with sorts
// and sequential scans disabled, so that the plan uses an index that serves
// the statement if there is one.
func explain(t *testing.T, pool *pgxpool.Pool, st sentStatement, set string) string {
	t.Helper()
	ctx := t.Context()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if set != "" {
		if _, err := tx.Exec(ctx, set); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := tx.Query(ctx, "EXPLAIN "+st.sql, st.args...)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestClaimReadsItsIndexInOrder checks that a claim's cost does not grow
// with the backlog: on fresh statistics of 20,000 due events, a claim of
// one reads outbox_events_claimable in claim order and stops, rather than
// gathering the due events to sort them. (TestConsolePagesUseTheirIndexes
// checks the same on stale statistics.)
func TestClaimReadsItsIndexInOrder(t *testing.T) {
	ctx := t.Context()
	s, pool, sent := tracedStore(t)
	insertDueEvents(t, pool, 20000)
	if _, err := s.Claim(ctx, "plan", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	plan := explain(t, pool, sent.named(t, "Claim"), "")
	if !strings.Contains(plan, "outbox_events_claimable") || sortsAll(plan) {
		t.Errorf("a claim of one on 20,000 due events does not read outbox_events_claimable in order:\n%s", plan)
	}
}

// TestRecordingPlans checks that recording a batch of outcomes finds each
// event by its id, whatever the batch's size: on statistics in which no
// event is leased (as they mostly are: events are pending or completed),
// the lease condition once made the planner expect a row or two from the
// table, scan it, and compare each row leased with every outcome of the
// batch: a batch of 1,000 took 267 ms on 100,000 events, and one of 2,000
// five times as long. The id must be an index or hash condition, never a
// filter applied to every pair.
func TestRecordingPlans(t *testing.T) {
	ctx := t.Context()
	s, pool, sent := tracedStore(t)
	insertDueEvents(t, pool, 100000)
	for _, c := range []struct {
		kind      outbox.OutcomeKind
		statement string
	}{{outbox.Delivered, "Complete"}, {outbox.Retry, "Retry"}, {outbox.Release, "Release"}, {outbox.Dead, "Kill"}} {
		for _, n := range []int{50, 1000, 4000} {
			evs, err := s.Claim(ctx, "plan", n, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			outs := make([]outbox.Outcome, len(evs))
			for i, ev := range evs {
				outs[i] = outbox.Outcome{Event: ev, Kind: c.kind, Delay: time.Hour, Error: "planned"}
			}
			res, err := s.Finish(ctx, outs)
			if err != nil || len(res.Recorded) != n {
				t.Fatalf("%s of %d: %d recorded, %v", c.kind, n, len(res.Recorded), err)
			}
			plan := explain(t, pool, sent.named(t, c.statement), "")
			for line := range strings.Lines(plan) {
				if f := strings.TrimSpace(line); strings.HasPrefix(f, "Join Filter:") && strings.Contains(f, "f.id") {
					t.Errorf("%s of %d compares ids in a join filter:\n%s", c.statement, n, plan)
				}
			}
		}
	}
}

// insertDueEvents adds n due events, each the head of its own key, as
// enqueues would leave them (their key rows too), and analyzes the table
// with none of them leased.
func insertDueEvents(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	if _, err := pool.Exec(t.Context(), `INSERT INTO outbox_events (id, event_type, aggregate, aggregate_id, user_id, ordering_key,
			is_new_record, entity_version, payload, priority, status, is_head, attempts, max_attempts, run_at, created_at, updated_at)
		SELECT gen_random_uuid(), 'weight.created', 'weight', i::text, 'u' || i % 50, 'e/' || i, true, 1, '{}', 5,
			'pending', true, 0, 5, now() - interval '1 minute', now(), now()
		FROM generate_series(1, $1::integer) AS i`, n); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(t.Context(), `INSERT INTO outbox_keys (ordering_key, unfinished)
		SELECT 'e/' || i, 1 FROM generate_series(1, $1::integer) AS i`, n); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(t.Context(), "ANALYZE outbox_events"); err != nil {
		t.Fatal(err)
	}
}
