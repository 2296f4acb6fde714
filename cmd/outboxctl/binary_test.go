package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outboxgen/outboxgen/internal/pgtest"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
)

// binary is the outboxctl built for these tests: they run it as an
// operator would, as a process with its own exit status and streams.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "outboxctl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "outboxctl")
	// -buildvcs=auto overrides a GOFLAGS=-buildvcs=false, so that version
	// has a revision to report.
	build := exec.Command("go", "build", "-buildvcs=auto", "-o", binary, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build outboxctl: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// result is what a run of the binary did.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// commandTimeout bounds one run of a command that should end by itself: one
// stuck at a prompt fails its test instead of the whole run.
const commandTimeout = 2 * time.Minute

// ctl runs the binary to completion with args.
func ctl(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL=")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if err != nil {
		exit, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("outboxctl %s: %v", strings.Join(args, " "), err)
		}
		code = exit.ExitCode()
	}
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// testCatalog is the catalog of a spec with one metric, weight.
const testCatalog = "../../internal/ops/testdata/catalog.json"

// outboxOn is an outbox the binary works on, migrated by the binary, and a
// store of the test's own to enqueue into and look at it.
type outboxOn struct {
	kind    string
	flags   []string // --db FILE or --database-url URL
	store   outbox.Store
	enqueue func(...outbox.Event) []outbox.Event
}

// eachStore runs test on a new SQLite file and a new PostgreSQL database.
func eachStore(t *testing.T, test func(t *testing.T, o outboxOn)) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) { test(t, newOutbox(t, kind)) })
	}
}

func newOutbox(t *testing.T, kind string) outboxOn {
	t.Helper()
	o := outboxOn{kind: kind, flags: []string{"--db", filepath.Join(t.TempDir(), "app.db")}}
	if kind == "postgres" {
		o.flags = []string{"--database-url", pgtest.NewDatabase(t)}
	}
	if r := ctl(t, append([]string{"migrate", "--catalog", testCatalog}, o.flags...)...); r.code != 0 {
		t.Fatalf("migrate: %s", r)
	}
	if kind == "postgres" {
		s, err := pgstore.Open(t.Context(), o.flags[1], 2)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		o.store, o.enqueue = s, func(evs ...outbox.Event) []outbox.Event { return outboxtest.EnqueuePostgres(t, s, evs...) }
		return o
	}
	s, err := sqlitestore.Open(t.Context(), o.flags[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	o.store, o.enqueue = s, func(evs ...outbox.Event) []outbox.Event { return outboxtest.EnqueueSQLite(t, s, evs...) }
	return o
}

// exec runs a statement of the test's own on the outbox's database.
func (o outboxOn) exec(t *testing.T, stmt string) {
	t.Helper()
	var err error
	switch s := o.store.(type) {
	case *sqlitestore.Store:
		_, err = s.DB().ExecContext(t.Context(), stmt)
	case *pgstore.Store:
		_, err = s.Pool().Exec(t.Context(), stmt)
	}
	if err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// queryRow scans the one row of query into dest.
func (o outboxOn) queryRow(t *testing.T, query string, dest ...any) {
	t.Helper()
	var err error
	switch s := o.store.(type) {
	case *sqlitestore.Store:
		err = s.DB().QueryRowContext(t.Context(), query).Scan(dest...)
	case *pgstore.Store:
		err = s.Pool().QueryRow(t.Context(), query).Scan(dest...)
	}
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// recordMigration records an outbox migration as applied, as the store
// does when it applies one.
func (o outboxOn) recordMigration(t *testing.T, version int, name string) {
	t.Helper()
	if o.kind == "sqlite" {
		o.exec(t, fmt.Sprintf("INSERT INTO outboxgen_migrations (component, version, name, applied_at) VALUES ('outbox', %d, '%s', 0)", version, name))
		return
	}
	o.exec(t, fmt.Sprintf("INSERT INTO outboxgen_migrations (component, version, name) VALUES ('outbox', %d, '%s')", version, name))
}

// where is how the binary's messages begin to name this outbox's
// database: the whole name for SQLite, the kind for PostgreSQL.
func (o outboxOn) where() string {
	if o.kind == "sqlite" {
		return "SQLite file " + o.flags[1]
	}
	return "PostgreSQL database "
}

// with returns the command line of verb on this outbox.
func (o outboxOn) with(verb string, args ...string) []string {
	return append(append([]string{verb}, o.flags...), args...)
}
