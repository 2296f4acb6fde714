package console_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outboxgen/outboxgen/internal/pgtest"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
)

// payloadMarker is in the payload of every seeded event: tests check that
// it shows only after a reveal, and never in a log.
const payloadMarker = "PAYLOAD-MARKER-7f3a"

// hostileUser is a user id that tries markup and a right-to-left override.
const hostileUser = "<script>alert(1)</script>\u202eevil"

// testStore is a seeded outbox.
type testStore interface {
	outbox.Store
	outbox.Browser
}

// seeded is an outbox with events in every status: two dead, one failed,
// two completed, three pending (one of a hostile user), one processing, and
// a live processor whose delivery is paused.
type seeded struct {
	store testStore
	dead  []outbox.Event // ada's weight.created, then bob's steps.updated
	// failed is due in an hour.
	failed outbox.Event
}

type enqueueFunc func(ctx context.Context, evs ...outbox.Event) ([]outbox.Event, error)

func openSQLite(t testing.TB) (testStore, enqueueFunc) {
	s, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "outbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s, func(ctx context.Context, evs ...outbox.Event) ([]outbox.Event, error) {
		var out []outbox.Event
		err := s.InTx(ctx, func(tx *sql.Tx) error {
			for _, ev := range evs {
				got, err := s.Enqueue(ctx, tx, ev)
				if err != nil {
					return err
				}
				out = append(out, got)
			}
			return nil
		})
		return out, err
	}
}

func openPostgres(t testing.TB) (testStore, enqueueFunc) {
	s, err := pgstore.Open(t.Context(), pgtest.NewDatabase(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s, func(ctx context.Context, evs ...outbox.Event) ([]outbox.Event, error) {
		var out []outbox.Event
		err := s.InTx(ctx, func(tx pgx.Tx) error {
			for _, ev := range evs {
				got, err := s.Enqueue(ctx, tx, ev)
				if err != nil {
					return err
				}
				out = append(out, got)
			}
			return nil
		})
		return out, err
	}
}

func event(typ, entity, user string) outbox.Event {
	payload, _ := json.Marshal(map[string]any{"entity": entity, "kg": 71.5, "note": payloadMarker})
	return outbox.Event{Type: typ, Aggregate: "weight", AggregateID: entity, UserID: user, Payload: payload,
		Metadata: map[string]string{"source": "test"}}
}

// seed fills store through enqueue; see seeded.
func seed(t testing.TB, store testStore, enqueue enqueueFunc) *seeded {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := enqueue(ctx,
		event("weight.created", "w-dead", "ada"),
		event("steps.updated", "s-dead", "bob"),
		event("weight.updated", "w-failed", "ada"),
		event("weight.created", "w-done-1", "ada"),
		event("weight.created", "w-done-2", "cy"),
	)
	must(err)
	claimed, err := store.Claim(ctx, "seed", 10, time.Minute)
	must(err)
	if len(claimed) != 5 {
		t.Fatalf("claimed %d events, want 5", len(claimed))
	}
	byEntity := map[string]*outbox.Event{}
	for _, ev := range claimed {
		byEntity[ev.AggregateID] = ev
	}
	_, err = store.Finish(ctx, []outbox.Outcome{
		{Event: byEntity["w-dead"], Kind: outbox.Dead, Error: "POST /v1/weight: 422 Unprocessable Entity: kg out of range", Class: outbox.Permanent},
		{Event: byEntity["s-dead"], Kind: outbox.Dead, Error: "POST /v1/steps: 400 Bad Request <b>bold</b>", Class: outbox.Permanent},
		{Event: byEntity["w-failed"], Kind: outbox.Retry, Delay: time.Hour, Error: "POST /v1/weight: 503 Service Unavailable", Class: outbox.Transient},
		{Event: byEntity["w-done-1"], Kind: outbox.Delivered},
		{Event: byEntity["w-done-2"], Kind: outbox.Delivered},
	})
	must(err)
	_, err = enqueue(ctx, event("weight.created", "w-busy", "dee"))
	must(err)
	busy, err := store.Claim(ctx, "seed", 1, time.Hour)
	must(err)
	if len(busy) != 1 {
		t.Fatalf("claimed %d events, want the busy one", len(busy))
	}
	_, err = enqueue(ctx, event("weight.created", "w-new-1", "ada"), event("mood.created", "m-new", hostileUser), event("weight.created", "w-new-2", "eve"))
	must(err)
	must(store.Heartbeat(ctx, outbox.ProcessorInfo{
		Owner: "host-a:4242:abcd", Host: "host-a", PID: 4242, Version: "v1.2.3", Config: "concurrency=16",
		State: outbox.State{Paused: true, PausedSince: time.Now().Add(-3 * time.Minute), PauseClass: outbox.Transient, PauseReason: "POST /v1/weight: 503 Service Unavailable"},
	}, time.Hour))

	s := &seeded{store: store}
	for _, id := range []string{"w-dead", "s-dead"} {
		ev, err := store.Get(ctx, byEntity[id].ID)
		must(err)
		s.dead = append(s.dead, *ev)
	}
	f, err := store.Get(ctx, byEntity["w-failed"].ID)
	must(err)
	s.failed = *f
	return s
}

// status returns the status of event id in the store.
func (s *seeded) status(t testing.TB, ev outbox.Event) outbox.Status {
	t.Helper()
	got, err := s.store.Get(context.Background(), ev.ID)
	if err != nil {
		t.Fatal(fmt.Errorf("get %s: %w", ev.ID, err))
	}
	return got.Status
}
