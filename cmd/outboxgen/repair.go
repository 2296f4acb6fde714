package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// selection is the events a repair command acts on: ids given as arguments,
// or a filter.
func selection(e *env, o *outboxDB, fs *flag.FlagSet, ff *filterFlags, allDead bool) ([]uuid.UUID, error) {
	if allDead {
		ff.status = string(outbox.StatusDead)
	}
	switch {
	case fs.NArg() > 0 && !ff.empty():
		return nil, errors.New("give event ids or filter flags, not both")
	case fs.NArg() > 0:
		ids := make([]uuid.UUID, fs.NArg())
		for i, arg := range fs.Args() {
			id, err := uuid.Parse(arg)
			if err != nil {
				return nil, fmt.Errorf("%q is not an event id (a UUID)", arg)
			}
			ids[i] = id
		}
		return ids, nil
	case ff.empty():
		return nil, errors.New("say which events: give their ids, a filter such as --status dead, or --all-dead")
	}
	flt, err := ff.filter(e.now())
	if err != nil {
		return nil, err
	}
	evs, err := o.List(e.ctx, flt)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return ids, nil
}

// confirm asks before a destructive change: on a terminal it prompts, and
// elsewhere it refuses unless --yes was given.
func (e *env) confirm(yes bool, question string) bool {
	if yes {
		return true
	}
	if !e.terminal {
		fmt.Fprintf(e.stderr, "outboxgen: %s Not on a terminal, so not asking: pass --yes to go ahead.\n", question)
		return false
	}
	fmt.Fprintf(e.stdout, "%s [y/N] ", question)
	answer, _ := bufio.NewReader(e.stdin).ReadString('\n')
	return strings.EqualFold(strings.TrimSpace(answer), "y") || strings.EqualFold(strings.TrimSpace(answer), "yes")
}

func runRetry(e *env, args []string) int {
	return repair(e, args, "retry", func(o *outboxDB, id uuid.UUID) error { return o.Retry(e.ctx, id) }, false)
}

func runDiscard(e *env, args []string) int {
	return repair(e, args, "discard", func(o *outboxDB, id uuid.UUID) error { return o.Discard(e.ctx, id) }, true)
}

// repair applies act to each selected event and reports per event.
func repair(e *env, args []string, verb string, act func(*outboxDB, uuid.UUID) error, destructive bool) int {
	fs := flag.NewFlagSet(verb, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var t target
	t.register(fs)
	var ff filterFlags
	ff.register(fs, 1000)
	allDead := fs.Bool("all-dead", false, "every dead event (up to --limit)")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	o, err := t.open(e.ctx, false)
	if err != nil {
		return e.fail(err)
	}
	defer o.Close()
	ids, err := selection(e, o, fs, &ff, *allDead)
	if err != nil {
		return e.fail(err)
	}
	if len(ids) == 0 {
		fmt.Fprintln(e.stdout, "no events match; nothing to do")
		return exitOK
	}
	if destructive && !e.confirm(*yes, fmt.Sprintf("%s %d event(s) in %s for good?", verb, len(ids), o.Where)) {
		return exitFail
	}
	failed := 0
	for _, id := range ids {
		if err := act(o, id); err != nil {
			failed++
			fmt.Fprintf(e.stderr, "outboxgen: %s %s: %v\n", verb, id, explain(err))
			continue
		}
	}
	done := len(ids) - failed
	fmt.Fprintf(e.stdout, "%s: %d of %d event(s) done\n", verb, done, len(ids))
	if failed > 0 {
		return exitFail
	}
	return exitOK
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

func runPurge(e *env, args []string) int {
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var t target
	t.register(fs)
	before := fs.String("completed-before", "", "delete events completed before this: a duration ago (72h) or a time (2026-01-02T15:04:05Z)")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cutoff, err := parseCutoff(*before, e.now())
	if err != nil {
		return e.fail(err)
	}
	o, err := t.open(e.ctx, false)
	if err != nil {
		return e.fail(err)
	}
	defer o.Close()
	if !e.confirm(*yes, fmt.Sprintf("delete the events in %s completed before %s?", o.Where, cutoff.Format(time.RFC3339))) {
		return exitFail
	}
	n, err := o.PurgeCompleted(e.ctx, cutoff)
	if err != nil {
		return e.fail(err)
	}
	fmt.Fprintf(e.stdout, "purged %d completed event(s)\n", n)
	return exitOK
}

func parseCutoff(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("purge needs --completed-before, e.g. --completed-before 72h")
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("--completed-before %s: give a positive duration, meaning that long ago", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--completed-before %q is neither a duration (72h) nor a time (2026-01-02T15:04:05Z)", s)
	}
	return t, nil
}
