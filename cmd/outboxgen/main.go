// Command outboxgen generates outbox-enabled Go packages from a metrics
// spec, checks that generated code is current, and operates outboxes.
//
//	outboxgen init      write a starter metrics.yaml
//	outboxgen generate  write the generated package (only files that changed)
//	outboxgen check     exit 1, with a diff, if the generated package is not current
//
//	outboxgen migrate   create or upgrade an outbox's tables (and the metric tables)
//	outboxgen status    counts by status, type and user; the backlog's age
//	outboxgen list      events by status, type, user, age
//	outboxgen show      one event in full
//	outboxgen retry     give dead or failed events a fresh start
//	outboxgen discard   delete events for good
//	outboxgen purge     delete completed events
//	outboxgen run       run the processor as a daemon
//
// The operational commands take --db FILE (SQLite) or --database-url
// (PostgreSQL; default $DATABASE_URL). Run "outboxgen <command> -h" for
// each command's flags.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{ctx: ctx, stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, now: time.Now, terminal: isTerminal(os.Stdout) && isTerminal(os.Stdin), self: invokedAs()}
	os.Exit(e.run(os.Args[1:]))
}

// env is what a command may touch of the world; tests supply their own.
type env struct {
	ctx            context.Context
	stdout, stderr io.Writer
	stdin          io.Reader
	now            func() time.Time
	// terminal is true when a person is at the keyboard: output may be
	// coloured and destructive commands ask before acting.
	terminal bool
	// listening, if set, learns the address run serves /metrics on.
	listening func(addr string)
	// self is how the user runs this command, for messages that tell them
	// what to run next: "go tool outboxgen", "outboxgen"…
	self string
}

func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // a bad spec, stale generated code, a failed write
	exitUsage = 2 // an unknown command or flag
)

type command struct {
	name    string
	summary string
	run     func(e *env, args []string) int
}

func commands() []command {
	return []command{
		{"init", "write a starter metrics.yaml", runInit},
		{"generate", "generate the package the spec describes", runGenerate},
		{"check", "fail with a diff if the generated package is not current", runCheck},
		{"migrate", "create or upgrade an outbox's tables (and the metric tables, with --spec)", runMigrate},
		{"status", "counts by status, event type and user; the backlog's age", runStatus},
		{"list", "events by status, type, user and age", runList},
		{"show", "one event in full", runShow},
		{"retry", "give dead or failed events a fresh start", runRetry},
		{"discard", "delete events for good", runDiscard},
		{"purge", "delete completed events", runPurge},
		{"run", "run the processor as a daemon", runDaemon},
	}
}

// run is main without the process, for tests that need no other world.
func run(args []string, stdout, stderr io.Writer) int {
	e := &env{ctx: context.Background(), stdout: stdout, stderr: stderr, stdin: eofReader{}, now: time.Now, self: "outboxgen"}
	return e.run(args)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func (e *env) run(args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "outboxgen: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return exitUsage
}

// fail reports err and returns the failure status.
func (e *env) fail(err error) int {
	fmt.Fprintf(e.stderr, "outboxgen: %v\n", err)
	return exitFail
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: outboxgen <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "outboxgen <command> -h" for a command's flags.`)
}
