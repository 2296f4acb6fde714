package generator_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outboxgen/outboxgen/generator"
	"github.com/outboxgen/outboxgen/generator/model"
	"github.com/outboxgen/outboxgen/generator/spec"
	"github.com/outboxgen/outboxgen/internal/pgtest"
)

// TestAcceptedSpecsBuildAndMigrate is the generator's promise, checked on
// random specs: a spec is either refused with errors that each point at
// a line of it, or it yields a package that builds, vets clean and, on
// every dialect it names, migrates and runs every query and hook; and a
// receiver that migrates on PostgreSQL and takes, stores, reads and
// deletes an entry of every metric.
//
// The specs are made of the riskiest words (see property_spec_test.go).
// Each refusal must be at the line of a name; that name is dropped and the
// rest tried again, so every spec ends up generated. A default run makes
// 3 specs of up to 5 metrics each, which keeps go test ./... quick;
// OUTBOXGEN_PROPERTY_SPECS=50 makes more, OUTBOXGEN_PROPERTY_SEED repeats
// a run (the seed is logged), and OUTBOXGEN_PROPERTY_STATICCHECK=1 also
// runs staticcheck on them, as it does in CI (CI=true).
func TestAcceptedSpecsBuildAndMigrate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the generated packages")
	}
	n := envInt(t, "OUTBOXGEN_PROPERTY_SPECS", 3)
	seed := uint64(envInt(t, "OUTBOXGEN_PROPERTY_SEED", int(time.Now().UnixNano()%1e9)))
	t.Logf("seed %d: OUTBOXGEN_PROPERTY_SEED=%d repeats this run", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	writeFiles(t, mod, generator.Files{"go.mod": []byte(
		"module example.com/prop\n\ngo 1.26\n\nrequire github.com/outboxgen/outboxgen v0.0.0\n\nreplace github.com/outboxgen/outboxgen => " + root + "\n")})
	var pkgs []smokePackage
	var args []string
	metrics, refused := 0, 0
	for i := range n {
		dir := fmt.Sprintf("s%d", i)
		rs := newRandomSpec(rng, "gen")
		files, m, dropped := acceptedSpec(t, rs, filepath.Join(mod, dir, "metrics.yaml"))
		metrics, refused = metrics+len(m.Metrics), refused+dropped
		writeFiles(t, filepath.Join(mod, dir), files)
		pkgs = append(pkgs, smokePackage{alias: dir, importPath: m.Package.ImportPath, m: m})
		// PostgreSQL for the sending side if the spec names it, and for
		// the receiver's default storage in any case.
		args = append(args, filepath.Join(t.TempDir(), "smoke.db"), pgtest.NewDatabase(t))
	}
	writeFiles(t, mod, generator.Files{"smoke/main.go": smokeProgram(pkgs)})
	t.Logf("%d specs, %d metrics generated, %d refusals (each at the line of a name)", n, metrics, refused)

	goCmd(t, mod, "mod", "tidy")
	goCmd(t, mod, "vet", "./...")
	if os.Getenv("OUTBOXGEN_PROPERTY_STATICCHECK") == "1" || os.Getenv("CI") == "true" {
		goCmd(t, mod, "run", "honnef.co/go/tools/cmd/staticcheck@v0.8.2", "./...")
	}
	goCmd(t, mod, "build", "-o", "smoke.bin", "./smoke")
	out, err := exec.Command(filepath.Join(mod, "smoke.bin"), args...).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("the generated packages failed when run: %v\n%s\nspecs in %s (seed %d)", err, out, mod, seed)
	}
}

// acceptedSpec writes rs to path and loads and generates it; each refusal
// must point at a line where rs declares a name, which is then dropped,
// until what remains generates. The files are relative to path's folder;
// refused counts the refusals.
func acceptedSpec(t *testing.T, rs *randomSpec, path string) (files generator.Files, m *model.Model, refused int) {
	t.Helper()
	importPath := "example.com/prop/" + filepath.Base(filepath.Dir(path)) + "/" + rs.pkg
	for {
		text := rs.yaml()
		if len(rs.metrics) == 0 {
			t.Fatalf("every metric was refused; the last spec was:\n%s", text)
		}
		writeFiles(t, filepath.Dir(path), generator.Files{"metrics.yaml": []byte(text)})
		s, err := spec.Load(path)
		if err == nil {
			files, err = generator.Generate(s, generator.Options{ImportPath: importPath})
		}
		if err == nil {
			if m, err = model.Build(s, importPath); err != nil {
				t.Fatal(err)
			}
			return files, m, refused
		}
		var errs spec.Errors
		if !errors.As(err, &errs) {
			t.Fatalf("the generator failed on an accepted spec, without a position: %v\n%s", err, numbered(text))
		}
		names := rs.lines()
		for _, e := range errs {
			if !names[e.Pos.Line] {
				t.Fatalf("a refusal that points at no name: %v\n%s", e, numbered(text))
			}
		}
		for _, e := range errs {
			t.Logf("refused: %s", e.Msg)
			rs.drop(e.Pos.Line)
		}
		refused += len(errs)
	}
}

func numbered(text string) string {
	lines := strings.Split(text, "\n")
	for i := range lines {
		lines[i] = fmt.Sprintf("%3d %s", i+1, lines[i])
	}
	return strings.Join(lines, "\n")
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}
