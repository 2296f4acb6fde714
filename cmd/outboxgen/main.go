// Command outboxgen generates outbox-enabled Go packages from a metrics
// spec, checks that generated code is current, and operates outboxes.
//
//	outboxgen init       write a starter metrics.yaml
//	outboxgen generate   write the generated package (only files that changed)
//	outboxgen check      exit 1, with a diff, if the generated package is not current
//	outboxgen catalog    write the catalog outboxctl reads (routes, retry schedules, tables)
//
//	outboxgen migrate    create or upgrade an outbox's tables (and the metric tables)
//	outboxgen status     counts by status, type and user; the backlog's age
//	outboxgen processors the processors delivering, live and recently dead
//	outboxgen list       events by status, type, user, age
//	outboxgen show       one event in full
//	outboxgen retry      give dead or failed events a fresh start
//	outboxgen discard    delete events for good
//	outboxgen purge      delete completed events
//	outboxgen pause      stop delivery of every event type, or one, until resume
//	outboxgen resume     lift the pauses
//	outboxgen run        run the processor as a daemon
//	outboxgen version    the module version and VCS revision of this build
//
// The operational commands take --db FILE (SQLite) or --database-url
// (PostgreSQL; default $DATABASE_URL) and read the spec (--spec) for what
// they need to know of the generated package. cmd/outboxctl is the same
// operational commands without the generator, for deployment. Run
// "outboxgen <command> -h" for each command's usage, flags and an example.
package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"time"

	cmdline "github.com/outboxgen/outboxgen/internal/cli" // "cli" is the tests' helper
	"github.com/outboxgen/outboxgen/internal/ops"
)

func main() { cmdline.Main(program(invokedAs())) }

// programName is how help and the ops verbs' advice name the command: as
// the user ran it when the go command built it (go tool, go run), else by
// its file name.
func programName(self string) string {
	if builtByGoCommand(os.Args[0]) {
		return self
	}
	return filepath.Base(os.Args[0])
}

// Exit statuses, as the generator's verbs return them.
const (
	exitOK    = cmdline.ExitOK
	exitFail  = cmdline.ExitFail  // a bad spec, stale generated code, a failed write
	exitUsage = cmdline.ExitUsage // an unknown command or flag
)

// program is the command; self is how the user runs it ("outboxgen",
// "go tool outboxgen"…), so that advice names commands they can run as
// they are.
func program(self string) *cmdline.Program {
	generator := []cmdline.Command{
		{Name: "init", Summary: "write a starter metrics.yaml", Usage: "[-spec metrics.yaml] [-force] [-json]", Example: "init", Raw: raw(self, runInit)},
		{Name: "generate", Summary: "generate the package the spec describes", Usage: "[-spec metrics.yaml] [-v | -json]", Example: "generate -spec metrics.yaml -v", Raw: raw(self, runGenerate)},
		{Name: "check", Summary: "fail with a diff if the generated package is not current", Usage: "[-spec metrics.yaml] [-json]", Example: "check", Raw: raw(self, runCheck)},
		catalogCommand(),
	}
	operations := ops.Commands(ops.Catalogs{Flag: "spec", Default: "metrics.yaml", What: "the spec (metrics.yaml)", Load: loadCatalog})
	return &cmdline.Program{
		Name:     programName(self),
		Summary:  "generate outbox-enabled Go packages from metrics.yaml, and operate their outboxes",
		Commands: append(append(generator, operations...), cmdline.VersionCommand()),
	}
}

// env is what the generator's verbs may touch of the world.
type env struct {
	stdout, stderr io.Writer
	// self is how the user runs this command, for messages that tell them
	// what to run next: "go tool outboxgen", "outboxgen"…
	self string
}

// raw adapts a generator verb, which parses its own flags, to the program.
func raw(self string, verb func(e *env, args []string) int) func(*cmdline.Env, []string) int {
	return func(e *cmdline.Env, args []string) int {
		return verb(&env{stdout: e.Stdout, stderr: e.Stderr, self: self}, args)
	}
}

// run is main without the process, for tests that need no other world.
func run(args []string, stdout, stderr io.Writer) int {
	e := &cmdline.Env{Ctx: context.Background(), Stdout: stdout, Stderr: stderr, Stdin: eofReader{}, Now: time.Now}
	return program("outboxgen").Run(e, args)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
