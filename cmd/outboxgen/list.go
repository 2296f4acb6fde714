package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// filterFlags select events, for list, retry and discard.
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
	fs.IntVar(&f.limit, "limit", limit, "at most this many events")
}

func (f *filterFlags) filter(now time.Time) (outbox.Filter, error) {
	flt := outbox.Filter{Status: outbox.Status(f.status), Type: f.eventType, UserID: f.user, Limit: f.limit}
	if f.status != "" && !flt.Status.Valid() {
		return flt, fmt.Errorf("--status %q is not a status; use pending, processing, failed, dead or completed", f.status)
	}
	if f.olderThan > 0 {
		flt.CreatedBefore = now.Add(-f.olderThan)
	}
	return flt, nil
}

func (f *filterFlags) empty() bool {
	return f.status == "" && f.eventType == "" && f.user == "" && f.olderThan == 0
}

func runList(e *env, args []string) int {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var t target
	t.register(fs)
	var ff filterFlags
	ff.register(fs, 50)
	asJSON := fs.Bool("json", false, "print JSON, for machines")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	flt, err := ff.filter(e.now())
	if err != nil {
		return e.fail(err)
	}
	o, err := t.open(e.ctx, false)
	if err != nil {
		return e.fail(err)
	}
	defer o.Close()
	evs, err := o.List(e.ctx, flt)
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		out := make([]eventJSON, len(evs))
		for i, ev := range evs {
			out[i] = toJSON(ev, false)
		}
		return e.printJSON(out)
	}
	if len(evs) == 0 {
		fmt.Fprintln(e.stdout, "no events match")
		return exitOK
	}
	var tb table
	tb.add("id", "type", "entity", "user", "status", "attempts", "age", "next run", "last error")
	now := e.now()
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
	tb.print(e.stdout)
	if len(evs) == flt.Limit {
		fmt.Fprintf(e.stdout, "(the first %d; --limit shows more)\n", flt.Limit)
	}
	return exitOK
}

func runShow(e *env, args []string) int {
	fs := flag.NewFlagSet("show", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var t target
	t.register(fs)
	asJSON := fs.Bool("json", false, "print JSON, for machines")
	payload := fs.Bool("payload", false, "also print the payload, which may hold personal data")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(e.stderr, "outboxgen: show needs one event id, e.g. outboxgen show --db app.db 0190f0c2-…")
		return exitUsage
	}
	id, err := uuid.Parse(fs.Arg(0))
	if err != nil {
		return e.fail(fmt.Errorf("%q is not an event id (a UUID)", fs.Arg(0)))
	}
	o, err := t.open(e.ctx, false)
	if err != nil {
		return e.fail(err)
	}
	defer o.Close()
	ev, err := o.Get(e.ctx, id)
	if errors.Is(err, outbox.ErrNotFound) {
		return e.fail(fmt.Errorf("no event %s in %s (completed events are purged after the retention period)", id, o.Where))
	}
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		return e.printJSON(toJSON(ev, *payload))
	}
	var tb table
	j := toJSON(ev, *payload)
	tb.add("id", j.ID)
	tb.add("type", j.Type)
	tb.add("entity", j.Aggregate+" "+j.AggregateID)
	tb.add("user", j.UserID)
	tb.add("status", j.Status)
	tb.add("attempts", fmt.Sprintf("%d of %d", j.Attempts, j.MaxAttempts))
	if j.LeaseExpiries > 0 {
		tb.add("lease expiries", fmt.Sprintf("%d (processors that died or stalled while delivering it)", j.LeaseExpiries))
	}
	tb.add("priority", j.Priority)
	tb.add("entity version", j.EntityVersion)
	tb.add("enqueued", j.CreatedAt.Format(time.RFC3339))
	tb.add("updated", j.UpdatedAt.Format(time.RFC3339))
	tb.add("next run", j.RunAt.Format(time.RFC3339))
	if j.CompletedAt != nil {
		tb.add("completed", j.CompletedAt.Format(time.RFC3339))
	}
	if j.Lease != nil {
		tb.add("lease", fmt.Sprintf("held by %s until %s", j.Lease.Owner, j.Lease.Until.Format(time.RFC3339)))
	}
	tb.add("last error", orDash(j.LastError))
	for k, v := range j.Metadata {
		tb.add("metadata "+k, v)
	}
	tb.print(e.stdout)
	if *payload {
		fmt.Fprintf(e.stdout, "payload:\n%s\n", j.Payload)
	} else {
		fmt.Fprintln(e.stdout, "(payload not shown; add --payload to see it)")
	}
	fmt.Fprintln(e.stdout, "(earlier attempts are not kept; the last error is)")
	return exitOK
}

// eventJSON is an event as list and show print it with --json.
type eventJSON struct {
	ID            uuid.UUID         `json:"id"`
	Type          string            `json:"type"`
	Aggregate     string            `json:"aggregate"`
	AggregateID   string            `json:"aggregate_id"`
	UserID        string            `json:"user_id"`
	Status        outbox.Status     `json:"status"`
	Attempts      int               `json:"attempts"`
	MaxAttempts   int               `json:"max_attempts"`
	LeaseExpiries int               `json:"lease_expiries"`
	Priority      int               `json:"priority"`
	EntityVersion int64             `json:"entity_version"`
	RunAt         time.Time         `json:"run_at"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
	CompletedAt   *time.Time        `json:"completed_at,omitempty"`
	LastError     string            `json:"last_error,omitempty"`
	Lease         *leaseJSON        `json:"lease,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	Payload       json.RawMessage   `json:"payload,omitempty"`
}

// leaseJSON is a lease without its token, which is a fence, not information.
type leaseJSON struct {
	Owner string    `json:"owner"`
	Until time.Time `json:"until"`
}

func toJSON(ev *outbox.Event, payload bool) eventJSON {
	j := eventJSON{
		ID: ev.ID, Type: ev.Type, Aggregate: ev.Aggregate, AggregateID: ev.AggregateID, UserID: ev.UserID,
		Status: ev.Status, Attempts: ev.Attempts, MaxAttempts: ev.MaxAttempts, LeaseExpiries: ev.LeaseExpiries, Priority: ev.Priority,
		EntityVersion: ev.EntityVersion, RunAt: ev.RunAt.UTC(), CreatedAt: ev.CreatedAt.UTC(), UpdatedAt: ev.UpdatedAt.UTC(),
		LastError: ev.LastError, Metadata: ev.Metadata,
	}
	if !ev.CompletedAt.IsZero() {
		t := ev.CompletedAt.UTC()
		j.CompletedAt = &t
	}
	if ev.Status == outbox.StatusProcessing {
		j.Lease = &leaseJSON{Owner: ev.Lease.Owner, Until: ev.Lease.Until.UTC()}
	}
	if payload {
		j.Payload = ev.Payload
	}
	return j
}

func (e *env) printJSON(v any) int {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return e.fail(err)
	}
	return exitOK
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
