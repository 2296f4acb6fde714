package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
)

// Write sends BEGIN with the first statement and the enqueue with the
// COMMIT: the entity and its event commit together or not at all, whichever
// statement fails, and the connection goes back to the pool usable.
func TestWriteCommitsEntityAndEventTogether(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	if _, err := s.Pool().Exec(ctx, `
		CREATE TABLE entity (id text PRIMARY KEY);
		CREATE FUNCTION reject_poison() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.aggregate_id = 'poison' THEN RAISE EXCEPTION 'poison event'; END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER reject_poison BEFORE INSERT ON outbox_events
			FOR EACH ROW EXECUTE FUNCTION reject_poison();`); err != nil {
		t.Fatal(err)
	}
	insert := func(q pgstore.Querier, id string) error {
		_, err := q.Exec(ctx, "INSERT INTO entity (id) VALUES ($1)", id)
		return err
	}
	errFn := errors.New("validation failed")
	// Each write ends a different way; more rounds than the pool has
	// connections, so that every connection is reused after each ending.
	for i := range 3 * 8 {
		ok, poison, failing := fmt.Sprint("ok", i), fmt.Sprint("poison", i), fmt.Sprint("failing", i)
		if err := s.Write(ctx, func(q pgstore.Querier) (outbox.Event, error) {
			return pgEvent(ok), insert(q, ok)
		}); err != nil {
			t.Fatalf("write %s: %v", ok, err)
		}
		if err := s.Write(ctx, func(q pgstore.Querier) (outbox.Event, error) {
			return pgEvent("poison"), insert(q, poison)
		}); err == nil || !strings.Contains(err.Error(), "enqueue weight.updated and commit") || !strings.Contains(err.Error(), "poison event") {
			t.Fatalf("write whose enqueue fails: %v", err)
		}
		if err := s.Write(ctx, func(q pgstore.Querier) (outbox.Event, error) {
			if err := insert(q, failing); err != nil {
				return outbox.Event{}, err
			}
			return outbox.Event{}, errFn
		}); !errors.Is(err, errFn) {
			t.Fatalf("write whose fn fails after a statement: %v", err)
		}
		// The first statement fails: BEGIN went with it, and is undone.
		if err := s.Write(ctx, func(q pgstore.Querier) (outbox.Event, error) {
			return pgEvent(ok), insert(q, ok)
		}); err == nil || !strings.Contains(err.Error(), "duplicate key") {
			t.Fatalf("write whose first statement fails: %v", err)
		}
	}

	var entities, events int
	if err := s.Pool().QueryRow(ctx, "SELECT (SELECT count(*) FROM entity), (SELECT count(*) FROM outbox_events)").Scan(&entities, &events); err != nil {
		t.Fatal(err)
	}
	if entities != 24 || events != 24 {
		t.Fatalf("%d entities and %d events committed, want 24 of each: the good writes only", entities, events)
	}
	noOpenTransactions(t, s)
}

// Whatever a Write's first statement is (a row, rows, none, or no statement
// at all), it runs in the transaction, and later statements see it.
func TestWriteFirstStatementKinds(t *testing.T) {
	ctx := t.Context()
	s := open(t)
	if _, err := s.Pool().Exec(ctx, "CREATE TABLE entity (id text PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	var got []string
	cases := map[string]func(q pgstore.Querier) error{
		"no statement": func(pgstore.Querier) error { return nil },
		"QueryRow": func(q pgstore.Querier) error {
			var id string
			if err := q.QueryRow(ctx, "INSERT INTO entity VALUES ('row') RETURNING id").Scan(&id); err != nil {
				return err
			}
			got = append(got, id)
			return nil
		},
		"QueryRow with no row": func(q pgstore.Querier) error {
			var id string
			if err := q.QueryRow(ctx, "SELECT id FROM entity WHERE id = 'missing'").Scan(&id); !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("want no rows, got %v", err)
			}
			return insertEntity(ctx, q, "after-no-row")
		},
		"Query": func(q pgstore.Querier) error {
			rows, err := q.Query(ctx, "INSERT INTO entity VALUES ('q1'), ('q2') RETURNING id")
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
			got = append(got, ids...)
			if err != nil {
				return err
			}
			return insertEntity(ctx, q, "after-rows")
		},
	}
	for name, fn := range cases {
		if err := s.Write(ctx, func(q pgstore.Querier) (outbox.Event, error) { return pgEvent(name), fn(q) }); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var entities, events int
	if err := s.Pool().QueryRow(ctx, "SELECT (SELECT count(*) FROM entity), (SELECT count(*) FROM outbox_events)").Scan(&entities, &events); err != nil {
		t.Fatal(err)
	}
	if entities != 5 || events != 4 || len(got) != 3 {
		t.Fatalf("%d entities and %d events, rows read %v; want 5, 4 and [row q1 q2]", entities, events, got)
	}
	noOpenTransactions(t, s)
}

// insertEntity adds an entity row in a Write.
func insertEntity(ctx context.Context, q pgstore.Querier, id string) error {
	_, err := q.Exec(ctx, "INSERT INTO entity (id) VALUES ($1)", id)
	return err
}

// noOpenTransactions fails the test if a session of the store's database is
// still in a transaction: a Write left a connection behind mid-transaction.
func noOpenTransactions(t *testing.T, s *pgstore.Store) {
	t.Helper()
	var n int
	err := s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND state LIKE 'idle in transaction%'`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d sessions left idle in a transaction after the writes", n)
	}
}
