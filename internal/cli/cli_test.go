package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseTakesFlagsAnywhere(t *testing.T) {
	for _, c := range []struct {
		args []string
		rest []string
		user string
		json bool
	}{
		{[]string{"a", "--json", "b"}, []string{"a", "b"}, "", true},
		{[]string{"--user", "ada", "a"}, []string{"a"}, "ada", false},
		{[]string{"a", "--user=ada", "--json"}, []string{"a"}, "ada", true},
		{[]string{"a", "--", "--json", "-x"}, []string{"a", "--json", "-x"}, "", false},
		{[]string{"--json", "--", "b"}, []string{"b"}, "", true},
		{[]string{"--user", "--", "b"}, []string{"b"}, "--", false}, // "--" as a flag's value
		{[]string{"-", "a"}, []string{"-", "a"}, "", false},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		user := fs.String("user", "", "")
		asJSON := fs.Bool("json", false, "")
		rest, err := Parse(fs, c.args)
		if err != nil || !slices.Equal(rest, c.rest) || *user != c.user || *asJSON != c.json {
			t.Errorf("Parse(%q) = %q, user %q, json %v, %v; want %q, %q, %v", c.args, rest, *user, *asJSON, err, c.rest, c.user, c.json)
		}
	}
}

func testProgram() *Program {
	return &Program{Name: "prog", Summary: "does things", Commands: []Command{
		{Name: "greet", Summary: "say hello", Usage: "[--loud] NAME", Example: "greet ada", Setup: func(fs *flag.FlagSet) Action {
			loud := fs.Bool("loud", false, "shout")
			return func(e *Env, args []string) error {
				switch {
				case len(args) != 1:
					return Usagef("needs one name")
				case args[0] == "nobody":
					return errors.New("nobody is there")
				case args[0] == "alarm":
					return Exit(3, errors.New("alarm raised"))
				}
				if *loud {
					args[0] = strings.ToUpper(args[0])
				}
				fmt.Fprintf(e.Stdout, "hello %s\n", args[0])
				return nil
			}
		}},
		{Name: "old", Summary: "a verb that parses its own flags", Usage: "[-n N]", Example: "old -n 2", Raw: func(e *Env, args []string) int {
			fs := flag.NewFlagSet("old", flag.ContinueOnError)
			fs.SetOutput(e.Stderr)
			fs.Int("n", 1, "how many")
			if err := fs.Parse(args); err != nil {
				return ExitUsage
			}
			return ExitOK
		}},
	}}
}

func runProgram(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	e := &Env{Ctx: context.Background(), Stdout: &out, Stderr: &errOut, Now: time.Now}
	code := testProgram().Run(e, args)
	return code, out.String(), errOut.String()
}

func TestExitStatuses(t *testing.T) {
	for _, c := range []struct {
		args     []string
		code     int
		stdout   string
		stderr   string
		noStderr bool
	}{
		{args: []string{"greet", "ada", "--loud"}, code: 0, stdout: "hello ADA", noStderr: true},
		{args: []string{"greet"}, code: 2, stderr: "prog greet: needs one name\nRun \"prog greet -h\""},
		{args: []string{"greet", "--nope"}, code: 2, stderr: "flag provided but not defined"},
		{args: []string{"greet", "nobody"}, code: 1, stderr: "prog: nobody is there"},
		{args: []string{"greet", "alarm"}, code: 3, stderr: "prog: alarm raised"},
		{args: []string{"frobnicate"}, code: 2, stderr: `unknown command "frobnicate"`},
		{args: nil, code: 2, stderr: "usage: prog <command>"},
		{args: []string{"old", "-x"}, code: 2},
		{args: []string{"help", "frobnicate"}, code: 2, stderr: `unknown command "frobnicate"`},
	} {
		code, out, errOut := runProgram(c.args...)
		if code != c.code || !strings.Contains(out, c.stdout) || !strings.Contains(errOut, c.stderr) || c.noStderr && errOut != "" {
			t.Errorf("prog %q: exit %d\nstdout %q\nstderr %q", c.args, code, out, errOut)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"greet", "-h"}, {"greet", "--help"}, {"greet", "ada", "-help"}, {"help", "greet"}} {
		code, out, errOut := runProgram(args...)
		want := "prog greet: say hello\n\nusage: prog greet [--loud] NAME\n\nexample:\n  prog greet ada\n\nflags:\n  -loud\n"
		if code != 0 || !strings.HasPrefix(out, want) || errOut != "" {
			t.Errorf("prog %q: exit %d\n%s\nstderr %q", args, code, out, errOut)
		}
	}
	code, out, errOut := runProgram("old", "--help")
	if code != 0 || !strings.Contains(out, "prog old: a verb that parses its own flags") || !strings.Contains(out, "flags:\n  -n int") || errOut != "" {
		t.Errorf("help of a raw verb: exit %d\n%s\nstderr %q", code, out, errOut)
	}
	code, out, _ = runProgram("--help")
	if code != 0 || !strings.Contains(out, "  greet      say hello") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
}
