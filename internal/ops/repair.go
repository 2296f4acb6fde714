package ops

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/outboxgen/outboxgen/internal/cli"
	outbox "github.com/outboxgen/outboxgen/runtime"
)

func retryCommand() cli.Command {
	return repairCommand(cli.Command{
		Name:    "retry",
		Summary: "give dead or failed events a fresh set of attempts, due now",
		Usage:   "[flags] ID… | --all-dead | filter flags",
		Example: "retry --db app.db --all-dead\nretry --db app.db --type weight.created --status dead\nretry --db app.db 0190f0c2-0000-7000-8000-000000000001",
	}, func(ctx context.Context, o *Outbox, id uuid.UUID) error { return o.Retry(ctx, id) }, false)
}

func discardCommand() cli.Command {
	return repairCommand(cli.Command{
		Name:    "discard",
		Summary: "delete events for good; the entity's next event moves up",
		Usage:   "[flags] ID… | --all-dead | filter flags",
		Example: "discard --db app.db --yes 0190f0c2-0000-7000-8000-000000000001\ndiscard --db app.db --status dead --type weight.created",
	}, func(ctx context.Context, o *Outbox, id uuid.UUID) error { return o.Discard(ctx, id) }, true)
}

// repairResult is what retry and discard print with --json.
type repairResult struct {
	Verb     string         `json:"verb"`
	Where    string         `json:"where"`
	Selected int            `json:"selected"`
	Done     int            `json:"done"`
	Failed   []repairFailed `json:"failed"`
}

type repairFailed struct {
	ID    uuid.UUID `json:"id"`
	Error string    `json:"error"`
}

// repairCommand completes c with the flags and action shared by retry and
// discard: act is applied to each selected event, and reported per event.
func repairCommand(c cli.Command, act func(context.Context, *Outbox, uuid.UUID) error, destructive bool) cli.Command {
	c.Setup = func(fs *flag.FlagSet) cli.Action {
		var t target
		t.register(fs)
		var ff filterFlags
		ff.register(fs, 1000)
		allDead := fs.Bool("all-dead", false, "every dead event (up to --limit)")
		yes := fs.Bool("yes", false, "do not ask for confirmation")
		asJSON := fs.Bool("json", false, "print the outcome as JSON, for machines")
		return func(e *env, args []string) error {
			ids, err := parseIDs(args, &ff, *allDead)
			if err != nil {
				return err
			}
			flt, err := ff.filter(e.Now())
			if err != nil {
				return err
			}
			o, err := t.open(e, false)
			if err != nil {
				return err
			}
			defer o.Close()
			if ids == nil {
				if ids, err = selectIDs(e.Ctx, o, flt); err != nil {
					return err
				}
			}
			r := repairResult{Verb: c.Name, Where: o.Where, Selected: len(ids), Failed: []repairFailed{}}
			if len(ids) == 0 {
				if *asJSON {
					return printJSON(e, r)
				}
				fmt.Fprintln(e.Stdout, "no events match; nothing to do")
				return nil
			}
			if destructive {
				if err := confirm(e, *yes, fmt.Sprintf("%s %d event(s) in %s for good?", c.Name, len(ids), o.Where)); err != nil {
					return err
				}
			}
			for _, id := range ids {
				if err := act(e.Ctx, o, id); err != nil {
					r.Failed = append(r.Failed, repairFailed{ID: id, Error: explain(err).Error()})
					if !*asJSON {
						fmt.Fprintf(e.Stderr, "%s: %s %s: %v\n", e.Program, c.Name, id, explain(err))
					}
					continue
				}
				r.Done++
			}
			if *asJSON {
				if err := printJSON(e, r); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(e.Stdout, "%s: %d of %d event(s) done\n", c.Name, r.Done, r.Selected)
			}
			if len(r.Failed) > 0 {
				return cli.Exit(cli.ExitFail, nil) // each failure is reported above
			}
			return nil
		}
	}
	return c
}

// parseIDs returns the event ids given as arguments, or nil when the
// events are chosen by filter flags.
func parseIDs(args []string, ff *filterFlags, allDead bool) ([]uuid.UUID, error) {
	if allDead {
		if ff.status != "" && ff.status != string(outbox.StatusDead) {
			return nil, cli.Usagef("--all-dead and --status %s contradict each other; give one", ff.status)
		}
		ff.status = string(outbox.StatusDead)
	}
	switch {
	case len(args) > 0 && !ff.empty():
		return nil, cli.Usagef("give event ids or filter flags, not both")
	case len(args) == 0 && ff.empty():
		return nil, cli.Usagef("say which events: give their ids, a filter such as --status dead, or --all-dead")
	case len(args) == 0:
		return nil, nil
	}
	ids := make([]uuid.UUID, len(args))
	for i, arg := range args {
		id, err := uuid.Parse(arg)
		if err != nil {
			return nil, cli.Usagef("%q is not an event id (a UUID)", clean(arg))
		}
		ids[i] = id
	}
	return ids, nil
}

// selectIDs lists the ids of the events flt selects.
func selectIDs(ctx context.Context, o *Outbox, flt outbox.Filter) ([]uuid.UUID, error) {
	evs, err := o.List(ctx, flt)
	if err != nil {
		return nil, fmt.Errorf("select events in %s: %w", o.Where, err)
	}
	ids := make([]uuid.UUID, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return ids, nil
}

// errDeclined is returned when the operator does not confirm.
var errDeclined = errors.New("nothing done")

// confirm asks before a destructive change: on a terminal it prompts on
// stderr, and elsewhere it refuses unless --yes was given.
func confirm(e *env, yes bool, question string) error {
	if yes {
		return nil
	}
	if !e.Terminal {
		return fmt.Errorf("%s Not on a terminal, so not asking: pass --yes to go ahead", question)
	}
	fmt.Fprintf(e.Stderr, "%s [y/N] ", question)
	answer, _ := bufio.NewReader(e.Stdin).ReadString('\n')
	answer = strings.TrimSpace(answer)
	if strings.EqualFold(answer, "y") || strings.EqualFold(answer, "yes") {
		return nil
	}
	return errDeclined
}

// explain adds what to do to the errors an operator can meet.
func explain(err error) error {
	switch {
	case errors.Is(err, outbox.ErrInFlight):
		return fmt.Errorf("%w; wait for the delivery to finish, or for its lease to expire", err)
	case errors.Is(err, outbox.ErrNotRetryable):
		return fmt.Errorf("%w; only dead and failed events can be retried", err)
	}
	return err
}
