package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/outboxgen/outboxgen/runtime/sqlitestore/internal/sqlitedb"
)

// statement records the statement a query sends instead of sending it.
type statement struct {
	sql  string
	args []any
}

var errRecorded = errors.New("recorded, not sent")

func (s *statement) ExecContext(_ context.Context, q string, args ...any) (sql.Result, error) {
	s.sql, s.args = q, args
	return nil, errRecorded
}

func (s *statement) PrepareContext(_ context.Context, q string) (*sql.Stmt, error) {
	s.sql = q
	return nil, errRecorded
}

func (s *statement) QueryContext(_ context.Context, q string, args ...any) (*sql.Rows, error) {
	s.sql, s.args = q, args
	return nil, errRecorded
}

func (s *statement) QueryRowContext(_ context.Context, q string, args ...any) *sql.Row {
	s.sql, s.args = q, args
	return nil
}

// TestConsolePagesUseTheirIndexes asks SQLite how it runs the console's
// statements and checks that each searches its index (migration 0010) and
// that a page's rows come out of it in order: a page of dead events must
// cost the same at the millionth event as at the first, so a plan that
// sorts them, or scans the table, is a regression even while the table is
// small. SQLite plans before it sees the arguments, which is why failed and
// dead events have a statement of their own. A temporary b-tree for the last
// term of the ORDER BY is fine: it orders only the events that share a
// time, which the index gives in order.
func TestConsolePagesUseTheirIndexes(t *testing.T) {
	ctx := t.Context()
	db := open(t).DB()
	cases := []struct {
		name, index string
		run         func(q *sqlitedb.Queries) error
	}{
		{"ListFailedOrDeadPage", "outbox_events_failed_or_dead_created", func(q *sqlitedb.Queries) error {
			_, err := q.ListFailedOrDeadPage(ctx, sqlitedb.ListFailedOrDeadPageParams{Status: "dead", EventType: "weight.created", MaxEvents: 100})
			return err
		}},
		{"ListCompletedPage", "outbox_events_completed", func(q *sqlitedb.Queries) error {
			_, err := q.ListCompletedPage(ctx, sqlitedb.ListCompletedPageParams{UserID: "user-1", MaxEvents: 100})
			return err
		}},
		{"FailedPerMinute", "outbox_events_failed_at", func(q *sqlitedb.Queries) error {
			_, err := q.FailedPerMinute(ctx, sql.NullInt64{Valid: true})
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := queryPlan(t, db, c.run)
			if !strings.Contains(text, "USING INDEX "+c.index) && !strings.Contains(text, "USING COVERING INDEX "+c.index) {
				t.Errorf("the plan does not search %s:\n%s", c.index, text)
			}
			if strings.Contains(text, "SCAN outbox_events") || (c.name != "FailedPerMinute" && strings.Contains(text, "TEMP B-TREE FOR ORDER BY")) {
				t.Errorf("the plan scans or sorts:\n%s", text)
			}
		})
	}
}

// queryPlan returns SQLite's plan of the statement run sends.
func queryPlan(t *testing.T, db *sql.DB, run func(q *sqlitedb.Queries) error) string {
	t.Helper()
	var st statement
	if err := run(sqlitedb.New(&st)); !errors.Is(err, errRecorded) {
		t.Fatalf("recording the statement: %v", err)
	}
	rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+st.sql, st.args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// TestClaimReadsItsIndexInOrder checks that a claim's cost does not grow
// with the backlog: on statistics of 20,000 due events (and again once
// almost none is due), it must read outbox_events_claimable in claim order
// and stop after the batch, never gather the due events and sort them
// (which made a claim of one take 25 ms on 50,000 events).
func TestClaimReadsItsIndexInOrder(t *testing.T) {
	ctx := t.Context()
	db := open(t).DB()
	if _, err := db.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
		INSERT INTO outbox_events (id, event_type, aggregate, aggregate_id, user_id, ordering_key, is_new_record, entity_version,
			payload, priority, status, is_head, attempts, max_attempts, run_at, created_at, updated_at)
		SELECT 'id-' || i, 'weight.created', 'weight', 'a' || i, 'u' || (i % 50), 'e/' || i, 1, 1, '{}', 5, 'pending', 1, 0, 5, 1000, 1000, 1000 FROM n`); err != nil {
		t.Fatal(err)
	}
	claim := func(q *sqlitedb.Queries) error {
		_, err := q.Claim(ctx, sqlitedb.ClaimParams{Now: 2000, MaxEvents: 1})
		return err
	}
	for _, setup := range []string{"ANALYZE", "UPDATE outbox_events SET run_at = 9000 WHERE seq < 19990; ANALYZE"} {
		if _, err := db.ExecContext(ctx, setup); err != nil {
			t.Fatal(err)
		}
		plan := queryPlan(t, db, claim)
		if !strings.Contains(plan, "USING INDEX outbox_events_claimable") && !strings.Contains(plan, "USING COVERING INDEX outbox_events_claimable") {
			t.Errorf("after %q, the claim does not read outbox_events_claimable:\n%s", setup, plan)
		}
		if strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("after %q, the claim sorts what it reads:\n%s", setup, plan)
		}
	}
}
