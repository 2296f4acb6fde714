package main

import (
	"bytes"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
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
