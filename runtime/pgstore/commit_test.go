package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outboxgen/outboxgen/internal/pgtest"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
)

// A claim whose COMMIT fails hands out no events: they are not leased, and
// another processor may take them.
func TestClaimThatDoesNotCommitFails(t *testing.T) {
	url := pgtest.NewDatabase(t)
	s := outboxtest.NewPostgresStore(t, url)
	stored := outboxtest.EnqueuePostgres(t, s, outbox.Event{Type: "t", Aggregate: "a", AggregateID: "1", UserID: "u", Payload: []byte(`{}`)})
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// A deferred constraint that fails at COMMIT stands in for any failure
	// between the claim's rows and its COMMIT (the server terminated, a
	// failover).
	if _, err = conn.Exec(t.Context(), `
CREATE FUNCTION fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the commit fails'; END $$;
CREATE CONSTRAINT TRIGGER fail_at_commit AFTER UPDATE ON outbox_events DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (NEW.status = 'processing') EXECUTE FUNCTION fail_commit();`); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Claim(t.Context(), "me", 10, time.Minute)
	if err == nil || len(evs) != 0 {
		t.Fatalf("a claim that did not commit returned %d events, err %v", len(evs), err)
	}
	if got, err := s.Get(t.Context(), stored[0].ID); err != nil || got.Status != outbox.StatusPending {
		t.Fatalf("after the failed claim the event is %v (%v), want pending", got.Status, err)
	}
}
