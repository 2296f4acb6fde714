package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/outboxgen/outboxgen/internal/pgtest"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
	"github.com/outboxgen/outboxgen/runtime/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// suiteStore adapts a Store to the conformance suite.
type suiteStore struct{ *pgstore.Store }

var errRollback = errors.New("roll back")

func (s suiteStore) EnqueueTx(ctx context.Context, commit bool, events ...outbox.Event) ([]outbox.Event, error) {
	var out []outbox.Event
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		for _, ev := range events {
			stored, err := s.Enqueue(ctx, tx, ev)
			if err != nil {
				return err
			}
			out = append(out, stored)
		}
		if !commit {
			return errRollback
		}
		return nil
	})
	if !commit && errors.Is(err, errRollback) {
		err = nil
	}
	return out, err
}

func (s suiteStore) OnDelivered(eventType string, fn func(context.Context, outbox.Delivery) error) {
	s.Store.OnDelivered(eventType, func(ctx context.Context, _ pgx.Tx, d outbox.Delivery) error { return fn(ctx, d) })
}

func open(t *testing.T, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	return openURL(t, pgtest.NewDatabase(t), opts...)
}

// openURL opens and migrates a store on the database at url.
func openURL(t *testing.T, url string, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(t.Context(), url, 8, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clock func() time.Time) storetest.Store {
		return suiteStore{open(t, pgstore.WithClock(clock))}
	})
}

func TestMigrateIsIdempotentAndConcurrent(t *testing.T) {
	s := open(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- s.Migrate(t.Context()) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestStateMachine runs random interleavings of every operation and checks
// the outbox's invariants after each (see storetest.StateMachine): four
// programs by default, OUTBOXGEN_MACHINE_RUNS when it is set.
func TestStateMachine(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("OUTBOXGEN_MACHINE_RUNS"))
	if runs <= 0 {
		runs = 4
	}
	for seed := range uint64(runs) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			clock := storetest.NewClock()
			storetest.StateMachine(t, suiteStore{open(t, pgstore.WithClock(clock.Now))}, clock, storetest.RandomProgram(seed, 300))
		})
	}
}

// In the exec modes that take parameter types from Go values, every
// enqueue would fail (a payload would go to its json parameter as bytea
// text): Open says so, and what to use instead, before connecting.
func TestOpenRefusesExecModesWithoutServerTypes(t *testing.T) {
	for _, mode := range []string{"exec", "simple_protocol"} {
		_, err := pgstore.Open(t.Context(), "postgres://nobody@127.0.0.1:1/none?default_query_exec_mode="+mode, 1)
		if err == nil || !strings.Contains(err.Error(), "default_query_exec_mode="+mode+" is not supported") || !strings.Contains(err.Error(), "cache_describe") {
			t.Errorf("Open with default_query_exec_mode=%s: %v, want it refused with what to use instead", mode, err)
		}
	}
}

// The modes that ask the server for parameter types run the conformance
// suite as the default mode does.
func TestConformanceInDescribeModes(t *testing.T) {
	for _, mode := range []string{"cache_describe", "describe_exec"} {
		t.Run(mode, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, clock func() time.Time) storetest.Store {
				return suiteStore{openURL(t, pgtest.NewDatabase(t)+"&default_query_exec_mode="+mode, pgstore.WithClock(clock))}
			})
		})
	}
}
