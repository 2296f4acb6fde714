package ops

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/outboxgen/outboxgen/internal/cli"
	outbox "github.com/outboxgen/outboxgen/runtime"
)

// processorRow is a processor as status and processors show it.
type processorRow struct {
	Owner       string     `json:"owner"`
	Host        string     `json:"host"`
	PID         int        `json:"pid"`
	Version     string     `json:"version"`
	Config      string     `json:"config"`
	StartedAt   time.Time  `json:"started_at"`
	SeenAt      time.Time  `json:"seen_at"`
	Alive       bool       `json:"alive"`
	PausedSince *time.Time `json:"paused_since,omitempty"`
	PauseClass  string     `json:"pause_class,omitempty"`
	PauseReason string     `json:"pause_reason,omitempty"`
	// SendLimit is how many sends it may have in flight at once (its
	// adaptive limit) and InFlight its events claimed and not recorded;
	// both 0 when its release does not report them.
	SendLimit int `json:"send_limit"`
	InFlight  int `json:"in_flight"`
}

func processorRows(ps []outbox.ProcessorInfo) []processorRow {
	rows := make([]processorRow, len(ps))
	for i, p := range ps {
		rows[i] = processorRow{
			Owner: p.Owner, Host: p.Host, PID: p.PID, Version: p.Version, Config: p.Config,
			StartedAt: p.StartedAt.UTC(), SeenAt: p.SeenAt.UTC(), Alive: p.Alive,
			SendLimit: p.Limit, InFlight: p.InFlight,
		}
		if p.Paused {
			since := p.PausedSince.UTC()
			rows[i].PausedSince, rows[i].PauseClass, rows[i].PauseReason = &since, p.PauseClass.String(), p.PauseReason
		}
	}
	return rows
}

// state is what a processor is doing, in a few words, with the pause's
// reason as the database holds it: printers clean it, once.
func (p processorRow) state(now time.Time) string {
	switch {
	case !p.Alive:
		return "dead: last seen " + age(now.Sub(p.SeenAt)) + " ago"
	case p.PausedSince != nil:
		return fmt.Sprintf("paused for %s: %s: %s", age(now.Sub(*p.PausedSince)), p.PauseClass, p.PauseReason)
	case p.SendLimit > 0:
		return fmt.Sprintf("delivering: %d in flight, up to %d sends at once", p.InFlight, p.SendLimit)
	}
	return "delivering"
}

func processorsCommand() cli.Command {
	return cli.Command{
		Name:    "processors",
		Summary: "the processors delivering this outbox, live and recently dead, and whether they are paused",
		Usage:   "[--json]",
		Example: "processors --db app.db\nprocessors --database-url postgres://ops@db/app --json",
		Setup: func(fs *flag.FlagSet) cli.Action {
			var t target
			t.register(fs)
			asJSON := fs.Bool("json", false, "print JSON, for machines")
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return cli.Usagef("takes no arguments, got %q", args[0])
				}
				o, err := t.open(e, false)
				if err != nil {
					return err
				}
				defer o.Close()
				ps, err := o.Processors(e.Ctx)
				if err != nil {
					return fmt.Errorf("list the processors of %s: %w", o.Where, err)
				}
				rows := processorRows(ps)
				if *asJSON {
					return printJSON(e, rows)
				}
				printProcessors(e.Stdout, rows, e.Now())
				return nil
			}
		},
	}
}

func printProcessors(w io.Writer, rows []processorRow, now time.Time) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "no processor has sent a heartbeat in the last day")
		return
	}
	var t table
	t.add("processor", "host", "pid", "version", "started", "state")
	for _, p := range rows {
		t.add(p.Owner, p.Host, p.PID, p.Version, age(now.Sub(p.StartedAt))+" ago", p.state(now)) // the table cleans each cell
	}
	t.print(w)
}
