package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/outboxgen/outboxgen/internal/pgtest"
	outbox "github.com/outboxgen/outboxgen/runtime"
)

// The deployable command must never link the code generator: that is what
// makes it a fraction of outboxgen's size.
func TestDependenciesLeaveOutTheGenerator(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps listed only %d packages; is the command wrong?", len(deps))
	}
	for _, dep := range deps {
		for _, banned := range []string{"github.com/outboxgen/outboxgen/generator", "github.com/outboxgen/outboxgen/templates", "github.com/sqlc-dev/", "github.com/tetratelabs/wazero", "google.golang.org/grpc", "github.com/dave/jennifer"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") || strings.HasPrefix(dep, banned) && strings.HasSuffix(banned, "/") {
				t.Errorf("outboxctl depends on %s", dep)
			}
		}
	}
}

// The build docs/OPERATIONS.md tells operators to deploy stays under the
// 30 MB the processor's image is allowed. The docs' build also has
// -trimpath, which changes the size by a few kilobytes but would have this
// test compile every package again.
func TestDeployableBuildIsSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command: not with -short")
	}
	out := filepath.Join(t.TempDir(), "outboxctl")
	build := exec.Command("go", "build", "-ldflags=-s -w", "-o", out, ".")
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -ldflags=\"-s -w\": %v\n%s", err, msg)
	}
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 30 << 20
	if info.Size() >= limit {
		t.Errorf("the deployable outboxctl is %.1f MB, over the %d MB limit: see what grew with go version -m", float64(info.Size())/(1<<20), limit>>20)
	}
}

var verbs = []string{"migrate", "status", "processors", "list", "show", "retry", "discard", "purge", "pause", "resume", "run", "version"}

func TestHelpOnEveryVerb(t *testing.T) {
	r := ctl(t, "--help")
	for _, verb := range verbs {
		if !regexp.MustCompile(`(?m)^  ` + verb + ` +\S`).MatchString(r.stdout) {
			t.Errorf("outboxctl --help does not list %s:\n%s", verb, r.stdout)
		}
	}
	for _, verb := range verbs {
		for _, h := range []string{"-h", "--help"} {
			r := ctl(t, verb, h)
			if r.code != 0 || r.stderr != "" {
				t.Errorf("%s %s: %s", verb, h, r)
				continue
			}
			for _, want := range []string{"outboxctl " + verb + ": ", "usage: outboxctl " + verb, "example:\n  outboxctl " + verb} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("%s %s lacks %q:\n%s", verb, h, want, r.stdout)
				}
			}
		}
	}
	// Help wins wherever it stands, even after other flags.
	if r := ctl(t, "list", "--db", "x.db", "-h"); r.code != 0 || !strings.Contains(r.stdout, "usage: outboxctl list") {
		t.Errorf("list --db x.db -h: %s", r)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	db := filepath.Join(t.TempDir(), "app.db")
	zeroConfig := filepath.Join(t.TempDir(), "run.yaml")
	if err := os.WriteFile(zeroConfig, []byte("backend: http://127.0.0.1:1\nconcurrency: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"status", "--no-such-flag"},
		{"retry", "--db", db},                    // no target
		{"discard", "--db", db, "--yes"},         // no target
		{"show", "--db", db},                     // no id
		{"show", "--db", db, "not-a-uuid"},       // a bad id
		{"list", "--db", db, "--limit", "0"},     // zero is not "the default"
		{"list", "--db", db, "--status", "lost"}, // no such status
		{"purge", "--db", db},                    // no cutoff
		{"pause", "--db", db},                    // no reason
		{"run", "--db", db, "--backend", "http://127.0.0.1:1", "--concurrency", "0"},
		{"run", "--db", db, "--backend", "http://127.0.0.1:1", "--batch-size", "0"},
		{"run", "--db", db},                         // no backend
		{"run", "--db", db, "--config", zeroConfig}, // a zero in the file is not "the default" either
		{"status", "--db", db, "--watch", "1s", "--fail-if-dead"},
		{"status", "--db", db, "--database-url", "postgres://ops@127.0.0.1/app"}, // two outboxes
		{"status"}, // no outbox
	} {
		if r := ctl(t, args...); r.code != 2 {
			t.Errorf("outboxctl %s: want exit 2 for a usage error, got %s", strings.Join(args, " "), r)
		}
	}
	for _, args := range [][]string{
		{"run", "--db", db, "--backend", "http://127.0.0.1:1", "--concurrency", "0"},
		{"run", "--db", db, "--config", zeroConfig},
	} {
		if r := ctl(t, args...); !strings.Contains(r.stderr, "--concurrency (concurrency: in a config file) must be positive") {
			t.Errorf("outboxctl %s does not say why: %s", strings.Join(args, " "), r)
		}
	}
}

func TestVersion(t *testing.T) {
	r := ctl(t, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "outboxctl github.com/outboxgen/outboxgen ") {
		t.Fatalf("version: %s", r)
	}
	r = ctl(t, "version", "--json")
	var info struct{ Module, Version, Revision string }
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || info.Module != "github.com/outboxgen/outboxgen" || info.Version == "" {
		t.Fatalf("version --json: %v %s", err, r)
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git work tree (%v): no revision to compare", err)
	}
	if info, err := os.Stat("../../.git"); err != nil || !info.IsDir() {
		t.Skip("go build stamps a revision only in a clone whose .git is a directory, not in a linked work tree")
	}
	if want := strings.TrimSpace(string(head)); info.Revision != want || !strings.Contains(ctl(t, "version").stdout, want) {
		t.Errorf("version reports revision %q, want HEAD %s", info.Revision, want)
	}
}

// seedDead enqueues an event and makes it dead, as a permanent rejection does.
func seedDead(t *testing.T, o outboxOn, ev outbox.Event) outbox.Event {
	t.Helper()
	ev = o.enqueue(ev)[0]
	claimed, err := o.store.Claim(t.Context(), "test", 10, time.Minute)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %d %v", len(claimed), err)
	}
	if _, err := o.store.Finish(t.Context(), []outbox.Outcome{{Event: claimed[0], Kind: outbox.Dead, Error: "permanent: 422 \x1b[2J\x1b]0;owned\x07 at C:\\app"}}); err != nil {
		t.Fatal(err)
	}
	return ev
}

func weightEvent(user string) outbox.Event {
	return outbox.Event{Type: "weight.created", Aggregate: "weight", AggregateID: uuid.NewString(), UserID: user, Payload: []byte(`{"kg":72.5}`)}
}

func TestFlagsAfterArguments(t *testing.T) {
	eachStore(t, func(t *testing.T, o outboxOn) {
		ev := o.enqueue(weightEvent("ada"))[0]
		r := ctl(t, append([]string{"show", ev.ID.String(), "--payload"}, o.flags...)...)
		if r.code != 0 || !strings.Contains(r.stdout, `{"kg":72.5}`) {
			t.Fatalf("show ID --payload %s …: %s", o.flags[0], r)
		}
	})
}

// Text from the database reaches the terminal with its control characters
// escaped: a user id cannot retitle the terminal, clear it or hide rows.
func TestDatabaseTextIsEscaped(t *testing.T) {
	eachStore(t, func(t *testing.T, o outboxOn) {
		evil := "ada\x1b]0;pwned\x07\x1b[1A\r\u202eevil"
		ev := seedDead(t, o, weightEvent(evil))
		for _, args := range [][]string{o.with("list"), o.with("show", ev.ID.String()), o.with("status"), o.with("list", "--status", "dead")} {
			r := ctl(t, args...)
			if r.code != 0 {
				t.Fatalf("%v: %s", args, r)
			}
			if strings.ContainsAny(r.stdout, "\x1b\x07\r\u202e") {
				t.Errorf("%s printed raw control characters:\n%q", args[0], r.stdout)
			}
			if strings.Contains(r.stdout, `\\\\`) || strings.Contains(r.stdout, `\\x1b`) {
				t.Errorf("%s escaped a character twice:\n%s", args[0], r.stdout)
			}
			if args[0] == "list" && !strings.Contains(r.stdout, `at C:\\app`) {
				t.Errorf("%s does not show the error's backslash escaped once:\n%s", args[0], r.stdout)
			}
			if args[0] != "status" || strings.Contains(r.stdout, "user") {
				if !strings.Contains(r.stdout, `ada\x1b]0;pwned\x07\x1b[1A\r\u202eevil`) {
					t.Errorf("%s does not show the user id escaped:\n%s", args[0], r.stdout)
				}
			}
		}
		// JSON carries the text as it is, in JSON's own escapes.
		r := ctl(t, o.with("list", "--json")...)
		var evs []struct {
			UserID string `json:"user_id"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &evs); err != nil || len(evs) != 1 || evs[0].UserID != evil {
			t.Errorf("list --json: %v %s", err, r)
		}
	})
}

// Off a terminal, status --watch prints reports one after another with no
// escape codes; with --json, one JSON object per line.
func TestStatusWatchOffATerminal(t *testing.T) {
	eachStore(t, testStatusWatchOffATerminal)
}

func testStatusWatchOffATerminal(t *testing.T, o outboxOn) {
	o.enqueue(weightEvent("ada"))
	for _, asJSON := range []bool{false, true} {
		args := o.with("status", "--watch", "20ms")
		if asJSON {
			args = append(args, "--json")
		}
		cmd := exec.CommandContext(t.Context(), binary, args...)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(stdout)
		reports := 0
		for reports < 3 && lines.Scan() {
			line := lines.Text()
			if strings.Contains(line, "\x1b") {
				t.Errorf("escape code in %q", line)
			}
			switch {
			case asJSON:
				var r struct{ Counts map[string]int }
				if err := json.Unmarshal([]byte(line), &r); err != nil || r.Counts["pending"] != 1 {
					t.Fatalf("not one JSON report per line: %q (%v)", line, err)
				}
				reports++
			case strings.HasPrefix(line, "outbox: "):
				reports++
			}
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		for lines.Scan() { // drain until the process closes its output
		}
		if err := cmd.Wait(); err != nil || reports < 3 {
			t.Fatalf("json=%v: %d reports; exit %v", asJSON, reports, err)
		}
	}
}

// status exits 3 when an alert condition holds, for cron and health checks.
func TestStatusExitCodes(t *testing.T) {
	eachStore(t, func(t *testing.T, o outboxOn) {
		if r := ctl(t, o.with("status", "--fail-if-dead", "--fail-if-waiting", "1h")...); r.code != 0 {
			t.Fatalf("an empty outbox: %s", r)
		}
		o.enqueue(weightEvent("ada"))
		r := ctl(t, o.with("status", "--fail-if-waiting", "1ns", "--json")...)
		var report struct{ Alerts []string }
		if err := json.Unmarshal([]byte(r.stdout), &report); r.code != 3 || err != nil || len(report.Alerts) != 1 || !strings.Contains(r.stderr, "oldest waiting event has waited") {
			t.Fatalf("--fail-if-waiting 1ns with an event waiting: %v %s", err, r)
		}
		if r := ctl(t, o.with("status", "--fail-if-dead")...); r.code != 0 {
			t.Fatalf("--fail-if-dead with nothing dead: %s", r)
		}
		claimed, err := o.store.Claim(t.Context(), "test", 1, time.Minute)
		if err != nil || len(claimed) != 1 {
			t.Fatal(err)
		}
		if _, err := o.store.Finish(t.Context(), []outbox.Outcome{{Event: claimed[0], Kind: outbox.Dead, Error: "permanent: 422"}}); err != nil {
			t.Fatal(err)
		}
		if r := ctl(t, o.with("status", "--fail-if-dead")...); r.code != 3 || !strings.Contains(r.stderr, "alert: 1 dead event(s)") || !strings.Contains(r.stdout, "alert:") {
			t.Fatalf("--fail-if-dead with a dead event: %s", r)
		}
	})
}

// Commands on a database without the outbox's tables say to migrate.
func TestUnmigratedDatabaseHint(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "empty.db")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, verb := range []string{"status", "list"} {
			r := ctl(t, verb, "--db", path)
			if r.code != 1 || !strings.Contains(r.stderr, `no outbox tables yet: create them with "outboxctl migrate --db `+path+`"`) ||
				strings.Contains(r.stderr, "no such table") || strings.Contains(r.stderr, "owner") { // SQLite has no owner to name
				t.Errorf("%s: %s", verb, r)
			}
		}
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtestDatabase(t)
		r := ctl(t, "list", "--database-url", url)
		if r.code != 1 || !strings.Contains(r.stderr, `create them with "outboxctl migrate --database-url …" as the tables' owner`) || strings.Contains(r.stderr, "does not exist") {
			t.Errorf("list: %s", r)
		}
	})
}

// A database behind the binary's migrations (the binary was upgraded, the
// database not yet) is refused with the command that brings it up to date,
// not with the first statement that meets a missing table or column. The
// test hides the newest migration's record, then puts it back: migrate
// would run the migration again, which need not be possible.
func TestDatabaseBehindTheBinary(t *testing.T) {
	eachStore(t, func(t *testing.T, o outboxOn) {
		var version int
		var name string
		o.queryRow(t, "SELECT version, name FROM outboxgen_migrations WHERE component = 'outbox' ORDER BY version DESC LIMIT 1", &version, &name)
		o.exec(t, fmt.Sprintf("DELETE FROM outboxgen_migrations WHERE component = 'outbox' AND version = %d", version))
		for _, verb := range []string{"status", "list"} {
			r := ctl(t, append([]string{verb}, o.flags...)...)
			want := fmt.Sprintf(`lacks 1 migration(s) this outboxctl carries, %04d_%s first: apply them with "outboxctl migrate --`, version, name)
			if r.code != 1 || !strings.Contains(r.stderr, want) {
				t.Errorf("%s on a database behind the binary: %s", verb, r)
			}
		}
		if r := ctl(t, o.with("migrate", "--dry-run")...); r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("would apply %04d_%s", version, name)) {
			t.Errorf("migrate --dry-run on a database behind the binary: %s", r)
		}
		o.recordMigration(t, version, name)
		if r := ctl(t, o.with("status")...); r.code != 0 || r.stderr != "" {
			t.Errorf("status once the record is back: %s", r)
		}
	})
}

// A database ahead of the binary (migrated by a newer release while this
// one still runs, as in a rolling upgrade) is not refused, but every verb
// warns that the binary is older than the database.
func TestDatabaseAheadOfTheBinary(t *testing.T) {
	eachStore(t, func(t *testing.T, o outboxOn) {
		o.recordMigration(t, 9999, "from_the_future")
		want := "has 1 migration(s) this outboxctl does not carry, 9999_from_the_future first: the outboxctl is older than the database; upgrade it"
		for _, args := range [][]string{o.with("status"), o.with("list")} {
			r := ctl(t, args...)
			if r.code != 0 || !strings.Contains(r.stderr, "warning: "+o.where()) || !strings.Contains(r.stderr, want) {
				t.Errorf("%s on a database ahead of the binary: %s", args[0], r)
			}
		}
		// A daemon's standard error is its log: the warning is a record in
		// the log's format, so that a JSON log stays JSON.
		d := startDaemon(t, o.with("run", "--catalog", testCatalog, "--backend", "http://127.0.0.1:1", "--log-format", "json")...)
		d.waitFor(t, `"msg":"delivering"`)
		if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		d.wait()
		for line := range strings.Lines(d.logs()) {
			if !json.Valid([]byte(line)) {
				t.Errorf("run --log-format json wrote a line that is not JSON: %q", line)
			}
		}
		if !strings.Contains(d.logs(), `"level":"WARN","msg":"`+o.where()) || !strings.Contains(d.logs(), "9999_from_the_future") {
			t.Errorf("run's log lacks the warning:\n%s", d.logs())
		}
		// migrate refuses: an older binary has no business changing the schema.
		for _, args := range [][]string{o.with("migrate"), o.with("migrate", "--dry-run")} {
			r := ctl(t, args...)
			if r.code != 1 || strings.Count(r.stderr, want) != 1 || strings.Contains(r.stderr, "warning") {
				t.Errorf("%s on a database ahead of the binary: %s", strings.Join(args, " "), r)
			}
		}
	})
}

func TestMigrateSaysWhatItDid(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			flags := []string{"--db", filepath.Join(t.TempDir(), "app.db")}
			if kind == "postgres" {
				flags = []string{"--database-url", pgtestDatabase(t)}
			}
			all := regexp.MustCompile(`0001_outbox, 0002_\w+, 0003_\w+`)
			r := ctl(t, append([]string{"migrate", "--dry-run"}, flags...)...)
			if r.code != 0 || !strings.Contains(r.stdout, "would apply") || !all.MatchString(r.stdout) {
				t.Fatalf("dry run on a new database: %s", r)
			}
			if kind == "sqlite" {
				if _, err := os.Stat(flags[1]); !os.IsNotExist(err) {
					t.Fatalf("a dry run created %s: %v", flags[1], err)
				}
			} else if r := ctl(t, "list", "--database-url", flags[1]); r.code != 1 {
				t.Fatalf("a dry run created the tables: %s", r)
			}
			r = ctl(t, append([]string{"migrate"}, flags...)...)
			if r.code != 0 || !strings.Contains(r.stdout, "applied ") || !all.MatchString(r.stdout) {
				t.Fatalf("migrate: %s", r)
			}
			for _, extra := range [][]string{nil, {"--dry-run"}} {
				r = ctl(t, append(append([]string{"migrate"}, flags...), extra...)...)
				if r.code != 0 || !strings.Contains(r.stdout, "already current") {
					t.Fatalf("migrate %v again: %s", extra, r)
				}
			}
			r = ctl(t, append([]string{"migrate", "--json"}, flags...)...)
			var report struct {
				Applied []any
				Version int
			}
			if err := json.Unmarshal([]byte(r.stdout), &report); err != nil || report.Applied == nil || len(report.Applied) != 0 || report.Version < 3 {
				t.Fatalf("migrate --json: %v %s (want \"applied\": [])", err, r)
			}
		})
	}
}

// discard and purge name the database (never its password) and the count
// before acting.
func TestPromptsNameTheTarget(t *testing.T) {
	eachStore(t, func(t *testing.T, o outboxOn) {
		target := o.flags
		where := regexp.QuoteMeta("in SQLite file " + o.flags[1])
		if o.kind == "postgres" {
			url := strings.Replace(o.flags[1], "://postgres@", "://postgres:s3cret-pw@", 1)
			if !strings.Contains(url, "s3cret-pw") {
				t.Skipf("the test database URL has no user postgres to add a password to")
			}
			target = []string{"--database-url", url}
			where = regexp.QuoteMeta("in PostgreSQL database ") + `outboxgen_test_\w+` + regexp.QuoteMeta(" on 127.0.0.1:5432 as user postgres")
		}
		with := func(verb string, args ...string) []string { return append(append([]string{verb}, target...), args...) }
		seedDead(t, o, weightEvent("ada"))
		seedDead(t, o, weightEvent("bob"))
		r := ctl(t, with("discard", "--status", "dead")...)
		if r.code != 1 || !regexp.MustCompile(`discard 2 dead event\(s\) `+where+` for good\? Not on a terminal`).MatchString(r.stderr) {
			t.Fatalf("discard without --yes: %s", r)
		}
		ev := o.enqueue(weightEvent("cy"))[0]
		claimed, err := o.store.Claim(t.Context(), "test", 1, time.Minute)
		if err != nil || len(claimed) != 1 || claimed[0].ID != ev.ID {
			t.Fatal(err)
		}
		if _, err := o.store.Finish(t.Context(), []outbox.Outcome{{Event: claimed[0], Kind: outbox.Delivered}}); err != nil {
			t.Fatal(err)
		}
		r = ctl(t, with("purge", "--completed-before", "0s")...)
		if r.code != 1 || !regexp.MustCompile(`purge 1 completed event\(s\) completed before \S+ `+where+` for good\? Not on a terminal`).MatchString(r.stderr) {
			t.Fatalf("purge without --yes: %s", r)
		}
		r = ctl(t, with("purge", "--completed-before", "0s", "--yes")...)
		if r.code != 0 || !strings.Contains(r.stdout, "purged 1 of 1 selected event(s); none remain") {
			t.Fatalf("purge --yes: %s", r)
		}
		for _, r := range []result{r, ctl(t, with("status")...), ctl(t, with("list", "--json")...)} {
			if strings.Contains(r.stdout+r.stderr, "s3cret") {
				t.Fatalf("the password was printed: %s", r)
			}
		}
	})
}

func pgtestDatabase(t *testing.T) string {
	t.Helper()
	return pgtest.NewDatabase(t)
}
