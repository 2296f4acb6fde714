package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/outboxgen/outboxgen/generator"
	"github.com/outboxgen/outboxgen/generator/spec"
)

// rendered is a spec rendered in memory: the files, the spec's folder they
// are relative to, and the folders the generated package owns.
type rendered struct {
	files generator.Files
	root  string
	dirs  []string
}

// render loads the spec at path and renders it in memory. It reports spec
// errors itself and returns ok=false when there were any.
func (e *env) render(path string) (r rendered, ok bool) {
	stderr := e.stderr
	s, err := spec.Load(path)
	if err != nil {
		reportError(stderr, e.asInvoked(err))
		return r, false
	}
	r.root = filepath.Dir(path)
	out := filepath.Join(r.root, filepath.FromSlash(s.Package.Path))
	importPath, err := importPathOf(out)
	if err != nil && s.Package.ImportPath == "" {
		fmt.Fprintf(stderr, "outboxgen: %v\n", err)
		return r, false
	}
	r.files, err = generator.Generate(s, generator.Options{ImportPath: importPath})
	if err != nil {
		reportError(stderr, err)
		return r, false
	}
	r.dirs = generator.PackageDirs(s)
	return r, true
}

// asInvoked rewords the loader's advice to run init as the user runs this
// command.
func (e *env) asInvoked(err error) error {
	var errs spec.Errors
	if !errors.As(err, &errs) {
		return err
	}
	for _, se := range errs {
		se.Msg = strings.ReplaceAll(se.Msg, `"outboxgen init"`, strconv.Quote(e.self+" init"))
	}
	return errs
}

// reportConflicts prints why generate will not touch the tree; outcome
// says what that means for the command.
func reportConflicts(stderr io.Writer, p *plan, outcome string) {
	for _, c := range p.conflicts {
		fmt.Fprintf(stderr, "outboxgen: %s\n", c)
	}
	fmt.Fprintf(stderr, "outboxgen: %s until the %d %s above %s resolved\n",
		outcome, len(p.conflicts), plural(len(p.conflicts), "problem"), plural(len(p.conflicts), "is", "are"))
}

// plural is word when n is 1, else its plural: the other form given, or
// word+"s".
func plural(n int, word string, other ...string) string {
	switch {
	case n == 1:
		return word
	case len(other) > 0:
		return other[0]
	}
	return word + "s"
}

// reportError prints spec problems one per line, as FILE:LINE:COL: message,
// and any other error with the command's name.
func reportError(stderr io.Writer, err error) {
	var errs spec.Errors
	if !errors.As(err, &errs) {
		fmt.Fprintf(stderr, "outboxgen: %v\n", err)
		return
	}
	for _, e := range errs {
		fmt.Fprintln(stderr, e)
	}
}

func runGenerate(e *env, args []string) int {
	stdout, stderr := e.stdout, e.stderr
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specPath := fs.String("spec", "metrics.yaml", "the spec to generate from")
	verbose := fs.Bool("v", false, "list the files written and removed, and time the run")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	start := time.Now()
	r, ok := e.render(*specPath)
	if !ok {
		return exitFail
	}
	plan, err := compare(r.root, r.files, r.dirs)
	if err != nil {
		fmt.Fprintf(stderr, "outboxgen: %v\n", err)
		return exitFail
	}
	if len(plan.conflicts) > 0 {
		reportConflicts(stderr, plan, "nothing was written, and nothing will be,")
		return exitFail
	}
	for _, c := range generator.WindowChanges(plan.old, r.files) {
		fmt.Fprintf(stderr, "outboxgen: warning: the dedupe window of metric %q changes from %s to %s; entries saved before keep their "+
			"old windows, so a save may add an entry beside one it would have replaced (see \"Changing a window\" in docs/SPEC.md)\n",
			c.Metric, c.From, c.To)
	}
	if err := plan.apply(r.root, r.files); err != nil {
		fmt.Fprintf(stderr, "outboxgen: %v\n", err)
		return exitFail
	}
	if *verbose {
		for _, p := range slices.Concat(plan.missing, plan.changed) {
			fmt.Fprintf(stdout, "wrote   %s\n", p)
		}
		for _, p := range plan.stale {
			fmt.Fprintf(stdout, "removed %s\n", p)
		}
		fmt.Fprintf(stdout, "%d files generated from %s (%d written, %d removed, %d unchanged) in %s\n",
			len(r.files), *specPath, len(plan.missing)+len(plan.changed), len(plan.stale), len(plan.same),
			time.Since(start).Round(time.Millisecond))
	}
	return exitOK
}

func runCheck(e *env, args []string) int {
	stdout, stderr := e.stdout, e.stderr
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specPath := fs.String("spec", "metrics.yaml", "the spec the generated code must match")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	r, ok := e.render(*specPath)
	if !ok {
		return exitFail
	}
	plan, err := compare(r.root, r.files, r.dirs)
	if err != nil {
		fmt.Fprintf(stderr, "outboxgen: %v\n", err)
		return exitFail
	}
	if plan.current() {
		fmt.Fprintf(stdout, "generated code is current (%d files from %s)\n", len(r.files), *specPath)
		return exitOK
	}
	for _, p := range plan.changed {
		fmt.Fprintf(stdout, "changed: %s\n", p)
		fmt.Fprint(stdout, plan.diffs[p])
	}
	for _, p := range plan.missing {
		fmt.Fprintf(stdout, "missing: %s\n", p)
	}
	for _, p := range plan.stale {
		fmt.Fprintf(stdout, "stale:   %s (generated, but no longer by this spec)\n", p)
	}
	if len(plan.conflicts) > 0 {
		reportConflicts(stderr, plan, "generate will write nothing")
	}
	fmt.Fprintf(stderr, "outboxgen: generated code is not current (%d changed, %d missing, %d stale); run: %s generate%s\n",
		len(plan.changed), len(plan.missing), len(plan.stale), e.self, specFlag(*specPath))
	return exitFail
}

// specFlag is the -spec flag that names path, if it is not the default.
func specFlag(path string) string {
	if path == "metrics.yaml" {
		return ""
	}
	return " -spec " + path
}
