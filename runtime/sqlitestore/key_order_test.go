package sqlitestore_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore/internal/sqlitedb"
)

// TestKeyOrderCostsIndexSteps checks that keeping each key's events in
// order costs a few index steps whatever the backlog (migration 0015): an
// enqueue reads its key's last row and revived events, a promotion the row
// after the finished head, and neither scans the table. Stats reads the
// unfinished events through their index, not the delivered ones.
func TestKeyOrderCostsIndexSteps(t *testing.T) {
	ctx := t.Context()
	db := open(t).DB()
	seedHeads(t, db, 2000)
	if _, err := db.ExecContext(ctx, "UPDATE outbox_events SET status = 'completed', is_head = 0, completed_at = 1 WHERE seq > 100; ANALYZE"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		want []string
		run  func(q *sqlitedb.Queries) error
	}{
		{"InsertEvent", []string{"SEARCH l USING INDEX outbox_events_key (ordering_key=?)", "SEARCH r USING INDEX outbox_events_revived (ordering_key=?)"},
			func(q *sqlitedb.Queries) error {
				return q.InsertEvent(ctx, sqlitedb.InsertEventParams{OrderingKey: "weight/1"})
			}},
		{"PromoteNext", []string{"SEARCH n USING INDEX outbox_events_key (ordering_key=? AND seq>?)", "SEARCH r USING INDEX outbox_events_revived (ordering_key=?)"},
			func(q *sqlitedb.Queries) error {
				_, err := q.PromoteNext(ctx, `[["weight/1", 1], ["weight/2", 2]]`)
				return err
			}},
		{"Complete", []string{"SEARCH e USING INDEX sqlite_autoindex_outbox_events_1 (id=?)"},
			func(q *sqlitedb.Queries) error {
				_, err := q.Complete(ctx, sqlitedb.CompleteParams{Leases: `{"a": "b"}`})
				return err
			}},
		{"CountWaiting", []string{"SCAN outbox_events USING INDEX outbox_events_unfinished"},
			func(q *sqlitedb.Queries) error {
				_, err := q.CountWaiting(ctx)
				return err
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			plan := queryPlan(t, db, c.run)
			for _, w := range c.want {
				if !strings.Contains(plan, w) {
					t.Errorf("the plan does not %q:\n%s", w, plan)
				}
			}
			for _, line := range strings.Split(plan, "\n") {
				if line == "SCAN outbox_events" {
					t.Errorf("the plan scans the table:\n%s", plan)
				}
			}
		})
	}
}

// Migration 0015 finds the events revived before it, which rejoined their
// keys where they were (behind delivered events, or ahead of their key's
// head), and flags them: each key then goes on in the same order as
// before, and a later save waits for its key's revived event.
func TestMigrationFindsRevivedEvents(t *testing.T) {
	ctx := t.Context()
	s, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "outbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms, err := sqlitestore.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if ms[14].Version != 15 {
		t.Fatalf("migration 15 is at %d", ms[14].Version)
	}
	if _, err := s.ApplyMigrations(ctx, sqlitestore.Component, ms[:14]); err != nil {
		t.Fatal(err)
	}
	// Keys as the store kept them before 0015. b: version 1 revived while
	// version 2 was the head. d: version 1 revived after version 2 was
	// delivered (so the head), version 3 saved after it. n: untouched.
	rows := []struct {
		seq           int
		key, status   string
		version, head int
	}{
		{1, "b", "pending", 1, 0}, {2, "b", "pending", 2, 1}, {3, "b", "pending", 3, 0},
		{4, "d", "pending", 1, 1}, {5, "d", "completed", 2, 0}, {6, "d", "pending", 3, 0},
		{7, "n", "pending", 1, 1}, {8, "n", "pending", 2, 0},
	}
	for _, r := range rows {
		if _, err := s.DB().ExecContext(ctx, `INSERT INTO outbox_events (seq, id, event_type, aggregate, aggregate_id, user_id, ordering_key,
			is_new_record, entity_version, payload, priority, status, is_head, attempts, max_attempts, run_at, created_at, updated_at)
			VALUES (?, ?, 'weight.updated', 'weight', ?, 'u', ?, 0, ?, '{}', 5, ?, ?, 0, 5, 0, 0, 0)`,
			r.seq, fmt.Sprintf("00000000-0000-4000-8000-%012d", r.seq), r.key, "weight/"+r.key, r.version, r.status, r.head); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO outbox_keys (ordering_key, unfinished) VALUES ('weight/b', 3), ('weight/d', 2), ('weight/n', 2)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(ctx, func(tx *sql.Tx) error {
		_, err := s.Enqueue(ctx, tx, outbox.Event{Type: "weight.updated", Aggregate: "weight", AggregateID: "d", UserID: "u", EntityVersion: 4, Payload: []byte(`{}`)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var order []string
	for {
		evs, err := s.Claim(ctx, "test", 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		outs := make([]outbox.Outcome, len(evs))
		for i, ev := range evs {
			order = append(order, fmt.Sprintf("%s%d", ev.AggregateID, ev.EntityVersion))
			outs[i] = outbox.Outcome{Event: ev, Kind: outbox.Delivered}
		}
		if _, err := s.Finish(ctx, outs); err != nil {
			t.Fatal(err)
		}
	}
	want := "[b2 d1 n1 b1 d3 n2 b3 d4]"
	if got := fmt.Sprint(order); got != want {
		t.Fatalf("delivered %s, want %s", got, want)
	}
}

// A process of an earlier release open on a file migrated to 0015 cannot
// claim (its claims name the claim index by its old name), so it sends
// nothing whose outcome it could not record, and its saves fail without
// being made (outbox_keys is gone).
func TestEarlierReleasesCannotClaimOrSave(t *testing.T) {
	db := open(t).DB()
	for _, st := range []string{
		`SELECT seq FROM outbox_events INDEXED BY outbox_events_claimable WHERE is_head AND status IN ('pending', 'failed') LIMIT 1`,
		`INSERT INTO outbox_keys (ordering_key, unfinished) VALUES ('weight/1', 1)`,
	} {
		if _, err := db.ExecContext(t.Context(), st); err == nil {
			t.Errorf("a statement of the earlier release ran: %s", st)
		}
	}
}

// A key need not be valid UTF-8 (SQLite keeps the bytes it is given): its
// events are delivered in turn all the same, though promotions pass keys
// through JSON, which must be valid UTF-8.
func TestKeysThatAreNotUTF8(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	if err := s.InTx(ctx, func(tx *sql.Tx) error {
		for v := range 3 {
			ev := outbox.Event{Type: "weight.updated", Aggregate: "weight", AggregateID: "bad\xffkey", UserID: "u", EntityVersion: int64(v + 1), Payload: []byte(`{}`)}
			if _, err := s.Enqueue(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var versions []int64
	for range 3 {
		evs, err := s.Claim(ctx, "test", 10, time.Minute)
		if err != nil || len(evs) != 1 {
			t.Fatalf("claimed %d events (%v) after versions %v, want the key's next", len(evs), err, versions)
		}
		versions = append(versions, evs[0].EntityVersion)
		if _, err := s.Finish(ctx, []outbox.Outcome{{Event: evs[0], Kind: outbox.Delivered}}); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(versions) != "[1 2 3]" {
		t.Fatalf("delivered versions %v, want [1 2 3]", versions)
	}
}
