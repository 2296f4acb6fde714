package ops

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/outboxgen/outboxgen/internal/cli"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
)

// openStore opens the outbox flags name, for a test to look into.
func openStore(t *testing.T, flags []string) outbox.Store {
	t.Helper()
	if flags[0] == "--database-url" {
		s, err := pgstore.Open(t.Context(), flags[1], 2)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	s, err := sqlitestore.Open(t.Context(), flags[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// killAll claims every due event and records it dead.
func killAll(t *testing.T, s outbox.Store) {
	t.Helper()
	for {
		evs, err := s.Claim(t.Context(), "test", 500, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return
		}
		outs := make([]outbox.Outcome, len(evs))
		for i, ev := range evs {
			outs[i] = outbox.Outcome{Event: ev, Kind: outbox.Dead, Class: outbox.Permanent, StatusCode: 422, Error: "permanent: 422"}
		}
		if _, err := s.Finish(t.Context(), outs); err != nil {
			t.Fatal(err)
		}
	}
}

// retry, discard and purge act on a selection in batches, with no cap but
// the one asked for, say exactly how many they did and how many remain,
// and show their progress on a terminal.
func TestBulkRepair(t *testing.T) {
	eachTarget(t, func(t *testing.T, _ string, flags []string, enqueue func(...outbox.Event)) {
		const n = 1100
		evs := make([]outbox.Event, n)
		for i := range evs {
			user := "ada"
			if i%10 == 0 {
				user = "bob"
			}
			evs[i] = outbox.Event{Type: "weight.created", Aggregate: "weight", AggregateID: uuid.NewString(), UserID: user, Payload: []byte(`{}`)}
		}
		enqueue(evs...)
		s := openStore(t, flags)
		killAll(t, s)
		cmd := func(args ...string) (int, string, string) {
			t.Helper()
			return runCLI(t, append(args, flags...)...)
		}

		if code, out, errOut := cmd("retry", "--all-dead", "--limit", "10"); code != cli.ExitOK || out != "retried 10 of 1100 selected event(s) (--limit 10); 1090 remain\n" {
			t.Fatalf("retry --limit 10: %d %q %s", code, out, errOut)
		}
		// On a terminal: a progress line per batch on stderr.
		var out, errOut bytes.Buffer
		e := &env{Ctx: t.Context(), Stdout: &out, Stderr: &errOut, Stdin: eofReader{}, Now: time.Now, Terminal: true}
		if code := testProgram().Run(e, append([]string{"retry", "--all-dead"}, flags...)); code != cli.ExitOK ||
			out.String() != "retried 1090 of 1090 selected event(s); none remain\n" {
			t.Fatalf("retry --all-dead: %d %q %s", code, out.String(), errOut.String())
		}
		if !strings.Contains(errOut.String(), "\rretry: 500 of 1090 done\rretry: 1000 of 1090 done\rretry: 1090 of 1090 done\n") {
			t.Fatalf("progress on a terminal: %q", errOut.String())
		}
		if st, err := s.Stats(t.Context()); err != nil || st.Counts[outbox.StatusPending] != n {
			t.Fatalf("after retrying every dead event: %v, %v", st.Counts, err)
		}

		// Off a terminal, no progress line; a discard of bob's events,
		// some of them in flight.
		claimed, err := s.Claim(t.Context(), "test", 5, time.Minute)
		if err != nil || len(claimed) != 5 || claimed[0].UserID != "bob" {
			t.Fatalf("claim: %d %v", len(claimed), err)
		}
		code, stdout, stderr := cmd("discard", "--user", "bob", "--yes", "--json")
		var r bulkReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil || code != cli.ExitFail || r.Selected != 110 || r.Done != 109 || r.Skipped != 1 || r.Remaining != 1 {
			t.Fatalf("discard --user bob: %d %+v %v\n%s", code, r, err, stderr)
		}
		if !strings.Contains(stderr, "1 selected event(s) skipped: being delivered right now") || strings.Contains(stderr, "\r") {
			t.Fatalf("discard's stderr: %q", stderr)
		}

		// Purge by type, user and age.
		var outs []outbox.Outcome
		for _, ev := range claimed[1:] {
			outs = append(outs, outbox.Outcome{Event: ev, Kind: outbox.Delivered})
		}
		if _, err := s.Finish(t.Context(), outs); err != nil {
			t.Fatal(err)
		}
		if code, out, errOut := cmd("purge", "--user", "ada", "--older-than", "1h", "--yes"); code != cli.ExitOK || out != "no events match; nothing to do\n" {
			t.Fatalf("purge of nothing: %d %q %s", code, out, errOut)
		}
		if code, out, errOut := cmd("purge", "--type", "weight.created", "--user", "ada", "--yes"); code != cli.ExitOK || out != "purged 4 of 4 selected event(s); none remain\n" {
			t.Fatalf("purge --type --user: %d %q %s", code, out, errOut)
		}

		for _, args := range [][]string{
			{"retry", "--status", "pending"},
			{"retry", "--all-dead", "--limit", "0"},
			{"retry", "--all-dead", uuid.NewString()},
			{"discard", "--all-dead", "--status", "failed"},
			{"purge", "--yes"},
			{"purge", "--type", "weight.created", "--older-than", "-1h"},
		} {
			if code, _, errOut := cmd(args...); code != cli.ExitUsage {
				t.Errorf("%s: exit %d, want 2: %s", strings.Join(args, " "), code, errOut)
			}
		}
	})
}
