package pgstore_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// Write sends the enqueue and the COMMIT in one round trip: the entity and
// its event commit together or not at all, whichever statement fails, and
// the connection goes back to the pool usable.
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
	write := func(id string, fnErr error) error {
		return s.Write(ctx, func(tx pgx.Tx) (outbox.Event, error) {
			if _, err := tx.Exec(ctx, "INSERT INTO entity (id) VALUES ($1)", id); err != nil {
				return outbox.Event{}, err
			}
			return pgEvent(id), fnErr
		})
	}

	// More writes than the pool has connections, so that every connection
	// is reused after each kind of ending.
	for i := range 3 * 8 {
		ok, poison, failing := fmt.Sprint("ok", i), fmt.Sprint("poison", i), fmt.Sprint("failing", i)
		if err := write(ok, nil); err != nil {
			t.Fatalf("write %s: %v", ok, err)
		}
		if err := s.Write(ctx, func(tx pgx.Tx) (outbox.Event, error) {
			if _, err := tx.Exec(ctx, "INSERT INTO entity (id) VALUES ($1)", poison); err != nil {
				return outbox.Event{}, err
			}
			return pgEvent("poison"), nil
		}); err == nil || !strings.Contains(err.Error(), "enqueue weight.updated and commit") || !strings.Contains(err.Error(), "poison event") {
			t.Fatalf("write whose enqueue fails: %v", err)
		}
		errFn := errors.New("validation failed")
		if err := write(failing, errFn); !errors.Is(err, errFn) {
			t.Fatalf("write whose fn fails: %v", err)
		}
	}

	var entities, events int
	if err := s.Pool().QueryRow(ctx, "SELECT (SELECT count(*) FROM entity), (SELECT count(*) FROM outbox_events)").Scan(&entities, &events); err != nil {
		t.Fatal(err)
	}
	if entities != 24 || events != 24 {
		t.Fatalf("%d entities and %d events committed, want 24 of each: the good writes only", entities, events)
	}
	st := s.Pool().Stat()
	if st.AcquiredConns() != 0 {
		t.Fatalf("%d connections still acquired after the writes", st.AcquiredConns())
	}
}
