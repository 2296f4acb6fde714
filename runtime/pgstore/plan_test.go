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

// last returns the last statement sent and forgets what was sent.
func (r *statements) last(t *testing.T) sentStatement {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sent) == 0 {
		t.Fatal("no statement sent")
	}
	s := r.sent[len(r.sent)-1]
	r.sent = nil
	return s
}

// TestConsolePagesUseTheirIndexes plans the console's statements as the
// store sends them, with sorts and sequential scans priced out, and checks
// that each reads its index (migration 0010) in order: a page must cost the
// same at the millionth event as at the first, so a plan that sorts a
// status's events, or scans the table, is a regression even while the
// table is small.
func TestConsolePagesUseTheirIndexes(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	migrated, err := pgstore.Open(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer migrated.Close()
	if err := migrated.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	sent := &statements{}
	cfg.ConnConfig.Tracer = sent
	cfg.AfterConnect = pgstore.PrepareConn
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := pgstore.New(pool)
	after := outbox.PageKey{CreatedAt: time.Now().Add(-time.Hour)}

	cases := []struct {
		name, index string
		sorted      bool // the rows come out of the index in the page's order
		run         func() error
	}{
		{"ListPage", "outbox_events_status_created", true, func() error {
			_, err := s.ListPage(ctx, outbox.Filter{Status: outbox.StatusDead, Type: "weight.created"}, after)
			return err
		}},
		{"ListPage of a user", "outbox_events_user_status_created", true, func() error {
			_, err := s.ListPage(ctx, outbox.Filter{Status: outbox.StatusCompleted, UserID: "u1"}, after)
			return err
		}},
		{"ActivityByMinute", "outbox_events_failed_at", false, func() error {
			_, err := s.ActivityByMinute(ctx, time.Now().Add(-time.Hour))
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(); err != nil {
				t.Fatal(err)
			}
			st := sent.last(t)
			plan := explain(t, pool, st)
			if !strings.Contains(plan, c.index) {
				t.Errorf("the plan does not read %s:\n%s", c.index, plan)
			}
			if strings.Contains(plan, "Seq Scan") || (c.sorted && strings.Contains(plan, "Sort")) {
				t.Errorf("the plan scans or sorts:\n%s", plan)
			}
		})
	}
}

// explain returns the plan of st with sorts and sequential scans disabled,
// so that the plan uses an index that serves the statement if there is one.
func explain(t *testing.T, pool *pgxpool.Pool, st sentStatement) string {
	t.Helper()
	ctx := t.Context()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off"); err != nil {
		t.Fatal(err)
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
