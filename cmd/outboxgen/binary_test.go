package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildOutboxgen builds the command as users get it, for tests that check
// what a process does: exit statuses, streams, build information.
func buildOutboxgen(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := filepath.Join(t.TempDir(), "outboxgen")
	if out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func TestBinaryHelpVersionAndCatalog(t *testing.T) {
	bin := buildOutboxgen(t)
	run := func(args ...string) (int, string, string) {
		cmd := exec.Command(bin, args...)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errOut.String()
	}
	for _, verb := range []string{"init", "generate", "check", "catalog", "migrate", "status", "list", "show", "retry", "discard", "purge", "run", "version"} {
		code, out, errOut := run(verb, "--help")
		if code != 0 || errOut != "" || !strings.Contains(out, "usage: outboxgen "+verb) || !strings.Contains(out, "example:\n  outboxgen "+verb) {
			t.Errorf("%s --help: exit %d\n%s%s", verb, code, out, errOut)
		}
	}
	if code, out, _ := run("generate", "-h"); code != 0 || !strings.Contains(out, "-spec string") {
		t.Errorf("generate -h lists no flags: %d\n%s", code, out)
	}
	if code, _, _ := run("generate", "--nope"); code != exitUsage {
		t.Errorf("generate --nope: exit %d", code)
	}
	code, out, _ := run("version", "--json")
	var info struct{ Module, Version string }
	if err := json.Unmarshal([]byte(out), &info); code != 0 || err != nil || info.Module != "github.com/outboxgen/outboxgen" || info.Version == "" {
		t.Errorf("version --json: %d %v %s", code, err, out)
	}

	dir := t.TempDir()
	catalog := filepath.Join(dir, "outbox-catalog.json")
	code, out, errOut := run("catalog", "-spec", "../../metrics.yaml", "-o", catalog)
	if code != 0 || !strings.Contains(out, "8 metrics") {
		t.Fatalf("catalog: %d %s %s", code, out, errOut)
	}
	var c struct {
		Metrics []struct{ Route string }
		Schemas map[string]struct{ DDL string }
	}
	b, err := os.ReadFile(catalog)
	if err != nil || json.Unmarshal(b, &c) != nil || len(c.Metrics) != 8 || c.Metrics[0].Route == "" || !strings.Contains(c.Schemas["postgres"].DDL, "CREATE TABLE") {
		t.Fatalf("the catalog file: %v\n%.400s", err, b)
	}
	if code, _, errOut := run("catalog", "-spec", "../../metrics.yaml"); code != exitUsage || !strings.Contains(errOut, "-o") {
		t.Errorf("catalog without -o: %d %s", code, errOut)
	}
}
