package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/outboxgen/outboxgen/internal/pgtest"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
	"github.com/outboxgen/outboxgen/runtime/storetest"
)

// On a database whose default isolation is repeatable read, every
// transaction the store begins still runs at read committed: enqueues of a
// hot key race the processor's claims and its release of the key without
// serialization failures (SQLSTATE 40001) on either side.
func TestReadCommittedOnARepeatableReadDatabase(t *testing.T) {
	url := pgtest.NewDatabase(t)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(t.Context(), "ALTER DATABASE "+pgx.Identifier{cfg.Database}.Sanitize()+" SET default_transaction_isolation = 'repeatable read'")
	conn.Close(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s, err := pgstore.Open(t.Context(), url, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	var level string
	if err := s.Pool().QueryRow(t.Context(), "SHOW default_transaction_isolation").Scan(&level); err != nil || level != "repeatable read" {
		t.Fatalf("the database's default isolation is %q (%v); the test proves nothing", level, err)
	}

	const keys, perKey = 4, 60
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2*keys+2)
	for k := range keys {
		for _, through := range []string{"InTx", "Write"} {
			wg.Go(func() {
				for i := range perKey {
					ev := storetest.Event(fmt.Sprintf("hot-%d", k), i+1)
					var err error
					if through == "InTx" {
						err = s.InTx(ctx, func(tx pgx.Tx) error { _, err := s.Enqueue(ctx, tx, ev); return err })
					} else {
						err = s.Write(ctx, func(pgstore.Querier) (outbox.Event, error) { return ev, nil })
					}
					if err != nil {
						errs <- fmt.Errorf("%s enqueue: %w", through, err)
						return
					}
				}
			})
		}
	}
	delivered := 0
	for delivered < keys*perKey*2 && ctx.Err() == nil {
		evs, err := s.Claim(ctx, "tester", 16, time.Minute)
		if err != nil {
			errs <- fmt.Errorf("claim: %w", err)
			break
		}
		outs := make([]outbox.Outcome, len(evs))
		for i, ev := range evs {
			outs[i] = outbox.Outcome{Event: ev, Kind: outbox.Delivered}
		}
		res, err := s.Finish(ctx, outs)
		if err != nil {
			errs <- fmt.Errorf("finish: %w", err)
			break
		}
		delivered += len(res.Recorded)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "40001" {
			t.Errorf("serialization failure: %v", err)
		} else {
			t.Error(err)
		}
	}
	if delivered != keys*perKey*2 {
		t.Fatalf("delivered %d of %d events", delivered, keys*perKey*2)
	}
}
