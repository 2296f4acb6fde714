package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/outboxgen/outboxgen/generator/model"
	"github.com/outboxgen/outboxgen/generator/spec"
	"github.com/outboxgen/outboxgen/generator/sqlgen"
	"github.com/outboxgen/outboxgen/internal/catalog"
	cmdline "github.com/outboxgen/outboxgen/internal/cli" // "cli" is the tests' helper
)

// loadCatalog reads the spec at path and describes the package it
// generates, as the ops verbs need it. Spec errors come one per line, as
// FILE:LINE:COL: message.
func loadCatalog(path string) (*catalog.Catalog, error) {
	s, err := spec.Load(path)
	if err != nil {
		var errs spec.Errors
		if errors.As(err, &errs) {
			return nil, fmt.Errorf("the spec has errors:\n%w", errs) // one per line, FILE:LINE:COL: message
		}
		return nil, err
	}
	m, err := model.Build(s, s.Package.ImportPath)
	if err != nil {
		return nil, err
	}
	c := &catalog.Catalog{Format: catalog.Format, Source: path, Schemas: map[string]catalog.Schema{}}
	for _, mt := range m.Metrics {
		c.Metrics = append(c.Metrics, catalog.Metric{
			Name: mt.Name, Table: mt.Table, Route: mt.Route,
			Events:  []string{mt.Events.Created, mt.Events.Updated, mt.Events.Deleted},
			Backoff: catalog.Backoff{Base: catalog.Duration(mt.Backoff.Base), Max: catalog.Duration(mt.Backoff.Max)},
		})
	}
	for dialect, column := range map[string]func(*model.Field) string{
		"sqlite":   func(f *model.Field) string { return f.SQLiteType },
		"postgres": func(f *model.Field) string { return f.PostgresType },
	} {
		ddl, err := sqlgen.Schema(m, dialect)
		if err != nil {
			return nil, fmt.Errorf("render the %s schema of %s: %w", dialect, path, err)
		}
		schema := catalog.Schema{DDL: string(ddl)}
		for _, mt := range m.Metrics {
			for _, f := range mt.Fields {
				schema.Columns = append(schema.Columns, catalog.Column{Table: mt.Table, Name: f.Name, Definition: column(f)})
			}
		}
		c.Schemas[dialect] = schema
	}
	return c, nil
}

// catalogCommand writes the catalog of a spec for outboxctl, which has no
// generator to read the spec with.
func catalogCommand() cmdline.Command {
	return cmdline.Command{
		Name:    "catalog",
		Summary: "write the catalog outboxctl reads: event routes, retry schedules, tables and schemas of the spec",
		Usage:   "[-spec metrics.yaml] -o outbox-catalog.json [-json]",
		Example: "catalog -spec metrics.yaml -o outbox-catalog.json",
		Setup: func(fs *flag.FlagSet) cmdline.Action {
			specPath := fs.String("spec", "metrics.yaml", "the spec")
			out := fs.String("o", "", "the file to write, e.g. outbox-catalog.json")
			asJSON := fs.Bool("json", false, "print what was written as JSON")
			return func(e *cmdline.Env, args []string) error {
				switch {
				case len(args) > 0:
					return cmdline.Usagef("takes no arguments, got %q", args[0])
				case *out == "":
					return cmdline.Usagef("say where to write the catalog: -o outbox-catalog.json")
				}
				fail := func(err error) error {
					if !*asJSON {
						return err
					}
					if perr := printJSON(e.Stdout, &genReport{Spec: *specPath, Problems: problemsOf(err)}); perr != nil {
						return perr
					}
					return cmdline.Exit(exitFail, nil) // said on stdout
				}
				c, err := loadCatalog(*specPath)
				if err != nil {
					return fail(err)
				}
				if err := c.Write(*out); err != nil {
					return fail(fmt.Errorf("write the catalog: %w", err))
				}
				if *asJSON {
					return printJSON(e.Stdout, map[string]any{"wrote": *out, "spec": *specPath, "metrics": len(c.Metrics)})
				}
				fmt.Fprintf(e.Stdout, "wrote %s: %d metrics from %s; give it to outboxctl as --catalog %s\n", *out, len(c.Metrics), *specPath, *out)
				return nil
			}
		},
	}
}
