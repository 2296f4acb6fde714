package ops

import (
	"context"
	"fmt"

	"github.com/outboxgen/outboxgen/internal/cli"
	outbox "github.com/outboxgen/outboxgen/runtime"
)

// bulkVerb is what retry, discard or purge does to a selection of events.
type bulkVerb struct {
	name, past  string // "retry", "retried"
	destructive bool   // ask before acting
	// run applies the verb to sel, batch by batch.
	run func(ctx context.Context, o *Outbox, sel outbox.Selection, progress func(outbox.BulkResult)) (outbox.BulkResult, error)
	// skipped says why selected events are left alone.
	skipped string
}

var (
	bulkRetry = bulkVerb{name: "retry", past: "retried", skipped: "a processor was recording an outcome for them",
		run: func(ctx context.Context, o *Outbox, sel outbox.Selection, p func(outbox.BulkResult)) (outbox.BulkResult, error) {
			return o.RetryMatching(ctx, sel, p)
		}}
	bulkDiscard = bulkVerb{name: "discard", past: "discarded", destructive: true, skipped: "being delivered right now; run discard again once their leases end",
		run: func(ctx context.Context, o *Outbox, sel outbox.Selection, p func(outbox.BulkResult)) (outbox.BulkResult, error) {
			return o.DiscardMatching(ctx, sel, p)
		}}
	bulkPurge = bulkVerb{name: "purge", past: "purged", destructive: true,
		run: func(ctx context.Context, o *Outbox, sel outbox.Selection, p func(outbox.BulkResult)) (outbox.BulkResult, error) {
			return o.PurgeMatching(ctx, sel, p)
		}}
)

// bulkReport is what a bulk repair did; its JSON form is for machines.
type bulkReport struct {
	Verb  string `json:"verb"`
	Where string `json:"where"`
	// Selected counts the events the selection matched before the
	// repair; Remaining, after it (events skipped, beyond --limit, or
	// that came to match meanwhile).
	Selected  int64 `json:"selected"`
	Done      int64 `json:"done"`
	Skipped   int64 `json:"skipped"`
	Remaining int64 `json:"remaining"`
	Limit     int   `json:"limit,omitempty"`
}

// runBulk applies v to the events sel selects (sel.Statuses named), in
// batches, with a progress line on a terminal, and reports exactly how
// many it did and how many remain. It exits 1 when it skipped any.
func runBulk(e *env, o *Outbox, v bulkVerb, sel outbox.Selection, yes, asJSON bool) error {
	all := sel
	all.Limit = 0
	r := bulkReport{Verb: v.name, Where: o.Where, Limit: sel.Limit}
	var err error
	if r.Selected, err = o.Count(e.Ctx, all); err != nil {
		return fmt.Errorf("count the selected events in %s: %w", o.Where, err)
	}
	if r.Selected == 0 {
		if asJSON {
			return printJSON(e, r)
		}
		fmt.Fprintln(e.Stdout, "no events match; nothing to do")
		return nil
	}
	target := r.Selected
	if sel.Limit > 0 {
		target = min(target, int64(sel.Limit))
	}
	if v.destructive {
		question := fmt.Sprintf("%s %d %s event(s)%s in %s for good?", v.name, target, statusNames(sel.Statuses), describe(sel), o.Where)
		if len(sel.Statuses) == len(outbox.Statuses()) {
			question = fmt.Sprintf("%s %d event(s)%s in %s for good?", v.name, target, describe(sel), o.Where)
		}
		if err := confirm(e, yes, question); err != nil {
			return err
		}
	}
	var progress func(outbox.BulkResult)
	shown := false
	if e.Terminal && !asJSON {
		progress = func(p outbox.BulkResult) {
			fmt.Fprintf(e.Stderr, "\r%s: %d of %d done", v.name, p.Done, target)
			shown = true
		}
	}
	res, err := v.run(e.Ctx, o, sel, progress)
	if shown {
		fmt.Fprintln(e.Stderr)
	}
	r.Done, r.Skipped = res.Done, res.Skipped
	if err != nil {
		return fmt.Errorf("%s events in %s: %w (%d done before it failed)", v.name, o.Where, err, res.Done)
	}
	if r.Remaining, err = o.Count(e.Ctx, all); err != nil {
		return fmt.Errorf("count the events left in %s: %w", o.Where, err)
	}
	if asJSON {
		if err := printJSON(e, r); err != nil {
			return err
		}
	} else {
		r.print(e, v)
	}
	if r.Skipped > 0 {
		return cli.Exit(cli.ExitFail, fmt.Errorf("%d selected event(s) skipped: %s", r.Skipped, v.skipped))
	}
	return nil
}

func (r bulkReport) print(e *env, v bulkVerb) {
	msg := fmt.Sprintf("%s %d of %d selected event(s)", v.past, r.Done, r.Selected)
	if r.Limit > 0 && r.Done == int64(r.Limit) {
		msg += fmt.Sprintf(" (--limit %d)", r.Limit)
	}
	if r.Remaining == 0 {
		msg += "; none remain"
	} else {
		msg += fmt.Sprintf("; %d remain", r.Remaining)
	}
	fmt.Fprintln(e.Stdout, msg)
}
