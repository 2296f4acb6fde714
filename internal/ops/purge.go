package ops

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/outboxgen/outboxgen/internal/cli"
)

func purgeCommand() cli.Command {
	return cli.Command{
		Name:    "purge",
		Summary: "delete completed events sooner than the processor's retention would",
		Usage:   "--completed-before 72h|2026-01-02T15:04:05Z [--yes] [--json]",
		Example: "purge --db app.db --completed-before 72h --yes",
		Setup: func(fs *flag.FlagSet) cli.Action {
			var t target
			t.register(fs)
			before := fs.String("completed-before", "", "delete events completed before this: a duration ago (72h) or a time (2026-01-02T15:04:05Z)")
			yes := fs.Bool("yes", false, "do not ask for confirmation")
			asJSON := fs.Bool("json", false, "print the outcome as JSON, for machines")
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return cli.Usagef("takes no arguments, got %q", args[0])
				}
				cutoff, err := parseCutoff(*before, e.Now())
				if err != nil {
					return err
				}
				return purge(e, &t, cutoff, *yes, *asJSON)
			}
		},
	}
}

func purge(e *env, t *target, cutoff time.Time, yes, asJSON bool) error {
	o, err := t.open(e, false)
	if err != nil {
		return err
	}
	defer o.Close()
	n, err := o.countCompletedBefore(e.Ctx, cutoff)
	if err != nil {
		return fmt.Errorf("count completed events in %s: %w", o.Where, err)
	}
	if n > 0 {
		question := fmt.Sprintf("delete %d event(s) in %s completed before %s?", n, o.Where, cutoff.UTC().Format(time.RFC3339))
		if err := confirm(e, yes, question); err != nil {
			return err
		}
	}
	purged, err := o.PurgeCompleted(e.Ctx, cutoff)
	if err != nil {
		return fmt.Errorf("purge completed events in %s: %w", o.Where, err)
	}
	if asJSON {
		return printJSON(e, map[string]any{"verb": "purge", "where": o.Where, "completed_before": cutoff.UTC(), "purged": purged})
	}
	fmt.Fprintf(e.Stdout, "purged %d completed event(s)\n", purged)
	return nil
}

// countCompletedBefore counts the events purge would delete.
func (o *Outbox) countCompletedBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	q, arg := "SELECT count(*) FROM outbox_events WHERE status = 'completed' AND completed_at < $1", any(cutoff)
	if o.sqlite != nil {
		q, arg = "SELECT count(*) FROM outbox_events WHERE status = 'completed' AND completed_at < ?", cutoff.UnixMicro()
	}
	var n int64
	err := o.query(ctx, q, func(scan func(...any) error) error { return scan(&n) }, arg)
	return n, err
}

func parseCutoff(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, cli.Usagef("needs --completed-before, e.g. --completed-before 72h")
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, cli.Usagef("--completed-before %s: give a positive duration, meaning that long ago", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, cli.Usagef("--completed-before %q is neither a duration (72h) nor a time (2026-01-02T15:04:05Z)", s)
	}
	return t, nil
}
