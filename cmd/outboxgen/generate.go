package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"github.com/outboxgen/outboxgen/generator"
	"github.com/outboxgen/outboxgen/generator/spec"
)

// render loads the spec at path and renders it in memory. It reports spec
// errors itself and returns ok=false when there were any.
func render(path string, stderr io.Writer) (files generator.Files, root string, ok bool) {
	s, err := spec.Load(path)
	if err != nil {
		reportError(stderr, err)
		return nil, "", false
	}
	root = filepath.Dir(path)
	out := filepath.Join(root, filepath.FromSlash(s.Package.Path))
	importPath, err := importPathOf(out)
	if err != nil && s.Package.ImportPath == "" {
		fmt.Fprintf(stderr, "outboxgen: %v\n", err)
		return nil, "", false
	}
	files, err = generator.Generate(s, generator.Options{ImportPath: importPath})
	if err != nil {
		reportError(stderr, err)
		return nil, "", false
	}
	return files, root, true
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
	files, root, ok := render(*specPath, stderr)
	if !ok {
		return exitFail
	}
	plan, err := compare(root, files)
	if err != nil {
		fmt.Fprintf(stderr, "outboxgen: %v\n", err)
		return exitFail
	}
	if err := plan.apply(root, files); err != nil {
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
			len(files), *specPath, len(plan.missing)+len(plan.changed), len(plan.stale), len(plan.same),
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
	files, root, ok := render(*specPath, stderr)
	if !ok {
		return exitFail
	}
	plan, err := compare(root, files)
	if err != nil {
		fmt.Fprintf(stderr, "outboxgen: %v\n", err)
		return exitFail
	}
	if plan.current() {
		fmt.Fprintf(stdout, "generated code is current (%d files from %s)\n", len(files), *specPath)
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
	fmt.Fprintf(stderr, "outboxgen: generated code is not current (%d changed, %d missing, %d stale); run: outboxgen generate -spec %s\n",
		len(plan.changed), len(plan.missing), len(plan.stale), *specPath)
	return exitFail
}
