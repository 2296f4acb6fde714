package generator_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/outboxgen/outboxgen/generator"
	"github.com/outboxgen/outboxgen/generator/spec"
)

var update = flag.Bool("update", false, "rewrite the golden output trees under testdata/golden/*/want")

// goldenCases are the directories under testdata/golden: each holds a
// metrics.yaml and, under want/, the whole tree generated from it.
func goldenCases(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob("testdata/golden/*/metrics.yaml")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs
}

func generate(t *testing.T, dir string) generator.Files {
	t.Helper()
	s, err := spec.Load(filepath.Join(dir, "metrics.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := generator.Generate(s, generator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestGolden(t *testing.T) {
	for _, dir := range goldenCases(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			files := generate(t, dir)
			want := filepath.Join(dir, "want")
			if *update {
				writeTree(t, want, files)
				return
			}
			have := readTree(t, want)
			for _, name := range sortedKeys(files) {
				got, ok := have[name]
				switch {
				case !ok:
					t.Errorf("%s: generated but not in the golden tree", name)
				case !bytes.Equal(got, files[name]):
					t.Errorf("%s differs from the golden file; first difference:\n%s", name, firstDifference(got, files[name]))
				}
			}
			for _, name := range sortedKeys(have) {
				if _, ok := files[name]; !ok {
					t.Errorf("%s: in the golden tree but no longer generated", name)
				}
			}
			if t.Failed() {
				t.Log("if the change is intended: go test ./generator/ -run TestGolden -update, and review the diff")
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	dir := goldenCases(t)[0]
	first, second := generate(t, dir), generate(t, dir)
	if len(first) != len(second) {
		t.Fatalf("two runs gave %d and %d files", len(first), len(second))
	}
	for name, b := range first {
		if !bytes.Equal(b, second[name]) {
			t.Fatalf("%s differs between two runs", name)
		}
	}
}

func TestHeaders(t *testing.T) {
	for name, b := range generate(t, goldenCases(t)[0]) {
		first, _, _ := strings.Cut(string(b), "\n")
		if !strings.HasSuffix(first, generator.Header) {
			t.Errorf("%s starts with %q, not the generated-code header", name, first)
		}
		if strings.HasSuffix(name, "_postgres.go") && (!strings.Contains(string(b), "pgx.Tx") || strings.Contains(string(b), "v5.")) {
			t.Errorf("%s does not use pgx as pgx", name)
		}
	}
}

// The golden trees compile and vet cleanly as packages of a module that
// depends on this one.
func TestGoldenCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds each golden tree in a module of its own")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range goldenCases(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			s, err := spec.Load(filepath.Join(dir, "metrics.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			module := strings.TrimSuffix(s.Package.ImportPath, "/"+s.Package.Path)
			mod := t.TempDir()
			writeTree(t, mod, generate(t, dir))
			gomod := fmt.Sprintf("module %s\n\ngo 1.26\n\nrequire github.com/outboxgen/outboxgen v0.0.0\n\nreplace github.com/outboxgen/outboxgen => %s\n", module, root)
			if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(gomod), 0o644); err != nil {
				t.Fatal(err)
			}
			goCmd(t, mod, "mod", "tidy")
			goCmd(t, mod, "vet", "./...")
		})
	}
}

func goCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("no golden tree at %s; run with -update to create it", dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// writeTree makes dir hold files and nothing else.
func writeTree(t *testing.T, dir string, files generator.Files) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, files)
}

// writeFiles writes files under dir, leaving other files there alone.
func writeFiles(t *testing.T, dir string, files generator.Files) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(path.Clean(name)))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func firstDifference(have, want []byte) string {
	h, w := strings.Split(string(have), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(h) || i < len(w); i++ {
		var hl, wl string
		if i < len(h) {
			hl = h[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if hl != wl {
			return fmt.Sprintf("line %d\n  golden:    %q\n  generated: %q", i+1, hl, wl)
		}
	}
	return "(none)"
}
