package main

import (
	"flag"
	"fmt"
)

func runMigrate(e *env, args []string) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var t target
	t.register(fs)
	specPath := fs.String("spec", "", "also create the metric tables of the package this spec generates")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	o, err := t.open(e.ctx, true)
	if err != nil {
		return e.fail(err)
	}
	defer o.Close()
	if err := o.migrate(e.ctx); err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "outbox tables in %s are up to date\n", o.Where)
	if *specPath == "" {
		return exitOK
	}
	cat, err := loadCatalog(*specPath)
	if err != nil {
		reportError(e.stderr, err)
		return exitFail
	}
	if err := cat.migrate(e.ctx, o); err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "metric tables of %s are up to date (%d metrics)\n", *specPath, len(cat.model.Metrics))
	return exitOK
}
