// Command fitness is the outboxgen example: an app that logs health metrics
// through the package generated from the repository's metrics.yaml, and a
// demo backend they are synced to.
//
// With no arguments it plays a scripted scenario in under a minute, on an
// SQLite file and with no server to install:
//
//	go run ./examples/fitness
//
// Its parts also run as separate long-lived processes, to kill and restart
// by hand and watch the outbox recover:
//
//	go run ./examples/fitness backend              # the demo backend, with an admin port
//	go run ./examples/fitness processor            # delivers the outbox to the backend
//	go run ./examples/fitness app                  # logs an entry every second
//
// Every mode takes --db FILE (SQLite, the default) or --database-url
// postgres://… to run on PostgreSQL.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/outboxgen/outboxgen/examples/fitness/demo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	mode := "scenario"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		mode, args = args[0], args[1:]
	}
	modes := map[string]func(context.Context, []string, io.Writer) error{
		"scenario":  runScenario,
		"app":       runApp,
		"processor": runProcessor,
		"backend":   runBackend,
	}
	fn, ok := modes[mode]
	if !ok {
		fmt.Fprintf(stderr, "fitness: unknown mode %q; use scenario (the default), app, processor or backend\n", mode)
		return 2
	}
	err := fn(ctx, args, stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errPromiseBroken):
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "fitness: %v\n", err)
		return 1
	}
	return 0
}

var errPromiseBroken = errors.New("promise broken")

// storeFlags are the flags every mode uses to find the app's database.
type storeFlags struct {
	db, databaseURL string
}

func (s *storeFlags) register(fs *flag.FlagSet, defaultDB string) {
	fs.StringVar(&s.db, "db", defaultDB, "the app's SQLite file")
	fs.StringVar(&s.databaseURL, "database-url", os.Getenv("DATABASE_URL"), "run on PostgreSQL instead (postgres://…); default $DATABASE_URL")
}

func runScenario(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("fitness", flag.ContinueOnError)
	var store storeFlags
	store.register(fs, "")
	backendDB := fs.String("backend-db", "", "the demo backend's SQLite file (default: next to the app's)")
	pace := fs.Duration("pace", 0, "pause between two saves (default 120ms)")
	outage := fs.Duration("outage", 0, "how long the backend stays down (default 3s)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if store.db == "" {
		dir, err := os.MkdirTemp("", "outboxgen-fitness-")
		if err != nil {
			return err
		}
		store.db = filepath.Join(dir, "fitness.db")
	}
	if *backendDB == "" {
		*backendDB = filepath.Join(filepath.Dir(store.db), "backend.db")
	}
	report, err := demo.Run(ctx, demo.Options{
		SQLitePath:  store.db,
		DatabaseURL: store.databaseURL,
		BackendDB:   *backendDB,
		Out:         out,
		Live:        isTerminal(out),
		Pace:        *pace,
		Outage:      *outage,
	})
	if err != nil {
		return err
	}
	if !report.OK() {
		return errPromiseBroken
	}
	return nil
}

// isTerminal reports whether w is a character device, where a progress
// bar can be redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
