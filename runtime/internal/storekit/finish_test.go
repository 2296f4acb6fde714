package storekit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

func TestBoundError(t *testing.T) {
	long := strings.Repeat("é", MaxErrorBytes)
	got := boundError("503\nService\tUnavailable: " + long)
	if len(got) > MaxErrorBytes || !utf8.ValidString(got) || strings.ContainsAny(got, "\n\t") || !strings.HasSuffix(got, "…") {
		t.Fatalf("bounded error: %d bytes, valid %v: %q…", len(got), utf8.ValidString(got), got[:40])
	}
	if got := boundError("short\x00error"); got != "short error" {
		t.Fatalf("%q", got)
	}
}

func TestNormalizeKillsRetryPastLastAttempt(t *testing.T) {
	last := &outbox.Event{Attempts: 3, MaxAttempts: 3}
	early := &outbox.Event{Attempts: 2, MaxAttempts: 3}
	got := normalize([]outbox.Outcome{
		{Event: last, Kind: outbox.Retry, Error: "503"},
		{Event: early, Kind: outbox.Retry, Error: "503"},
	})
	if got[0].Kind != outbox.Dead || got[0].Error != "gave up after 3 attempts: 503" {
		t.Errorf("retry on the last attempt recorded as %s %q, want dead", got[0].Kind, got[0].Error)
	}
	if got[1].Kind != outbox.Retry || got[1].Error != "503" {
		t.Errorf("retry with attempts left recorded as %s %q", got[1].Kind, got[1].Error)
	}
}

// fakeTx records outcomes in memory; its hooks fail for one event, and its
// commit fails once a given number of commits have succeeded.
type fakeTx struct {
	db      *fakeDB
	pending []uuid.UUID
}

type fakeDB struct {
	committed   []uuid.UUID
	commits     int
	failCommit  int // the commit that fails, counting from 1
	hookFailsOn uuid.UUID
}

func (f *fakeTx) mark(outs []outbox.Outcome) map[uuid.UUID]string {
	m := make(map[uuid.UUID]string, len(outs))
	for _, o := range outs {
		f.pending = append(f.pending, o.Event.ID)
		m[o.Event.ID] = o.Event.ID.String()
	}
	return m
}

func (f *fakeTx) Complete(_ context.Context, outs []outbox.Outcome) (map[uuid.UUID]string, error) {
	return f.mark(outs), nil
}

func (f *fakeTx) Kill(_ context.Context, outs []outbox.Outcome) (map[uuid.UUID]string, error) {
	return f.mark(outs), nil
}

func (f *fakeTx) Retry(_ context.Context, outs []outbox.Outcome) ([]uuid.UUID, error) {
	return slices.Collect(maps.Keys(f.mark(outs))), nil
}

func (f *fakeTx) Release(_ context.Context, outs []outbox.Outcome) ([]uuid.UUID, error) {
	return slices.Collect(maps.Keys(f.mark(outs))), nil
}

func (f *fakeTx) FinishKeys(context.Context, []string) (bool, error) { return false, nil }

func (f *fakeTx) Hooks(_ context.Context, ds []outbox.Delivery, _ bool) error {
	for _, d := range ds {
		if d.Event.ID == f.db.hookFailsOn {
			return errors.New("hook failed")
		}
	}
	return nil
}

func (db *fakeDB) begin(context.Context) (FinishTx, func(context.Context) error, func(context.Context), error) {
	tx := &fakeTx{db: db}
	commit := func(context.Context) error {
		db.commits++
		if db.commits == db.failCommit {
			return errors.New("connection lost")
		}
		db.committed = append(db.committed, tx.pending...)
		return nil
	}
	return tx, commit, func(context.Context) {}, nil
}

// When a failing hook makes Finish record outcomes one at a time and a
// later commit fails, Finish reports exactly the outcomes that committed.
func TestFinishReportsPartialCommits(t *testing.T) {
	evs := make([]*outbox.Event, 4)
	outs := make([]outbox.Outcome, 4)
	for i := range evs {
		evs[i] = &outbox.Event{ID: uuid.New(), Type: "weight.updated", Attempts: 1, MaxAttempts: 5}
		outs[i] = outbox.Outcome{Event: evs[i], Kind: outbox.Delivered}
	}
	// The batch fails on event 1's hook; one at a time, event 0 commits,
	// event 1's hook fails again, and event 2's commit fails.
	db := &fakeDB{hookFailsOn: evs[1].ID, failCommit: 2}
	res, _, err := Finish(context.Background(), outs, db.begin, func(string) bool { return true })
	if err == nil {
		t.Fatal("Finish hid the failed commit")
	}
	if fmt.Sprint(res.Recorded) != fmt.Sprint([]uuid.UUID{evs[0].ID}) || fmt.Sprint(db.committed) != fmt.Sprint(res.Recorded) {
		t.Fatalf("Finish reported %v recorded; the store committed %v", res.Recorded, db.committed)
	}
}
