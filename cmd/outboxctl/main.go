// Command outboxctl operates an outbox: it runs the processor as a daemon
// and inspects and repairs events. It is outboxgen's operational commands
// without the code generator, for deploying next to an application; a test
// keeps the generator and sqlc out of its dependencies.
//
//	outboxctl migrate    create or upgrade an outbox's tables (and the metric tables)
//	outboxctl status     counts by status, type and user; the backlog's age
//	outboxctl processors the processors delivering, live and recently dead
//	outboxctl list       events by status, type, user, age
//	outboxctl show       one event in full
//	outboxctl retry      give dead or failed events a fresh start
//	outboxctl discard    delete events for good
//	outboxctl purge      delete completed events
//	outboxctl pause      stop delivery of every event type, or one, until resume
//	outboxctl resume     lift the pauses
//	outboxctl run        run the processor as a daemon
//	outboxctl version    the module version and VCS revision of this build
//
// What outboxgen reads from metrics.yaml (routes, retry schedules, the
// tables to mark synced), outboxctl reads from a catalog file that
// "outboxgen catalog -o outbox-catalog.json" writes (--catalog).
package main

import (
	"github.com/outboxgen/outboxgen/internal/catalog"
	"github.com/outboxgen/outboxgen/internal/cli"
	"github.com/outboxgen/outboxgen/internal/ops"
)

func main() { cli.Main(program()) }

func program() *cli.Program {
	cats := ops.Catalogs{Flag: "catalog", Default: "outbox-catalog.json", What: `the catalog ("outboxgen catalog" writes it)`, Load: catalog.Read}
	return &cli.Program{
		Name:     "outboxctl",
		Summary:  "run an outbox's processor, and inspect and repair its events",
		Commands: append(ops.Commands(cats), cli.VersionCommand()),
	}
}
