package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The generator's verbs print JSON for CI and editors: what generate
// wrote and removed, what check found out of date, a spec's errors with
// their positions, what init and catalog wrote.
func TestGeneratorVerbsPrintJSON(t *testing.T) {
	dir := newModule(t, smallSpec)
	spec := filepath.Join(dir, "metrics.yaml")
	report := func(args ...string) (int, genReport) {
		t.Helper()
		code, out, errOut := cli(t, args...)
		var r genReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: not JSON (%v):\n%s%s", args, err, out, errOut)
		}
		return code, r
	}

	code, r := report("generate", "-spec", spec, "-json")
	if code != exitOK || r.Current || r.Files == 0 || len(r.Written) != r.Files || !slices.Contains(r.Written, "internal/metrics/weight_metric.go") {
		t.Fatalf("generate -json of a new tree: %d %+v", code, r)
	}
	if code, r := report("check", "-spec", spec, "-json"); code != exitOK || !r.Current || len(r.Changed)+len(r.Missing)+len(r.Stale) != 0 {
		t.Fatalf("check -json after generate: %d %+v", code, r)
	}
	if err := os.Remove(filepath.Join(dir, "internal/metrics/doc.go")); err != nil {
		t.Fatal(err)
	}
	if code, r := report("check", "-spec", spec, "-json"); code != exitFail || r.Current || !slices.Equal(r.Missing, []string{"internal/metrics/doc.go"}) {
		t.Fatalf("check -json of a drifted tree: %d %+v", code, r)
	}
	if code, r := report("generate", "-spec", spec, "-json"); code != exitOK || !slices.Equal(r.Written, []string{"internal/metrics/doc.go"}) || len(r.Removed) != 0 {
		t.Fatalf("generate -json of one missing file: %d %+v", code, r)
	}

	write(t, spec, "version: 1\npackage: {name: metrics, path: m}\ndialects: [sqlite]\nmetrics:\n  weight:\n    fileds: {}\n")
	for _, verb := range []string{"generate", "check"} {
		code, r := report(verb, "-spec", spec, "-json")
		if code != exitFail || len(r.Problems) == 0 {
			t.Fatalf("%s -json of a bad spec: %d %+v", verb, code, r)
		}
		p := r.Problems[0]
		if p.File != spec || p.Line != 6 || p.Column != 5 || p.Message == "" {
			t.Errorf("%s -json: first problem %+v, want %s line 6 column 5", verb, p, spec)
		}
	}

	starter := filepath.Join(t.TempDir(), "metrics.yaml")
	code, out, errOut := cli(t, "init", "-spec", starter, "-json")
	var ir initReport
	if err := json.Unmarshal([]byte(out), &ir); code != exitOK || err != nil || ir.Spec != starter || ir.Directive == "" || len(ir.Next) == 0 {
		t.Fatalf("init -json: %d %v\n%s%s", code, err, out, errOut)
	}
	if code, r := report("init", "-spec", starter, "-json"); code != exitFail || len(r.Problems) != 1 || !strings.Contains(r.Problems[0].Message, "already exists") {
		t.Fatalf("init -json over an existing spec: %d %+v", code, r)
	}
	catalog := filepath.Join(t.TempDir(), "catalog.json")
	code, out, errOut = cli(t, "catalog", "-spec", starter, "-o", catalog, "-json")
	var cr struct {
		Wrote   string
		Metrics int
	}
	if err := json.Unmarshal([]byte(out), &cr); code != exitOK || err != nil || cr.Wrote != catalog || cr.Metrics == 0 {
		t.Fatalf("catalog -json: %d %v\n%s%s", code, err, out, errOut)
	}
	if code, r := report("catalog", "-spec", spec, "-o", catalog, "-json"); code != exitFail || len(r.Problems) == 0 || r.Problems[0].Line != 6 {
		t.Fatalf("catalog -json of a bad spec: %d %+v", code, r)
	}
}
