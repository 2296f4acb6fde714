package pgstore_test

import (
	"context"
	"maps"
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

// A claim commits without waiting for its WAL to be flushed; an outcome
// waits (see claimTx). A trigger notes synchronous_commit in the
// transaction of each.
func TestOnlyClaimsCommitAsynchronously(t *testing.T) {
	url := pgtest.NewDatabase(t)
	s := outboxtest.NewPostgresStore(t, url)
	outboxtest.EnqueuePostgres(t, s, outbox.Event{Type: "t", Aggregate: "a", AggregateID: "1", UserID: "u", Payload: []byte(`{}`)})
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err = conn.Exec(t.Context(), `
CREATE TABLE commit_modes (status text, mode text);
CREATE FUNCTION note_commit_mode() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO commit_modes VALUES (NEW.status, current_setting('synchronous_commit')); RETURN NEW; END $$;
CREATE TRIGGER note_commit_mode AFTER UPDATE ON outbox_events FOR EACH ROW EXECUTE FUNCTION note_commit_mode();`); err != nil {
		t.Fatal(err)
	}
	var server string
	if err := conn.QueryRow(t.Context(), `SHOW synchronous_commit`).Scan(&server); err != nil {
		t.Fatal(err)
	}
	if server == "off" {
		t.Fatalf("the server's synchronous_commit is off: nothing would tell the claim's from the others'")
	}
	evs, err := s.Claim(t.Context(), "me", 10, time.Minute)
	if err != nil || len(evs) != 1 {
		t.Fatalf("claim: %d events, %v", len(evs), err)
	}
	if _, err := s.Finish(t.Context(), []outbox.Outcome{{Event: evs[0], Kind: outbox.Delivered}}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	rows, err := conn.Query(t.Context(), `SELECT status, mode FROM commit_modes`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var status, mode string
		if err := rows.Scan(&status, &mode); err != nil {
			t.Fatal(err)
		}
		got[status] = mode
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"processing": "off", "completed": server}
	if !maps.Equal(got, want) {
		t.Fatalf("synchronous_commit by the status written: %v, want %v", got, want)
	}
}
