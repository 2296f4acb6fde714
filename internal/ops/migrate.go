package ops

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/outboxgen/outboxgen/internal/catalog"
	"github.com/outboxgen/outboxgen/internal/cli"
)

// migrateReport is what migrate did, or with --dry-run would do.
type migrateReport struct {
	Where   string      `json:"where"`
	DryRun  bool        `json:"dry_run"`
	Applied []migration `json:"applied"` // with --dry-run: what would be applied
	Version int         `json:"version"` // the outbox schema's version afterwards
	// MetricTables names the catalog whose tables were created or
	// upgraded; empty without one.
	MetricTables string `json:"metric_tables,omitempty"`
	Metrics      int    `json:"metrics,omitempty"`
}

func migrateCommand(cats Catalogs) cli.Command {
	return cli.Command{
		Name:    "migrate",
		Summary: "create or upgrade the outbox's tables (and with --" + cats.Flag + ", the metric tables); says what it applied",
		Usage:   "[--" + cats.Flag + " FILE] [--dry-run] [--json]",
		Example: "migrate --db app.db --dry-run\nmigrate --database-url postgres://owner@db/app --" + cats.Flag + " " + cats.Default,
		Setup: func(fs *flag.FlagSet) cli.Action {
			var t target
			t.register(fs)
			catalogPath := fs.String(cats.Flag, "", "also create or upgrade the metric tables of "+cats.What)
			dryRun := fs.Bool("dry-run", false, "say what would be applied, and change nothing")
			asJSON := fs.Bool("json", false, "print what was done as JSON, for machines")
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return cli.Usagef("takes no arguments, got %q", args[0])
				}
				var cat *catalog.Catalog
				if *catalogPath != "" {
					var err error
					if cat, err = cats.Load(*catalogPath); err != nil {
						return err
					}
				}
				r, err := migrate(e, &t, cat, *dryRun)
				if err != nil {
					return err
				}
				if *asJSON {
					return printJSON(e, r)
				}
				r.print(e)
				return nil
			}
		},
	}
}

func migrate(e *env, t *target, cat *catalog.Catalog, dryRun bool) (*migrateReport, error) {
	all, err := known()
	if err != nil {
		return nil, err
	}
	r := &migrateReport{DryRun: dryRun, Applied: []migration{}}
	if cat != nil {
		r.MetricTables, r.Metrics = cat.Source, len(cat.Metrics)
	}
	if _, err := os.Stat(t.db); dryRun && t.db != "" && os.IsNotExist(err) {
		r.Where, r.Applied, r.Version = "SQLite file "+t.db+" (not created yet)", all, len(all)
		return r, nil
	}
	o, err := t.open(e, true)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	r.Where = o.Where
	before, err := o.applied(e.Ctx)
	if err != nil {
		return nil, fmt.Errorf("read the applied migrations of %s: %w", o.Where, err)
	}
	if ahead := o.ahead(e.Program, all, before); ahead != "" {
		return nil, errors.New(ahead) // an older binary has no business changing the schema
	}
	if dryRun {
		r.Applied, r.Version = pending(all, before), len(all)
		return r, nil
	}
	if err := o.migrate(e.Ctx); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", o.Where, err)
	}
	after, err := o.applied(e.Ctx)
	if err != nil {
		return nil, fmt.Errorf("read the applied migrations of %s: %w", o.Where, err)
	}
	r.Applied, r.Version = pending(after, before), len(after)
	if cat != nil {
		if err := applyCatalogSchema(e.Ctx, cat, o); err != nil {
			return nil, fmt.Errorf("create the metric tables of %s in %s: %w", cat.Source, o.Where, err)
		}
	}
	return r, nil
}

func (r *migrateReport) print(e *env) {
	w := e.Stdout
	switch {
	case len(r.Applied) == 0:
		fmt.Fprintf(w, "outbox tables in %s: already current (version %d)\n", r.Where, r.Version)
	case r.DryRun:
		fmt.Fprintf(w, "outbox tables in %s: would apply %s (to version %d); nothing changed (--dry-run)\n", r.Where, names(r.Applied), r.Version)
	default:
		fmt.Fprintf(w, "outbox tables in %s: applied %s (now version %d)\n", r.Where, names(r.Applied), r.Version)
	}
	switch {
	case r.MetricTables == "":
	case r.DryRun:
		fmt.Fprintf(w, "metric tables of %s (%d metrics): would be created or upgraded\n", r.MetricTables, r.Metrics)
	default:
		fmt.Fprintf(w, "metric tables of %s are up to date (%d metrics)\n", r.MetricTables, r.Metrics)
	}
}

func names(ms []migration) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.String()
	}
	return strings.Join(s, ", ")
}
