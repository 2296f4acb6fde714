package spec

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	positionedRE = regexp.MustCompile(`^fuzz\.yaml:\d+:\d+: `)
	// quotedRE matches text quoted with %q, which is how text from the spec
	// reaches messages; it is cut before looking for leaked Go internals,
	// since a spec may well contain the word "goroutine".
	quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	// leaks are signs of Go's internals in a message meant for people.
	leaks = []string{"float64", "int64", "interface {}", "map[", "[]", "!!", "goroutine", "yaml.Node", "please report"}
)

// FuzzParse holds Parse to its contract on any input: no panic, and either a
// spec or errors that are positioned and free of Go internals.
func FuzzParse(f *testing.F) {
	seeds := []string{filepath.Join("..", "..", "metrics.yaml")}
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && d.Name() == "fuzz":
			return fs.SkipDir // the fuzzer's own corpus, which it reads itself
		case !d.IsDir():
			seeds = append(seeds, path)
		}
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err == nil {
			checkSpec(t, s)
			return
		}
		if s != nil {
			t.Errorf("Parse returned both a spec and an error")
		}
		errs, ok := err.(Errors)
		if !ok || len(errs) == 0 {
			t.Fatalf("Parse returned %T %q, want non-empty Errors", err, err)
		}
		for _, e := range errs {
			line := e.Error()
			if !positionedRE.MatchString(line) {
				t.Errorf("message without FILE:LINE:COL: %q", line)
			}
			unquoted := quotedRE.ReplaceAllString(line, `""`)
			for _, leak := range leaks {
				if strings.Contains(unquoted, leak) {
					t.Errorf("message contains %q: %q", leak, line)
				}
			}
		}
		// Same input, same messages: nothing may depend on map order.
		if _, again := Parse("fuzz.yaml", data); !reflect.DeepEqual(err, again) {
			t.Errorf("Parse is not deterministic:\n%v\n---\n%v", err, again)
		}
	})
}

// checkSpec checks what every valid spec guarantees to the generator.
func checkSpec(t *testing.T, s *Spec) {
	t.Helper()
	if s == nil {
		t.Fatal("Parse returned neither a spec nor an error")
	}
	if len(s.Dialects) == 0 || !slices.IsSorted(s.Dialects) || len(s.Metrics) == 0 {
		t.Errorf("incomplete spec: %s", dump(s))
	}
	for _, m := range s.Metrics {
		if len(m.Fields) == 0 || m.Priority < 1 || m.MaxAttempts < 1 || m.Backoff.Base <= 0 ||
			m.Backoff.Base > m.Backoff.Max || m.Dedupe.Window == "" || m.Dedupe.TimeZone == "" ||
			m.Events.PayloadVersion < 1 || !strings.HasPrefix(m.Route, "/") {
			t.Errorf("metric %q lacks a setting: %+v", m.Name, m)
		}
		for _, f := range m.Fields {
			if (f.Type == String) != (f.MaxLength > 0) || (f.Type == Enum) != (len(f.Values) > 0) {
				t.Errorf("field %q of metric %q is inconsistent: %+v", f.Name, m.Name, f)
			}
		}
	}
}
