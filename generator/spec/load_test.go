package spec

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.want from the loader's output (then review the diff by hand)")

// TestBad holds the loader to the exact messages in testdata/bad: each
// NAME.yaml must fail with the lines in NAME.want, no more, no fewer.
func TestBad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 35 {
		t.Fatalf("found %d bad specs; expected at least 35", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := errorText(t, filepath.Base(file), data)
			wantFile := strings.TrimSuffix(file, ".yaml") + ".want"
			if *update {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s\ngot:\n%s\nwant:\n%s", wantFile, got, want)
			}
		})
	}
}

// errorText parses data, which must fail, and returns its errors one per line.
func errorText(t *testing.T, file string, data []byte) string {
	t.Helper()
	s, err := Parse(file, data)
	if err == nil {
		t.Fatalf("Parse succeeded, want errors; got %+v", s)
	}
	var errs Errors
	if !errors.As(err, &errs) || len(errs) == 0 {
		t.Fatalf("Parse returned %T %v, want non-empty Errors", err, err)
	}
	if s != nil {
		t.Errorf("Parse returned a spec along with errors")
	}
	return err.Error() + "\n"
}

func TestOversized(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("version: 1\n")
	for b.Len() <= MaxFileBytes {
		b.WriteString("# padding to push the file over the limit\n")
	}
	got := errorText(t, "big.yaml", b.Bytes())
	want := "big.yaml:1:1: the spec is larger than 1048576 bytes (1 MiB), far more than any list of metrics needs; check that this is the right file\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	// Exactly at the limit is still read.
	data := b.Bytes()[:MaxFileBytes]
	if _, err := Parse("limit.yaml", data); err != nil && strings.Contains(err.Error(), "larger than") {
		t.Errorf("a file of exactly MaxFileBytes was refused as too large: %v", err)
	}
}

func TestLoadOversizedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.yaml")
	data := bytes.Repeat([]byte("# padding\n"), MaxFileBytes/10+100)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path+":1:1: the spec is larger than") {
		t.Errorf("Load of a %d-byte file: got %v, want the size error", len(data), err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.yaml")
	_, err := Load(path)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %T %v, want Errors", err, err)
	}
	want := path + `: cannot read the spec: no such file or directory; run "outboxgen init" to write a starter metrics.yaml`
	if err.Error() != want {
		t.Errorf("got  %q\nwant %q", err.Error(), want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(err, fs.ErrNotExist) = false; the cause should stay reachable")
	}
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir)
	if err == nil || !strings.HasPrefix(err.Error(), dir+": cannot read the spec: ") {
		t.Errorf("got %v, want a read error naming %s", err, dir)
	}
}

// TestRootSpec loads the repository's own metrics.yaml, which the example
// and the docs are generated from.
func TestRootSpec(t *testing.T) {
	s, err := Load(filepath.Join("..", "..", "metrics.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range s.Metrics {
		names = append(names, m.Name)
	}
	want := "steps heart_rate weight height mood body_fat sleep water_intake"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("metrics = %s, want %s", got, want)
	}
	if s.Package.Name != "metrics" || s.Package.Path != "examples/fitness/metrics" {
		t.Errorf("package = %+v", s.Package)
	}
	if len(s.Dialects) != 2 || s.Dialects[0] != Postgres || s.Dialects[1] != SQLite {
		t.Errorf("dialects = %v, want [postgres sqlite]", s.Dialects)
	}
	windows := map[string]Window{}
	for _, m := range s.Metrics {
		windows[m.Name] = m.Dedupe.Window
	}
	for name, want := range map[string]Window{
		"steps": WindowDay, "heart_rate": WindowMinute, "mood": WindowHour, "water_intake": WindowNone,
	} {
		if windows[name] != want {
			t.Errorf("%s dedupe window = %q, want %q", name, windows[name], want)
		}
	}
}
