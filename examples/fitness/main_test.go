package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outboxgen/outboxgen/internal/pgtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The README's first command, as a new user runs it: no database server,
// an SQLite file, exit status 0 and the final table.
func TestScenarioCommand(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	var out, errOut bytes.Buffer
	code := run(t.Context(), []string{"--db", filepath.Join(t.TempDir(), "fitness.db"), "--pace", "1ms", "--outage", "300ms"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !regexp.MustCompile(`(?m)^total\s+55\s+55\s+55\s+\d+$`).MatchString(out.String()) {
		t.Fatalf("final table:\n%s", out.String())
	}
}

func TestUnknownMode(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"frobnicate"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "unknown mode") {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
}

func TestParseFaults(t *testing.T) {
	f, err := parseFaults(httptest.NewRequest("POST", "/faults?fail=0.2&status=429&retry_after=2s&slow=0.1&slow_by=3s", nil))
	if err != nil || f.FailShare != 0.2 || f.FailStatus != 429 || f.RetryAfter.String() != "2s" || f.SlowShare != 0.1 || f.SlowBy.String() != "3s" {
		t.Fatalf("%+v %v", f, err)
	}
	for _, q := range []string{"fail=2", "status=200", "slow_by=soon"} {
		if _, err := parseFaults(httptest.NewRequest("POST", "/faults?"+q, nil)); err == nil {
			t.Errorf("%s: accepted", q)
		}
	}
}

// The app mode rides through a PostgreSQL restart: the saves that fail
// while the server is down are reported and tried again, and the app goes
// on saving once it is back.
func TestAppSurvivesDatabaseRestart(t *testing.T) {
	pg := pgtest.NewServer(t)
	out := &lockedBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"app", "--database-url", pg.URL(), "--every", "20ms"}, out, out) }()
	saved := func() int { return strings.Count(out.String(), "app: saved weight") }
	failed := func() int { return strings.Count(out.String(), "app: the save failed") }
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				cancel()
				<-done
				t.Fatalf("%s never happened:\n%s", what, out.String())
			}
			time.Sleep(10 * time.Millisecond) // polling the app's output
		}
	}
	waitFor("a first save", func() bool { return saved() >= 3 })
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor("two failed saves reported while the server is down", func() bool { return failed() >= 2 })
	before := saved()
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor("saves after the restart", func() bool { return saved() >= before+5 })
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
}

// lockedBuffer is a buffer written by the app's goroutine and read by the
// test's.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
