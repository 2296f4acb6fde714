// Package ops holds the verbs that operate an outbox: migrate, status,
// processors, list, show, retry, discard, purge, pause, resume, run (the
// processor as a daemon) and ui (the web console).
// Both commands serve them: outboxgen, which also generates code, and
// outboxctl, the deployable build without the generator. They differ only
// in how they learn a generated package's [catalog.Catalog], which this
// package takes as a [Catalogs].
package ops

import (
	"encoding/json"

	"github.com/outboxgen/outboxgen/internal/catalog"
	"github.com/outboxgen/outboxgen/internal/cli"
)

type env = cli.Env

// Catalogs is how a command finds the catalog of the generated package it
// operates: outboxgen reads a metrics.yaml (--spec), outboxctl a catalog
// file (--catalog) that "outboxgen catalog" wrote.
type Catalogs struct {
	Flag    string // the flag that names the file, without dashes
	Default string // its default value
	What    string // what the file is, for flag help: "the spec (metrics.yaml)"
	Load    func(path string) (*catalog.Catalog, error)
}

// Commands returns the ops verbs, in the order help lists them.
func Commands(cats Catalogs) []cli.Command {
	return []cli.Command{
		migrateCommand(cats),
		statusCommand(cats),
		processorsCommand(),
		listCommand(),
		showCommand(),
		retryCommand(),
		discardCommand(),
		purgeCommand(),
		pauseCommand(),
		resumeCommand(),
		runCommand(cats),
		uiCommand(),
	}
}

// printJSON writes v as indented JSON.
func printJSON(e *env, v any) error {
	enc := json.NewEncoder(e.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
