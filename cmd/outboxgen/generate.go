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

// render loads the spec at path and renders it in memory. Its errors are
// the spec's (spec.Errors, with advice worded as the user runs this
// command) or what kept it from rendering.
func (e *env) render(path string) (r rendered, err error) {
	s, err := spec.Load(path)
	if err != nil {
		return r, e.asInvoked(err)
	}
	r.root = filepath.Dir(path)
	out := filepath.Join(r.root, filepath.FromSlash(s.Package.Path))
	importPath, err := importPathOf(out)
	if err != nil && s.Package.ImportPath == "" {
		return r, err
	}
	if r.files, err = generator.Generate(s, generator.Options{ImportPath: importPath}); err != nil {
		return r, err
	}
	r.dirs = generator.PackageDirs(s)
	return r, nil
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
	asJSON := fs.Bool("json", false, "print what was written and removed, or the spec's errors, as JSON")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	start := time.Now()
	rep := &genReport{Spec: *specPath}
	fail := func(err error) int { return e.fail(rep, err, *asJSON) }
	r, err := e.render(*specPath)
	if err != nil {
		return fail(err)
	}
	rep.Files = len(r.files)
	plan, err := compare(r.root, r.files, r.dirs)
	if err != nil {
		return fail(err)
	}
	rep.Current = plan.current()
	if len(plan.conflicts) > 0 {
		if *asJSON {
			rep.Conflicts = plan.conflicts
			return e.printReport(rep, exitFail)
		}
		reportConflicts(stderr, plan, "nothing was written, and nothing will be,")
		return exitFail
	}
	for _, c := range generator.WindowChanges(plan.old, r.files) {
		w := fmt.Sprintf("the dedupe window of metric %q changes from %s to %s; entries saved before keep their "+
			"old windows, so a save may add an entry beside one it would have replaced (see \"Changing a window\" in docs/SPEC.md)",
			c.Metric, c.From, c.To)
		rep.Warnings = append(rep.Warnings, w)
		fmt.Fprintf(stderr, "outboxgen: warning: %s\n", w)
	}
	if err := plan.apply(r.root, r.files); err != nil {
		return fail(err)
	}
	rep.Written, rep.Removed = slices.Concat(plan.missing, plan.changed), plan.stale
	switch {
	case *asJSON:
		return e.printReport(rep, exitOK)
	case *verbose:
		for _, p := range rep.Written {
			fmt.Fprintf(stdout, "wrote   %s\n", p)
		}
		for _, p := range rep.Removed {
			fmt.Fprintf(stdout, "removed %s\n", p)
		}
		fmt.Fprintf(stdout, "%d files generated from %s (%d written, %d removed, %d unchanged) in %s\n",
			len(r.files), *specPath, len(rep.Written), len(rep.Removed), len(plan.same),
			time.Since(start).Round(time.Millisecond))
	}
	return exitOK
}

func runCheck(e *env, args []string) int {
	stdout, stderr := e.stdout, e.stderr
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specPath := fs.String("spec", "metrics.yaml", "the spec the generated code must match")
	asJSON := fs.Bool("json", false, "print what is out of date, or the spec's errors, as JSON (exit 1 all the same)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	rep := &genReport{Spec: *specPath}
	r, err := e.render(*specPath)
	if err != nil {
		return e.fail(rep, err, *asJSON)
	}
	rep.Files = len(r.files)
	plan, err := compare(r.root, r.files, r.dirs)
	if err != nil {
		return e.fail(rep, err, *asJSON)
	}
	rep.Current = plan.current()
	rep.Changed, rep.Missing, rep.Stale, rep.Conflicts = plan.changed, plan.missing, plan.stale, plan.conflicts
	code := exitOK
	if !rep.Current {
		code = exitFail
	}
	if *asJSON {
		return e.printReport(rep, code)
	}
	if rep.Current {
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

// fail reports err, which stopped generate or check: in rep as JSON, or on
// stderr, a spec's problems one per line as FILE:LINE:COL: message.
func (e *env) fail(rep *genReport, err error, asJSON bool) int {
	if asJSON {
		rep.Problems = problemsOf(err)
		return e.printReport(rep, exitFail)
	}
	reportError(e.stderr, err)
	return exitFail
}

// printReport prints rep as JSON and returns code, or exitFail if it
// could not be printed.
func (e *env) printReport(rep *genReport, code int) int {
	if err := rep.print(e.stdout); err != nil {
		fmt.Fprintf(e.stderr, "outboxgen: %v\n", err)
		return exitFail
	}
	return code
}

// specFlag is the -spec flag that names path, if it is not the default.
func specFlag(path string) string {
	if path == "metrics.yaml" {
		return ""
	}
	return " -spec " + path
}
