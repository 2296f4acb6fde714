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
		Usage:   "[flags] ID… | --all-dead | [--status dead|failed] [--type T] [--user U] [--older-than D] [--limit N]",
		Example: "retry --db app.db --all-dead\nretry --db app.db --type weight.created --status dead --limit 10\nretry --db app.db 0190f0c2-0000-7000-8000-000000000001",
	}, bulkRetry, []outbox.Status{outbox.StatusDead, outbox.StatusFailed},
		func(ctx context.Context, o *Outbox, id uuid.UUID) error { return o.Retry(ctx, id) })
}

func discardCommand() cli.Command {
	return repairCommand(cli.Command{
		Name:    "discard",
		Summary: "delete events for good; the entity's next event moves up",
		Usage:   "[flags] ID… | --all-dead | [--status S] [--type T] [--user U] [--older-than D] [--limit N]",
		Example: "discard --db app.db --yes 0190f0c2-0000-7000-8000-000000000001\ndiscard --db app.db --status dead --type weight.created",
	}, bulkDiscard, outbox.Statuses(),
		func(ctx context.Context, o *Outbox, id uuid.UUID) error { return o.Discard(ctx, id) })
}

// repairResult is what retry and discard print with --json when given
// event ids.
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
// discard: given ids, act is applied to each and reported per event;
// given a selection, v is applied to it in bulk. applies lists the
// statuses the verb can act on.
func repairCommand(c cli.Command, v bulkVerb, applies []outbox.Status, act func(context.Context, *Outbox, uuid.UUID) error) cli.Command {
	c.Setup = func(fs *flag.FlagSet) cli.Action {
		var t target
		t.register(fs)
		var sf selectFlags
		sf.register(fs)
		status := fs.String("status", "", "only events in this status: "+statusNames(applies)+" (default: any of them)")
		allDead := fs.Bool("all-dead", false, "every dead event: --status dead")
		yes := fs.Bool("yes", false, "do not ask for confirmation")
		asJSON := fs.Bool("json", false, "print the outcome as JSON, for machines")
		return func(e *env, args []string) error {
			statuses, err := repairStatuses(*status, *allDead, applies)
			if err != nil {
				return err
			}
			sel, err := sf.selection(e.Now())
			if err != nil {
				return err
			}
			switch {
			case len(args) > 0 && (*status != "" || *allDead || !sf.empty() || sel.Limit > 0):
				return cli.Usagef("give event ids or selection flags, not both")
			case len(args) == 0 && *status == "" && !*allDead && sf.empty():
				return cli.Usagef("say which events: give their ids, a selection such as --status dead or --type weight.created, or --all-dead")
			}
			ids, err := parseIDs(args)
			if err != nil {
				return err
			}
			o, err := t.open(e, false)
			if err != nil {
				return err
			}
			defer o.Close()
			if ids == nil {
				sel.Statuses = statuses
				return runBulk(e, o, v, sel, *yes, *asJSON)
			}
			return repairEach(e, o, c.Name, ids, act, v.destructive && !*yes, *asJSON)
		}
	}
	return c
}

// repairStatuses returns the statuses a repair acts on: --status or
// --all-dead, or else every status it applies to.
func repairStatuses(status string, allDead bool, applies []outbox.Status) ([]outbox.Status, error) {
	switch {
	case allDead && status != "" && status != string(outbox.StatusDead):
		return nil, cli.Usagef("--all-dead and --status %s contradict each other; give one", status)
	case allDead:
		return []outbox.Status{outbox.StatusDead}, nil
	case status == "":
		return applies, nil
	}
	for _, s := range applies {
		if string(s) == status {
			return []outbox.Status{s}, nil
		}
	}
	return nil, cli.Usagef("--status %q: give %s", status, statusNames(applies))
}

// repairEach applies act to each event, reporting each failure.
func repairEach(e *env, o *Outbox, verb string, ids []uuid.UUID, act func(context.Context, *Outbox, uuid.UUID) error, ask, asJSON bool) error {
	if ask {
		if err := confirm(e, false, fmt.Sprintf("%s %d event(s) in %s for good?", verb, len(ids), o.Where)); err != nil {
			return err
		}
	}
	r := repairResult{Verb: verb, Where: o.Where, Selected: len(ids), Failed: []repairFailed{}}
	for _, id := range ids {
		if err := act(e.Ctx, o, id); err != nil {
			r.Failed = append(r.Failed, repairFailed{ID: id, Error: explain(err).Error()})
			if !asJSON {
				fmt.Fprintf(e.Stderr, "%s: %s %s: %v\n", e.Program, verb, id, explain(err))
			}
			continue
		}
		r.Done++
	}
	if asJSON {
		if err := printJSON(e, r); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.Stdout, "%s: %d of %d event(s) done\n", verb, r.Done, r.Selected)
	}
	if len(r.Failed) > 0 {
		return cli.Exit(cli.ExitFail, nil) // each failure is reported above
	}
	return nil
}

// parseIDs returns the event ids given as arguments, or nil for none.
func parseIDs(args []string) ([]uuid.UUID, error) {
	if len(args) == 0 {
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
