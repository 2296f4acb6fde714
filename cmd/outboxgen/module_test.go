package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	cmdline "github.com/outboxgen/outboxgen/internal/cli"
)

// Messages name the command the way the user ran it: through go tool, go
// run with or without a version, or a binary.
func TestInvocation(t *testing.T) {
	app := t.TempDir()
	write(t, filepath.Join(app, "go.mod"), "module example.com/app\n\ngo 1.26\n\ntool (\n\texample.com/other\n\t"+toolPackage+"\n)\n")
	plain := t.TempDir()
	write(t, filepath.Join(plain, "go.mod"), "module example.com/plain\n\ngo 1.26\n")
	cached := "/root/.cache/go-build/61/618c7af2f2fba7977b3e95df35eea48a45f7f6b9fa2a6830324e14f79078d67a-d/outboxgen"
	info := func(main, version string) *debug.BuildInfo {
		return &debug.BuildInfo{Path: toolPackage, Main: debug.Module{Path: main, Version: version}}
	}
	for _, c := range []struct {
		args0 string
		info  *debug.BuildInfo
		wd    string
		want  string
	}{
		{"outboxgen", info(ownModule, "v1.2.0"), app, "outboxgen"},
		{"./bin/outboxgen", info(ownModule, "(devel)"), app, "./bin/outboxgen"},
		{cached, info("example.com/app", "(devel)"), filepath.Join(app, "sub"), "go tool outboxgen"},
		{"/tmp/go-build3302933726/b001/exe/outboxgen", info("example.com/app", "(devel)"), app, "go tool outboxgen"},
		{cached, info("example.com/plain", "(devel)"), plain, "go run " + toolPackage},
		{cached, info(ownModule, "v1.2.0"), plain, "go run " + toolPackage + "@v1.2.0"},
		{cached, info(ownModule, "(devel)"), plain, "go run " + toolPackage},
		{cached, nil, plain, cached},
	} {
		if got := invocation(c.args0, c.info, c.wd); got != c.want {
			t.Errorf("invocation(%q, %+v, %s) = %q, want %q", c.args0, c.info.Main, c.wd, got, c.want)
		}
	}
}

func TestToolDirective(t *testing.T) {
	for gomod, want := range map[string]bool{
		"module x\ntool " + toolPackage + "\n":                          true,
		"module x\ntool (\n\t" + toolPackage + " // the generator\n)\n": true,
		"module x\ntool (\n\texample.com/y\n)\n" + toolPackage + "\n":   false,
		"module x\nrequire " + toolPackage + " v1.0.0\n":                false,
	} {
		if got := toolDirective(gomod, toolPackage); got != want {
			t.Errorf("toolDirective(%q) = %v, want %v", gomod, got, want)
		}
	}
}

// runAs runs the command as a user who typed self to start it.
func runAs(t *testing.T, self string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &cmdline.Env{Ctx: t.Context(), Stdout: &out, Stderr: &errOut, Stdin: eofReader{}, Now: time.Now}
	return program(self).Run(e, args), out.String(), errOut.String()
}

// check ends with the command to run, as the user runs outboxgen.
func TestCheckSaysWhatToRunTheWayTheUserRuns(t *testing.T) {
	dir := newModule(t, smallSpec)
	spec := filepath.Join(dir, "metrics.yaml")
	code, _, errOut := runAs(t, "go tool outboxgen", "check", "-spec", spec)
	if code != exitFail || !strings.HasSuffix(strings.TrimSpace(errOut), "run: go tool outboxgen generate -spec "+spec) {
		t.Fatalf("check: %d %s", code, errOut)
	}
	code, _, errOut = runAs(t, "go tool outboxgen", "generate", "-spec", filepath.Join(dir, "none.yaml"))
	if code != exitFail || !strings.Contains(errOut, `run "go tool outboxgen init" to write a starter metrics.yaml`) {
		t.Fatalf("generate without a spec: %d %s", code, errOut)
	}
}

// init writes the go:generate line into a Go file next to the spec, in
// the package of the Go files there (or one named after the folder), and
// does not tell someone who ran it with go tool to install it as a tool.
func TestInitWritesTheGenerateLine(t *testing.T) {
	dir := newModule(t, "")
	spec := filepath.Join(dir, "metrics.yaml")
	if err := os.Remove(spec); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runAs(t, "go tool outboxgen", "init", "-spec", spec)
	if code != exitOK || strings.Contains(out, "go get -tool") {
		t.Fatalf("init: %d\n%s%s", code, out, errOut)
	}
	want := "package app\n\n// The code generated from the spec next to this file is made by go generate.\n\n//go:generate go tool outboxgen generate\n"
	if got := read(t, filepath.Join(dir, "generate.go")); got != want {
		t.Fatalf("generate.go:\n%s\nwant:\n%s", got, want)
	}

	// Run as a binary: the line uses go tool, and init says how to add it.
	other := t.TempDir()
	write(t, filepath.Join(other, "main.go"), "package main\n\nfunc main() {}\n")
	code, out, _ = runAs(t, "outboxgen", "init", "-spec", filepath.Join(other, "health.yaml"))
	if code != exitOK || !strings.Contains(out, "go get -tool "+toolPackage) {
		t.Fatalf("init as a binary: %d\n%s", code, out)
	}
	if got := read(t, filepath.Join(other, "generate.go")); !strings.HasPrefix(got, "package main\n") || !strings.Contains(got, "//go:generate go tool outboxgen generate -spec health.yaml\n") {
		t.Fatalf("generate.go:\n%s", got)
	}

	// Run by version, the line runs it by the same version.
	pinned := t.TempDir()
	code, _, _ = runAs(t, "go run "+toolPackage+"@v1.0.0", "init", "-spec", filepath.Join(pinned, "metrics.yaml"))
	if got := read(t, filepath.Join(pinned, "generate.go")); code != exitOK || !strings.Contains(got, "//go:generate go run "+toolPackage+"@v1.0.0 generate\n") {
		t.Fatalf("init run by version: %d, generate.go:\n%s", code, got)
	}

	// A folder that has the line already keeps it.
	code, out, _ = runAs(t, "go run "+toolPackage+"@v1.0.0", "init", "-spec", filepath.Join(other, "more.yaml"))
	if code != exitOK || !strings.Contains(out, "generate.go already has a //go:generate line") {
		t.Fatalf("init where the line exists: %d\n%s", code, out)
	}
}
