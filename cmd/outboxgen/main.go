// Command outboxgen generates outbox-enabled Go packages from a metrics
// spec, and checks that generated code is current.
//
//	outboxgen init      write a starter metrics.yaml
//	outboxgen generate  write the generated package (only files that changed)
//	outboxgen check     exit 1, with a diff, if the generated package is not current
//
// Run "outboxgen help" for the flags.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
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
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"init", "write a starter metrics.yaml", runInit},
		{"generate", "generate the package the spec describes", runGenerate},
		{"check", "fail with a diff if the generated package is not current", runCheck},
	}
}

// run is main without the process: tests call it.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "outboxgen: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
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
