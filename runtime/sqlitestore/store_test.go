package sqlitestore_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
	"github.com/outboxgen/outboxgen/runtime/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// suiteStore adapts a Store to the conformance suite.
type suiteStore struct{ *sqlitestore.Store }

func (s suiteStore) EnqueueTx(ctx context.Context, commit bool, events ...outbox.Event) ([]outbox.Event, error) {
	var out []outbox.Event
	errRollback := context.Canceled
	err := s.InTx(ctx, func(tx *sql.Tx) error {
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
	if !commit && err == errRollback {
		err = nil
	}
	return out, err
}

func (s suiteStore) OnDelivered(eventType string, fn func(context.Context, outbox.Delivery) error) {
	s.Store.OnDelivered(eventType, func(ctx context.Context, _ *sql.Tx, d outbox.Delivery) error { return fn(ctx, d) })
}

func open(t *testing.T, opts ...sqlitestore.Option) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "outbox.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clock func() time.Time) storetest.Store {
		return suiteStore{open(t, sqlitestore.WithClock(clock), sqlitestore.WithWatchInterval(10*time.Millisecond))}
	})
}

func TestMigrateIsIdempotent(t *testing.T) {
	s := open(t)
	for range 2 {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// Each processor's subscription watches the file on a connection of its
// own: many of them leave the read pool free.
func TestManySubscriptionsLeaveReadsFree(t *testing.T) {
	s := open(t)
	for range 8 {
		_, cancel := s.Subscribe()
		defer cancel()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := s.Stats(ctx); err != nil {
		t.Fatalf("stats with 8 subscriptions: %v", err)
	}
}

// Health data at rest is not readable by other users of the machine.
func TestFileIsPrivate(t *testing.T) {
	s := open(t)
	if _, err := (suiteStore{s}).EnqueueTx(t.Context(), true, storetest.Event("w1", 1)); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal"} {
		info, err := os.Stat(s.Path() + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v; want no access for group or others", s.Path()+suffix, perm)
		}
	}
}

// An existing file that others can read (created by another tool, or an
// older version, under a loose umask), and its WAL files, are made private
// when the store opens them.
func TestOpenTightensAnExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	s, err := sqlitestore.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := (suiteStore{s}).EnqueueTx(t.Context(), true, storetest.Event("w1", 1)); err != nil {
		t.Fatal(err)
	}
	// Leave the WAL files behind, as a process that died would.
	files := []string{path, path + "-wal", path + "-shm"}
	for _, f := range files {
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reopened, err := sqlitestore.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %v after Open; want 0600", f, perm)
		}
	}
	s.Close()
}

// FuzzStateMachine runs random interleavings of every operation and checks
// the outbox's invariants after each (see storetest.StateMachine). Its
// seeds run with every go test; go test -fuzz explores further.
func FuzzStateMachine(f *testing.F) {
	for seed := range uint64(12) {
		f.Add(storetest.RandomProgram(seed, 300))
	}
	f.Fuzz(func(t *testing.T, program []byte) {
		clock := storetest.NewClock()
		s := open(t, sqlitestore.WithClock(clock.Now), sqlitestore.WithWatchInterval(0))
		storetest.StateMachine(t, suiteStore{s}, clock, program)
	})
}

// TestStateMachineRegressions replays random programs that once found a
// bug: 1140 recorded a retry on an event's last attempt (before bulk
// repairs joined the machine's operations, which changed what its bytes
// mean; that bug is pinned by the suite's RetryOnLastAttemptKills).
func TestStateMachineRegressions(t *testing.T) {
	for _, seed := range []uint64{1140} {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			clock := storetest.NewClock()
			s := open(t, sqlitestore.WithClock(clock.Now), sqlitestore.WithWatchInterval(0))
			storetest.StateMachine(t, suiteStore{s}, clock, storetest.RandomProgram(seed, 400))
		})
	}
}

// TestStateMachinePrograms runs OUTBOXGEN_MACHINE_RUNS random programs
// (default none) through the state machine. Much faster than go test -fuzz,
// whose coverage instrumentation of the SQLite engine makes each run slow:
// the way to explore millions of interleavings.
func TestStateMachinePrograms(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("OUTBOXGEN_MACHINE_RUNS"))
	if runs == 0 {
		t.Skip("set OUTBOXGEN_MACHINE_RUNS to run random programs")
	}
	for seed := 1000; seed < 1000+runs; seed++ {
		ok := t.Run(strconv.Itoa(seed), func(t *testing.T) {
			clock := storetest.NewClock()
			s := open(t, sqlitestore.WithClock(clock.Now), sqlitestore.WithWatchInterval(0))
			storetest.StateMachine(t, suiteStore{s}, clock, storetest.RandomProgram(uint64(seed), 400))
		})
		if !ok {
			return // one failing program is enough to debug
		}
	}
}

// Finish records large transactions while the application is not writing,
// and small ones while a save runs or waits, so that saves get in between.
func TestFinishChunksGiveWayToSaves(t *testing.T) {
	s := open(t)
	if n := s.FinishChunk(); n != 1000 {
		t.Fatalf("with no save waiting, chunks of %d, want 1000", n)
	}
	var during int
	if err := s.InTx(t.Context(), func(*sql.Tx) error {
		during = s.FinishChunk()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if during != 64 {
		t.Fatalf("while a save runs, chunks of %d, want 64", during)
	}
	if n := s.FinishChunk(); n != 1000 {
		t.Fatalf("after the save, chunks of %d, want 1000", n)
	}
}
