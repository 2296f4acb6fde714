package ops

import (
	"flag"
	"time"

	"github.com/outboxgen/outboxgen/internal/cli"
	outbox "github.com/outboxgen/outboxgen/runtime"
)

func purgeCommand() cli.Command {
	return cli.Command{
		Name:    "purge",
		Summary: "delete completed events sooner than the processor's retention would",
		Usage:   "[--completed-before 72h|2026-01-02T15:04:05Z] [--type T] [--user U] [--older-than D] [--limit N] [--yes] [--json]",
		Example: "purge --db app.db --completed-before 72h --yes\npurge --database-url postgres://ops@db/app --type weight.created --older-than 720h",
		Setup: func(fs *flag.FlagSet) cli.Action {
			var t target
			t.register(fs)
			var sf selectFlags
			sf.register(fs)
			before := fs.String("completed-before", "", "only events completed before this: a duration ago (72h) or a time (2026-01-02T15:04:05Z)")
			yes := fs.Bool("yes", false, "do not ask for confirmation")
			asJSON := fs.Bool("json", false, "print the outcome as JSON, for machines")
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return cli.Usagef("takes no arguments, got %q", args[0])
				}
				if *before == "" && sf.empty() {
					return cli.Usagef("say which completed events: --completed-before 72h, --older-than, --type or --user")
				}
				sel, err := sf.selection(e.Now())
				if err != nil {
					return err
				}
				if *before != "" {
					if sel.CompletedBefore, err = parseCutoff(*before, e.Now()); err != nil {
						return err
					}
				}
				sel.Statuses = []outbox.Status{outbox.StatusCompleted}
				o, err := t.open(e, false)
				if err != nil {
					return err
				}
				defer o.Close()
				return runBulk(e, o, bulkPurge, sel, *yes, *asJSON)
			}
		},
	}
}

func parseCutoff(s string, now time.Time) (time.Time, error) {
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
