package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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
// with the backlog, on statistics of 20,000 due events and again once
// almost none is due: its first try reads outbox_events_claim_order in claim
// order for a bounded window of heads, never gathering every due event to
// sort them (which made a claim of one take 25 ms on 50,000 events); its
// second, for when heads waiting for a retry fill the window, reads the
// due index, which then holds few.
func TestClaimReadsItsIndexInOrder(t *testing.T) {
	ctx := t.Context()
	db := open(t).DB()
	seedHeads(t, db, 20000)
	inOrder := func(q *sqlitedb.Queries) error {
		_, err := q.ClaimInOrder(ctx, sqlitedb.ClaimInOrderParams{Now: 2000, Window: 68, MaxEvents: 1})
		return err
	}
	due := func(q *sqlitedb.Queries) error {
		_, err := q.ClaimDue(ctx, sqlitedb.ClaimDueParams{Now: 2000, MaxEvents: 1})
		return err
	}
	for _, setup := range []string{"ANALYZE", "UPDATE outbox_events SET run_at = 9000 WHERE seq < 19990; ANALYZE"} {
		if _, err := db.ExecContext(ctx, setup); err != nil {
			t.Fatal(err)
		}
		if plan := queryPlan(t, db, inOrder); !strings.Contains(plan, "SCAN d USING INDEX outbox_events_claim_order") && !strings.Contains(plan, "SCAN d USING COVERING INDEX outbox_events_claim_order") {
			t.Errorf("after %q, the claim's first try does not read outbox_events_claim_order in order:\n%s", setup, plan)
		}
		if plan := queryPlan(t, db, due); !strings.Contains(plan, "USING INDEX outbox_events_due (run_at<?)") {
			t.Errorf("after %q, the claim's second try does not search outbox_events_due:\n%s", setup, plan)
		}
	}
}

// seedHeads fills the outbox with n pending heads of their own keys, due
// at 1000 (the stores' microseconds), seq 1 to n.
func seedHeads(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO outbox_events (seq, id, event_type, aggregate, aggregate_id, user_id, ordering_key, is_new_record, entity_version,
			payload, priority, status, is_head, attempts, max_attempts, run_at, created_at, updated_at)
		SELECT i, printf('00000000-0000-4000-8000-%012d', i), 'weight.created', 'weight', 'a' || i, 'u' || (i % 50), 'e/' || i, 1, 1, '{}', 5, 'pending', 1, 0, 5, 1000, 1000, 1000 FROM n`, n); err != nil {
		t.Fatal(err)
	}
}

// A claim whose window holds fewer due heads than it wants takes every due
// head of the window and then the next due ones beyond it, in claim order,
// skipping paused types in both tries.
func TestClaimBeyondItsWindow(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	db := s.DB()
	seedHeads(t, db, 1000)
	for _, st := range []string{
		"UPDATE outbox_events SET run_at = 9000000000000000 WHERE seq BETWEEN 51 AND 600", // waiting for a retry
		"UPDATE outbox_events SET event_type = 'mood.created' WHERE seq BETWEEN 661 AND 670",
		"INSERT INTO outbox_pauses (event_type, paused_by, reason, paused_at) VALUES ('mood.created', 'test', 'test', 0)",
	} {
		if _, err := db.ExecContext(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(limit int) []int64 {
		t.Helper()
		evs, err := s.Claim(ctx, "test", limit, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		seqs := make([]int64, len(evs))
		for i, ev := range evs {
			// seedHeads ends each event's id with its seq.
			seq, err := strconv.ParseInt(ev.ID.String()[24:], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			seqs[i] = seq
		}
		return seqs
	}
	span := func(from, to int64) []int64 {
		var out []int64
		for i := from; i <= to; i++ {
			out = append(out, i)
		}
		return out
	}
	for _, c := range []struct {
		limit int
		want  []int64
	}{
		{100, append(span(1, 50), span(601, 650)...)}, // the window's 50 due heads, then beyond it
		{10, span(651, 660)},                          // a window of heads that are all waiting
		{20, span(671, 690)},                          // past the paused type
	} {
		if got := claim(c.limit); !slices.Equal(got, c.want) {
			t.Errorf("claim of %d = %v, want %v", c.limit, got, c.want)
		}
	}
}
