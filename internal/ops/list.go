package ops

import (
	"flag"
	"fmt"
	"time"

	"github.com/outboxgen/outboxgen/internal/cli"
	outbox "github.com/outboxgen/outboxgen/runtime"
)

// filterFlags select events for list.
type filterFlags struct {
	status, eventType, user string
	olderThan               time.Duration
	limit                   int
}

func (f *filterFlags) register(fs *flag.FlagSet, limit int) {
	fs.StringVar(&f.status, "status", "", "only events in this status: pending, processing, failed, dead or completed")
	fs.StringVar(&f.eventType, "type", "", "only events of this type, e.g. weight.created")
	fs.StringVar(&f.user, "user", "", "only events of this user")
	fs.DurationVar(&f.olderThan, "older-than", 0, "only events enqueued longer ago than this, e.g. 1h")
	fs.IntVar(&f.limit, "limit", limit, "at most this many events (1 or more)")
}

func (f *filterFlags) filter(now time.Time) (outbox.Filter, error) {
	flt := outbox.Filter{Status: outbox.Status(f.status), Type: f.eventType, UserID: f.user, Limit: f.limit}
	switch {
	case f.status != "" && !flt.Status.Valid():
		return flt, cli.Usagef("--status %q is not a status; use pending, processing, failed, dead or completed", f.status)
	case f.limit < 1:
		return flt, cli.Usagef("--limit %d: give at least 1", f.limit)
	case f.olderThan < 0:
		return flt, cli.Usagef("--older-than %s: give a positive duration, meaning that long ago", f.olderThan)
	}
	if f.olderThan > 0 {
		flt.CreatedBefore = now.Add(-f.olderThan)
	}
	return flt, nil
}

func listCommand() cli.Command {
	return cli.Command{
		Name:    "list",
		Summary: "list events by status, type, user and age, oldest first",
		Usage:   "[--status S] [--type T] [--user U] [--older-than 1h] [--limit N] [--json]",
		Example: "list --db app.db --status dead\nlist --database-url postgres://ops@db/app --type weight.created --older-than 1h --json",
		Setup: func(fs *flag.FlagSet) cli.Action {
			var t target
			t.register(fs)
			var ff filterFlags
			ff.register(fs, 50)
			asJSON := fs.Bool("json", false, "print JSON, for machines")
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return cli.Usagef("takes no arguments, got %q; select events with flags such as --status dead", args[0])
				}
				return list(e, &t, &ff, *asJSON)
			}
		},
	}
}

func list(e *env, t *target, ff *filterFlags, asJSON bool) error {
	flt, err := ff.filter(e.Now())
	if err != nil {
		return err
	}
	o, err := t.open(e, false)
	if err != nil {
		return err
	}
	defer o.Close()
	evs, err := o.List(e.Ctx, flt)
	if err != nil {
		return fmt.Errorf("list events in %s: %w", o.Where, err)
	}
	if asJSON {
		out := make([]eventJSON, len(evs))
		for i, ev := range evs {
			out[i] = toJSON(ev, false)
		}
		return printJSON(e, out)
	}
	if len(evs) == 0 {
		fmt.Fprintln(e.Stdout, "no events match")
		return nil
	}
	var tb table
	tb.add("id", "type", "entity", "user", "status", "attempts", "age", "next run", "last error")
	now := e.Now()
	for _, ev := range evs {
		next := "-"
		if ev.Status == outbox.StatusPending || ev.Status == outbox.StatusFailed {
			if d := ev.RunAt.Sub(now); d > 0 {
				next = "in " + age(d)
			} else {
				next = "now"
			}
		}
		tb.add(ev.ID, ev.Type, ev.AggregateID, ev.UserID, ev.Status, fmt.Sprintf("%d/%d", ev.Attempts, ev.MaxAttempts),
			age(now.Sub(ev.CreatedAt)), next, truncate(ev.LastError, 60))
	}
	tb.print(e.Stdout)
	if len(evs) == flt.Limit {
		fmt.Fprintf(e.Stdout, "(the first %d; --limit shows more)\n", flt.Limit)
	}
	return nil
}
