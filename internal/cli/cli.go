// Package cli holds the conventions every outboxgen command follows: a
// table of verbs, each with a one-line purpose, a usage line and an
// example; "-h" and "--help" on any verb print them and exit 0; flags may
// come before or after arguments; usage errors exit 2 and other failures
// exit 1.
//
// It is built on the standard library's flag package rather than a CLI
// framework (cobra, kong, ff): those parse GNU-style flags, where "-spec"
// means "-s -p -e -c", and would break the single-dash long flags that
// scripts and //go:generate lines already use; the conventions above take
// about two hundred lines here, and the ops binary stays free of extra
// dependencies.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// Exit statuses shared by every command.
const (
	ExitOK    = 0
	ExitFail  = 1 // the command could not do its job
	ExitUsage = 2 // an unknown command or flag, a missing or bad argument
)

// Env is what a command may touch of the world; tests supply their own.
type Env struct {
	Ctx            context.Context
	Stdout, Stderr io.Writer
	Stdin          io.Reader
	Now            func() time.Time
	// Terminal is true when a person is at the keyboard: output may be
	// coloured and destructive commands ask before acting.
	Terminal bool
	// Listening, if set, learns the address a daemon serves on.
	Listening func(addr string)
	// LogSignals, if set, has what the process says about stop signals
	// ("stopping; send it again to exit at once") go to log, a daemon's
	// log, instead of to standard error as text.
	LogSignals func(log func(msg string))
	// Program is the command's name as people type it, e.g. "outboxgen";
	// [Program.Run] sets it.
	Program string
}

// Command is one verb of a program.
type Command struct {
	Name    string
	Summary string // one line: what the verb is for
	Usage   string // what follows the verb, e.g. "[flags] ID"
	Example string // one or more example invocations, without the program name
	// Setup defines the verb's flags on fs and returns its action, which
	// runs with the arguments that are not flags.
	Setup func(fs *flag.FlagSet) Action
	// Raw, instead of Setup, runs a verb that parses its own arguments and
	// returns an exit status. Help is still given by [Program.Run].
	Raw func(e *Env, args []string) int
}

// Action runs a verb. An error made with [Usagef] exits 2, one made with
// [Exit] exits with its status, and any other exits 1.
type Action func(e *Env, args []string) error

// Program is a command made of verbs.
type Program struct {
	Name     string
	Summary  string
	Commands []Command
}

// Run runs the verb args[0] with the rest of args and returns the exit
// status.
func (p *Program) Run(e *Env, args []string) int {
	e.Program = p.Name
	if len(args) == 0 {
		p.usage(e.Stderr)
		return ExitUsage
	}
	if args[0] == "help" && len(args) > 1 { // "help VERB" is "VERB -h"
		args = []string{args[1], "-h"}
	}
	if isHelp(args[0]) || args[0] == "help" {
		p.usage(e.Stdout)
		return ExitOK
	}
	c := p.find(args[0])
	if c == nil {
		fmt.Fprintf(e.Stderr, "%s: unknown command %q\n\n", p.Name, args[0])
		p.usage(e.Stderr)
		return ExitUsage
	}
	if c.Raw != nil {
		if wantsHelp(args[1:]) {
			return p.help(e, c)
		}
		return c.Raw(e, args[1:])
	}
	fs := p.flagSet(c, e.Stderr)
	action := c.Setup(fs)
	rest, err := Parse(fs, args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		return p.help(e, c)
	case err != nil:
		fmt.Fprintf(e.Stderr, "Run \"%s %s -h\" for its usage.\n", p.Name, c.Name)
		return ExitUsage
	}
	return p.report(e, c, action(e, rest))
}

// report prints err, if any, and returns the exit status it stands for.
func (p *Program) report(e *Env, c *Command, err error) int {
	var exit *exitError
	var usage *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &exit):
		if exit.err != nil {
			fmt.Fprintf(e.Stderr, "%s: %v\n", p.Name, exit.err)
		}
		return exit.code
	case errors.As(err, &usage):
		fmt.Fprintf(e.Stderr, "%s %s: %v\nRun \"%s %s -h\" for its usage.\n", p.Name, c.Name, err, p.Name, c.Name)
		return ExitUsage
	}
	fmt.Fprintf(e.Stderr, "%s: %v\n", p.Name, err)
	return ExitFail
}

func (p *Program) find(name string) *Command {
	for i := range p.Commands {
		if p.Commands[i].Name == name {
			return &p.Commands[i]
		}
	}
	return nil
}

func (p *Program) flagSet(c *Command, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(p.Name+" "+c.Name, flag.ContinueOnError)
	fs.SetOutput(stderr) // parse errors
	fs.Usage = func() {} // help is printed by Run, to stdout
	return fs
}

// help prints c's purpose, usage, example and flags to stdout.
func (p *Program) help(e *Env, c *Command) int {
	w := e.Stdout
	fmt.Fprintf(w, "%s %s: %s\n\nusage: %s %s %s\n", p.Name, c.Name, c.Summary, p.Name, c.Name, c.Usage)
	if c.Example != "" {
		fmt.Fprintln(w, "\nexample:")
		for _, line := range strings.Split(c.Example, "\n") {
			fmt.Fprintf(w, "  %s %s\n", p.Name, line)
		}
	}
	var flags strings.Builder
	if c.Raw != nil {
		flags.WriteString(rawFlags(e, c))
	} else {
		fs := p.flagSet(c, io.Discard)
		c.Setup(fs)
		fs.SetOutput(&flags)
		fs.PrintDefaults()
	}
	if flags.Len() > 0 {
		fmt.Fprintf(w, "\nflags:\n%s", flags.String())
	}
	return ExitOK
}

// rawFlags asks a raw command for its flags' defaults, which the flag
// package prints after a "Usage of" line when it meets -h.
func rawFlags(e *Env, c *Command) string {
	var out strings.Builder
	quiet := *e
	quiet.Stdout, quiet.Stderr = io.Discard, &out
	c.Raw(&quiet, []string{"-h"})
	_, defaults, _ := strings.Cut(out.String(), "\n")
	return defaults
}

func (p *Program) usage(w io.Writer) {
	fmt.Fprintf(w, "%s: %s\n\nusage: %s <command> [flags] [arguments]\n\ncommands:\n", p.Name, p.Summary, p.Name)
	for _, c := range p.Commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintf(w, "\nRun \"%s <command> -h\" for a command's usage, flags and an example.\n", p.Name)
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if isHelp(a) {
			return true
		}
	}
	return false
}

// Parse parses fs's flags in args wherever they stand, before, between or
// after the other arguments, and returns the other arguments in order.
// Everything after "--" is an argument.
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for len(args) > 0 {
		switch a := args[0]; {
		case a == "--":
			return append(rest, args[1:]...), nil
		case a == "-" || !strings.HasPrefix(a, "-"):
			rest, args = append(rest, a), args[1:]
			continue
		}
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		consumed := len(args) - fs.NArg()
		stoppedAtDashes := consumed > 0 && args[consumed-1] == "--" && !isFlagValue(fs, args[:consumed-1])
		args = fs.Args()
		if stoppedAtDashes {
			return append(rest, args...), nil
		}
	}
	return rest, nil
}

// isFlagValue reports whether the argument after parsed is the value of
// the last flag in parsed, as in "--user -- ...".
func isFlagValue(fs *flag.FlagSet, parsed []string) bool {
	if len(parsed) == 0 {
		return false
	}
	last := strings.TrimLeft(parsed[len(parsed)-1], "-")
	if strings.Contains(last, "=") || !strings.HasPrefix(parsed[len(parsed)-1], "-") {
		return false
	}
	f := fs.Lookup(last)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

// Usagef returns a usage error: the command was called wrongly, and exits 2.
func Usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

type exitError struct {
	code int
	err  error
}

func (x *exitError) Error() string {
	if x.err == nil {
		return fmt.Sprintf("exit status %d", x.code)
	}
	return x.err.Error()
}

func (x *exitError) Unwrap() error { return x.err }

// Exit returns an error that makes the command exit with code, printing err
// first unless it is nil.
func Exit(code int, err error) error { return &exitError{code: code, err: err} }
