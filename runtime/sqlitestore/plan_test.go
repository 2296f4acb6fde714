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
			var st statement
			if err := c.run(sqlitedb.New(&st)); !errors.Is(err, errRecorded) {
				t.Fatalf("recording the statement: %v", err)
			}
			rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+st.sql, st.args...)
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
			text := strings.Join(plan, "\n")
			if !strings.Contains(text, "USING INDEX "+c.index) && !strings.Contains(text, "USING COVERING INDEX "+c.index) {
				t.Errorf("the plan does not search %s:\n%s", c.index, text)
			}
			if strings.Contains(text, "SCAN outbox_events") || (c.name != "FailedPerMinute" && strings.Contains(text, "TEMP B-TREE FOR ORDER BY")) {
				t.Errorf("the plan scans or sorts:\n%s", text)
			}
		})
	}
}
