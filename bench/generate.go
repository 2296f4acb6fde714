package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const groupGenerate = "5. Generator wall time (outboxgen generate, a built binary)"

// The generator measurements.
var (
	mGenRootWarm = def{"gen.root.warm", groupGenerate, "root metrics.yaml (8 metrics), warm sqlc cache", "s", false}
	mGenRootCold = def{"gen.root.cold", groupGenerate, "root metrics.yaml (8 metrics), cold (OUTBOXGEN_NO_CACHE=1)", "s", false}
	mGenBigWarm  = def{"gen.big.warm", groupGenerate, "synthesized spec (%d metrics), warm sqlc cache", "s", false}
	mGenBigCold  = def{"gen.big.cold", groupGenerate, "synthesized spec (%d metrics), cold (OUTBOXGEN_NO_CACHE=1)", "s", false}
)

// generator runs a built outboxgen binary on two specs, each in a module of
// its own in a temporary directory, with a sqlc cache of its own.
type generator struct {
	bin   string // the outboxgen binary
	dir   string // temporary directory holding everything
	cache string // XDG_CACHE_HOME of the runs
	root  string // module with a copy of the repository's metrics.yaml
	big   string // module with the synthesized spec
}

// newGenerator builds cmd/outboxgen from the repository at repo and lays
// out the two modules. The build is not timed.
func newGenerator(ctx context.Context, repo string, bigMetrics int) (*generator, error) {
	dir, err := os.MkdirTemp("", "obbench-gen-*")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	g := &generator{bin: filepath.Join(dir, "outboxgen"), dir: dir, cache: filepath.Join(dir, "cache"),
		root: filepath.Join(dir, "root"), big: filepath.Join(dir, "big")}
	build := exec.CommandContext(ctx, "go", "build", "-o", g.bin, "./cmd/outboxgen")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		g.close()
		return nil, fmt.Errorf("build cmd/outboxgen: %w\n%s", err, out)
	}
	spec, err := os.ReadFile(filepath.Join(repo, "metrics.yaml"))
	if err != nil {
		g.close()
		return nil, fmt.Errorf("read the root spec: %w", err)
	}
	for _, m := range []struct {
		dir, module string
		spec        []byte
	}{
		{g.root, "example.com/rootspec", spec},
		{g.big, "example.com/bigspec", synthesizeSpec(bigMetrics)},
	} {
		if err := os.MkdirAll(m.dir, 0o755); err != nil {
			g.close()
			return nil, err
		}
		gomod := fmt.Sprintf("module %s\n\ngo 1.26\n", m.module)
		if err := os.WriteFile(filepath.Join(m.dir, "go.mod"), []byte(gomod), 0o644); err != nil {
			g.close()
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(m.dir, "metrics.yaml"), m.spec, 0o644); err != nil {
			g.close()
			return nil, err
		}
	}
	return g, nil
}

// close removes the temporary directory.
func (g *generator) close() { _ = os.RemoveAll(g.dir) }

// run generates the spec in module dir into a clean output directory and
// returns the wall time of the command.
func (g *generator) run(ctx context.Context, dir string, cold bool) (time.Duration, error) {
	for _, out := range []string{"examples", "gen"} {
		if err := os.RemoveAll(filepath.Join(dir, out)); err != nil {
			return 0, err
		}
	}
	cmd := exec.CommandContext(ctx, g.bin, "generate", "-spec", "metrics.yaml")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+g.cache)
	if cold {
		cmd.Env = append(cmd.Env, "OUTBOXGEN_NO_CACHE=1")
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("outboxgen generate in %s: %w\n%s", dir, err, out.String())
	}
	return took, nil
}

// synthesizeSpec writes a spec of n metrics with two or three fields each,
// in the format of the repository's metrics.yaml.
func synthesizeSpec(n int) []byte {
	var b strings.Builder
	b.WriteString("version: 1\n\npackage:\n  name: metrics\n  path: gen/metrics\n\ndialects: [sqlite, postgres]\n\nmetrics:\n")
	windows := []string{"day", "hour", "minute", "none", "exact"}
	for i := range n {
		fmt.Fprintf(&b, "  sensor_%03d:\n", i)
		fmt.Fprintf(&b, "    description: Synthesized metric number %d.\n", i)
		b.WriteString("    unit: u\n    fields:\n")
		b.WriteString("      reading: {type: float, required: true, min: 0, max: 1000, description: The value read.}\n")
		b.WriteString("      samples: {type: int, min: 1, max: 100000, description: How many samples were averaged.}\n")
		switch i % 3 {
		case 0:
			b.WriteString("      quality: {type: enum, values: [poor, fair, good], description: How trustworthy the reading is.}\n")
		case 1:
			b.WriteString("      note: {type: string, max_length: 200, description: Free text.}\n")
		}
		fmt.Fprintf(&b, "    dedupe: %s\n", windows[i%len(windows)])
	}
	return []byte(b.String())
}

// generation runs the generator measurements once. The first call warms
// the sqlc cache with one run of each spec; cold runs bypass the cache
// with OUTBOXGEN_NO_CACHE=1. PostgreSQL is checkpointed first: the
// generator does not use it, but the server flushing the drains' writes
// meanwhile would take CPU from it.
func (b *bench) generation(ctx context.Context) {
	b.srv.checkpoint(ctx, nil)
	if b.gen == nil {
		if b.genErr != nil {
			return
		}
		g, err := newGenerator(ctx, b.repo, b.sizes.BigSpec)
		if err != nil {
			b.genErr = err
			b.res.fail("generator setup", err)
			return
		}
		b.gen = g
		for _, dir := range []string{g.root, g.big} {
			if _, err := g.run(ctx, dir, false); err != nil {
				b.genErr = err
				b.res.fail("generator warm-up", err)
				return
			}
		}
	}
	for _, m := range []struct {
		d    def
		dir  string
		cold bool
	}{
		{mGenRootWarm, b.gen.root, false},
		{mGenRootCold, b.gen.root, true},
		{withCount(mGenBigWarm, b.sizes.BigSpec), b.gen.big, false},
		{withCount(mGenBigCold, b.sizes.BigSpec), b.gen.big, true},
	} {
		if ctx.Err() != nil {
			return
		}
		took, err := b.gen.run(ctx, m.dir, m.cold)
		if err != nil {
			b.res.fail(m.d.Name, err)
			continue
		}
		b.res.add(m.d, took.Seconds())
		b.logf("%s: %s", m.d.Name, took.Round(time.Millisecond))
	}
}

// withCount fills the metric count into d's name.
func withCount(d def, n int) def {
	d.Name = fmt.Sprintf(d.Name, n)
	return d
}
