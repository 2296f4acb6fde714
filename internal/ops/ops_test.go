package ops

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/outboxgen/outboxgen/internal/catalog"
	"github.com/outboxgen/outboxgen/internal/cli"
	"github.com/outboxgen/outboxgen/internal/pgtest"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/ops/*.golden")

// opsFixture is an outbox in a known state, on one store, and the flags
// that point the command at it.
type opsFixture struct {
	flags  []string
	store  outbox.Store
	anchor time.Time // "now" for the command
	ids    map[string]uuid.UUID
}

// Fixed ids, so that golden output is stable.
func fixedID(n int) uuid.UUID {
	return uuid.MustParse("0190f0c2-0000-7000-8000-" + strings.Repeat("0", 11) + string(rune('0'+n)))
}

// seed fills an outbox with one event in each state, through enqueue
// (whose transaction type depends on the store) and the store's own API.
func seed(t *testing.T, s outbox.Store, enqueue func(...outbox.Event), clock *clockAt) map[string]uuid.UUID {
	t.Helper()
	ctx := t.Context()
	ids := map[string]uuid.UUID{}
	mk := func(n int, key, typ, user string) outbox.Event {
		ids[key] = fixedID(n)
		return outbox.Event{ID: fixedID(n), Type: typ, Aggregate: strings.Split(typ, ".")[0], AggregateID: key, UserID: user,
			Payload: []byte(`{"kg":72.5,"note":"private"}`), Metadata: map[string]string{"source": "scale"}}
	}
	enqueue(mk(1, "done", "weight.created", "ada"), mk(2, "dead", "weight.created", "ada"),
		mk(3, "failed", "mood.created", "bob"), mk(4, "busy", "mood.created", "bob"))
	clock.add(5 * time.Minute)
	enqueue(mk(5, "waiting", "weight.updated", "ada"))
	clock.add(time.Minute)
	claimed, err := s.Claim(ctx, "processor-1", 4, time.Hour)
	if err != nil || len(claimed) != 4 {
		t.Fatalf("claim: %d, %v", len(claimed), err)
	}
	byKey := map[string]*outbox.Event{}
	for _, ev := range claimed {
		byKey[ev.AggregateID] = ev
	}
	_, err = s.Finish(ctx, []outbox.Outcome{
		{Event: byKey["done"], Kind: outbox.Delivered},
		{Event: byKey["dead"], Kind: outbox.Dead, Class: outbox.Permanent, StatusCode: 422, Error: "permanent: POST /v1/weight: 422 Unprocessable Entity: kg out of range"},
		{Event: byKey["failed"], Kind: outbox.Retry, Class: outbox.Transient, StatusCode: 503, Delay: 10 * time.Minute, Error: "POST /v1/mood: 503 Service Unavailable"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// clockAt is a settable clock for seeding.
type clockAt struct{ t time.Time }

func (c *clockAt) now() time.Time      { return c.t }
func (c *clockAt) add(d time.Duration) { c.t = c.t.Add(d) }

func eachOpsStore(t *testing.T, test func(t *testing.T, f opsFixture)) {
	// Seeding ends four minutes before the command's "now".
	anchor := time.Now().UTC().Truncate(time.Second)
	t.Run("sqlite", func(t *testing.T) {
		clock := &clockAt{t: anchor.Add(-10 * time.Minute)}
		path := filepath.Join(t.TempDir(), "app.db")
		s, err := sqlitestore.Open(t.Context(), path, sqlitestore.WithClock(clock.now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		ids := seed(t, s, func(evs ...outbox.Event) { outboxtest.EnqueueSQLite(t, s, evs...) }, clock)
		test(t, opsFixture{flags: []string{"--db", path}, store: s, anchor: anchor, ids: ids})
	})
	t.Run("postgres", func(t *testing.T) {
		clock := &clockAt{t: anchor.Add(-10 * time.Minute)}
		url := pgtest.NewDatabase(t)
		s := outboxtest.NewPostgresStore(t, url, pgstore.WithClock(clock.now))
		ids := seed(t, s, func(evs ...outbox.Event) { outboxtest.EnqueuePostgres(t, s, evs...) }, clock)
		test(t, opsFixture{flags: []string{"--database-url", url}, store: s, anchor: anchor, ids: ids})
	})
}

// ops runs a command against the fixture's outbox.
func (f opsFixture) ops(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{Ctx: t.Context(), Stdout: &out, Stderr: &errOut, Stdin: eofReader{}, Now: func() time.Time { return f.anchor }}
	code := testProgram().Run(e, append(append([]string{args[0]}, f.flags...), args[1:]...))
	return code, out.String(), errOut.String()
}

// testProgram is a program of the ops verbs, reading catalog files.
func testProgram() *cli.Program {
	return &cli.Program{Name: "outboxctl", Commands: Commands(Catalogs{Flag: "catalog", Default: testCatalog, What: "the catalog", Load: catalog.Read})}
}

// testCatalog is the catalog of a spec with one metric, weight, written by
// "outboxgen catalog".
const testCatalog = "testdata/catalog.json"

// runCLI runs a command in-process and returns its exit status and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{Ctx: t.Context(), Stdout: &out, Stderr: &errOut, Stdin: eofReader{}, Now: time.Now}
	code = testProgram().Run(e, args)
	return code, out.String(), errOut.String()
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	rfc3339 = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	clockRe = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC|\b\d\d:\d\d:\d\d\b`)
	whereRe = regexp.MustCompile(`SQLite file [^\s,]+|PostgreSQL database [^\s,]+ on [^\s,]+ as user [^\s,]+`)
)

// normalize removes what differs between runs and stores: paths and clock
// readings. Durations stay: they are computed from the fixed anchor.
func normalize(s string) string {
	s = whereRe.ReplaceAllString(s, "<outbox>")
	s = rfc3339.ReplaceAllString(s, "<time>")
	return clockRe.ReplaceAllString(s, "<time>")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "ops", name+".golden")
	got = normalize(got)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got ---\n%s--- want ---\n%s", name, path, got, want)
	}
}

func TestStatus(t *testing.T) {
	eachOpsStore(t, func(t *testing.T, f opsFixture) {
		code, out, errOut := f.ops(t, "status")
		if code != cli.ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		golden(t, "status", out)

		code, out, _ = f.ops(t, "status", "--json")
		var r statusReport
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != cli.ExitOK {
			t.Fatalf("status --json: %v\n%s", err, out)
		}
		want := map[outbox.Status]int64{"pending": 1, "processing": 1, "failed": 1, "dead": 1, "completed": 1}
		for s, n := range want {
			if r.Counts[s] != n {
				t.Errorf("json counts[%s] = %d, want %d", s, r.Counts[s], n)
			}
		}
		if r.Dead != 1 || r.WaitingFor != 600 || len(r.ByUser) != 2 || r.ByUser[0].UserID != "bob" || r.ByType["mood.created"]["failed"] != 1 {
			t.Errorf("json report %+v", r)
		}
	})
}

func TestListAndShow(t *testing.T) {
	eachOpsStore(t, func(t *testing.T, f opsFixture) {
		code, out, errOut := f.ops(t, "list")
		if code != cli.ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		golden(t, "list", out)
		_, out, _ = f.ops(t, "list", "--status", "dead", "--json")
		var evs []eventJSON
		if err := json.Unmarshal([]byte(out), &evs); err != nil || len(evs) != 1 || evs[0].ID != f.ids["dead"] || evs[0].Payload != nil {
			t.Fatalf("list --status dead --json: %v %s", err, out)
		}
		_, out, _ = f.ops(t, "list", "--user", "bob", "--older-than", "8m")
		if !strings.Contains(out, "failed") || !strings.Contains(out, "busy") || strings.Contains(out, "ada") {
			t.Fatalf("list --user bob --older-than 8m:\n%s", out)
		}
		if code, _, errOut := f.ops(t, "list", "--status", "lost"); code != cli.ExitUsage || !strings.Contains(errOut, "not a status") {
			t.Fatalf("bad status: %d %s", code, errOut)
		}

		code, out, _ = f.ops(t, "show", f.ids["dead"].String())
		if code != cli.ExitOK {
			t.Fatal(out)
		}
		golden(t, "show", out)
		if strings.Contains(out, "private") {
			t.Fatal("show printed the payload without --payload")
		}
		_, out, _ = f.ops(t, "show", "--json", f.ids["dead"].String())
		var shown eventJSON
		if err := json.Unmarshal([]byte(out), &shown); err != nil || len(shown.History) != 1 || shown.History[0].StatusCode != 422 ||
			shown.History[0].Outcome != "dead" || shown.History[0].Class != "permanent" || shown.History[0].At.IsZero() {
			t.Fatalf("show --json history: %v\n%s", err, out)
		}
		_, out, _ = f.ops(t, "show", "--payload", f.ids["dead"].String())
		if !strings.Contains(out, `"note":"private"`) {
			t.Fatalf("show --payload:\n%s", out)
		}
		if code, _, errOut := f.ops(t, "show", uuid.NewString()); code != cli.ExitFail || !strings.Contains(errOut, "no event") {
			t.Fatalf("show of an unknown id: %d %s", code, errOut)
		}
	})
}

func TestRetryDiscardPurge(t *testing.T) {
	eachOpsStore(t, func(t *testing.T, f opsFixture) {
		ctx := t.Context()
		status := func(key string) outbox.Status {
			ev, err := f.store.Get(ctx, f.ids[key])
			if err != nil {
				return "gone"
			}
			return ev.Status
		}
		if code, out, _ := f.ops(t, "retry", "--all-dead"); code != cli.ExitOK || !strings.Contains(out, "1 of 1") || status("dead") != outbox.StatusPending {
			t.Fatalf("retry --all-dead: %d %s; status %s", code, out, status("dead"))
		}
		if code, _, errOut := f.ops(t, "retry", f.ids["done"].String()); code != cli.ExitFail || !strings.Contains(errOut, "only dead and failed") {
			t.Fatalf("retry of a completed event: %d %s", code, errOut)
		}
		if code, _, errOut := f.ops(t, "discard", f.ids["waiting"].String()); code != cli.ExitFail || !strings.Contains(errOut, "--yes") || status("waiting") == "gone" {
			t.Fatalf("discard without --yes off a terminal: %d %s", code, errOut)
		}
		if code, _, errOut := f.ops(t, "discard", "--yes", f.ids["busy"].String()); code != cli.ExitFail || !strings.Contains(errOut, "lease") {
			t.Fatalf("discard of an event in flight: %d %s", code, errOut)
		}
		if code, out, _ := f.ops(t, "discard", "--yes", "--type", "weight.updated"); code != cli.ExitOK || status("waiting") != "gone" {
			t.Fatalf("discard --type: %d %s", code, out)
		}
		if code, _, errOut := f.ops(t, "discard", "--yes"); code != cli.ExitUsage || !strings.Contains(errOut, "say which events") {
			t.Fatalf("discard of nothing in particular: %d %s", code, errOut)
		}
		if code, _, errOut := f.ops(t, "purge", "--completed-before", "1m"); code != cli.ExitFail || !strings.Contains(errOut, "purge 1 completed event(s) completed before ") || status("done") == "gone" {
			t.Fatalf("purge without --yes off a terminal must name the count: %d %s", code, errOut)
		}
		if code, out, _ := f.ops(t, "purge", "--yes", "--completed-before", "1m"); code != cli.ExitOK || !strings.Contains(out, "purged 1") || status("done") != "gone" {
			t.Fatalf("purge: %d %s", code, out)
		}
	})
}

func TestConfirmOnATerminal(t *testing.T) {
	var out, errOut bytes.Buffer
	e := &env{Ctx: context.Background(), Stdout: &out, Stderr: &errOut, Stdin: strings.NewReader("y\n"), Terminal: true}
	if err := confirm(e, false, "go?"); err != nil || !strings.Contains(errOut.String(), "go? [y/N]") || out.Len() > 0 {
		t.Fatalf("a yes at the prompt was not taken (%v), or the prompt was not on stderr: %q", err, errOut.String())
	}
	e.Stdin = strings.NewReader("\n")
	if confirm(e, false, "go?") == nil {
		t.Fatal("an empty answer was taken as yes")
	}
}

func TestMigrateWithSpec(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	code, out, errOut := runCLI(t, "migrate", "--db", path, "--catalog", testCatalog)
	if code != cli.ExitOK || !strings.Contains(out, "1 metrics") {
		t.Fatalf("migrate: %d %s %s", code, out, errOut)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'metric_%'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d metric tables, %v", n, err)
	}
	if code, _, errOut := runCLI(t, "status", "--db", filepath.Join(t.TempDir(), "typo.db")); code != cli.ExitFail || !strings.Contains(errOut, "no outbox at") {
		t.Fatalf("status of a missing file: %d %s", code, errOut)
	}
}
