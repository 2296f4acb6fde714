package ops

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/outboxgen/outboxgen/internal/cli"
	outbox "github.com/outboxgen/outboxgen/runtime"
)

func showCommand() cli.Command {
	return cli.Command{
		Name:    "show",
		Summary: "show one event in full: its latest failed attempts, last error, lease, metadata",
		Usage:   "[--payload] [--json] ID",
		Example: "show --db app.db 0190f0c2-0000-7000-8000-000000000001\nshow --db app.db 0190f0c2-0000-7000-8000-000000000001 --payload",
		Setup: func(fs *flag.FlagSet) cli.Action {
			var t target
			t.register(fs)
			asJSON := fs.Bool("json", false, "print JSON, for machines")
			payload := fs.Bool("payload", false, "also print the payload, which may hold personal data")
			return func(e *env, args []string) error {
				if len(args) != 1 {
					return cli.Usagef("needs one event id, got %d arguments", len(args))
				}
				id, err := uuid.Parse(args[0])
				if err != nil {
					return cli.Usagef("%q is not an event id (a UUID)", clean(args[0]))
				}
				return show(e, &t, id, *payload, *asJSON)
			}
		},
	}
}

func show(e *env, t *target, id uuid.UUID, payload, asJSON bool) error {
	o, err := t.open(e, false)
	if err != nil {
		return err
	}
	defer o.Close()
	ev, err := o.Get(e.Ctx, id)
	if errors.Is(err, outbox.ErrNotFound) {
		return fmt.Errorf("no event %s in %s (completed events are purged after the retention period)", id, o.Where)
	}
	if err != nil {
		return fmt.Errorf("read event %s in %s: %w", id, o.Where, err)
	}
	j := toJSON(ev, payload)
	if asJSON {
		return printJSON(e, j)
	}
	var tb table
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
	for _, k := range slices.Sorted(maps.Keys(j.Metadata)) {
		tb.add("metadata "+k, j.Metadata[k])
	}
	tb.print(e.Stdout)
	printHistory(e.Stdout, j)
	if payload {
		fmt.Fprintf(e.Stdout, "payload:\n%s\n", cleanJSON(j.Payload))
	} else {
		fmt.Fprintln(e.Stdout, "(payload not shown; add --payload to see it)")
	}
	return nil
}

// printHistory lists the event's latest failed attempts, and its delivery.
func printHistory(w io.Writer, j eventJSON) {
	if len(j.History) == 0 && j.CompletedAt == nil {
		fmt.Fprintln(w, "\nno failed attempts")
		return
	}
	fmt.Fprintf(w, "\nlatest failed attempts (at most %d are kept), oldest first:\n", outbox.MaxHistory)
	var tb table
	tb.add("when", "attempt", "outcome", "class", "status", "reason")
	for _, a := range j.History {
		status := "-"
		if a.StatusCode != 0 {
			status = strconv.Itoa(a.StatusCode)
		}
		tb.add(a.At.Format(time.RFC3339), a.Attempt, outcomeWords[a.Outcome], orDash(a.Class), status, truncate(a.Reason, 80))
	}
	if j.CompletedAt != nil {
		tb.add(j.CompletedAt.Format(time.RFC3339), j.Attempts, "delivered", "-", "-", "-")
	}
	tb.print(w)
}

// outcomeWords says what an attempt led to, for people.
var outcomeWords = map[string]string{
	"retry":   "retried",
	"dead":    "dead",
	"release": "given back",
	"expired": "lease expired",
}

// eventJSON is an event as list and show print it with --json.
type eventJSON struct {
	ID            uuid.UUID     `json:"id"`
	Type          string        `json:"type"`
	Aggregate     string        `json:"aggregate"`
	AggregateID   string        `json:"aggregate_id"`
	UserID        string        `json:"user_id"`
	Status        outbox.Status `json:"status"`
	Attempts      int           `json:"attempts"`
	MaxAttempts   int           `json:"max_attempts"`
	LeaseExpiries int           `json:"lease_expiries"`
	Priority      int           `json:"priority"`
	EntityVersion int64         `json:"entity_version"`
	RunAt         time.Time     `json:"run_at"`
	CreatedAt     time.Time     `json:"created_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
	CompletedAt   *time.Time    `json:"completed_at,omitempty"`
	LastError     string        `json:"last_error,omitempty"`
	// History is the event's latest failed attempts (show only).
	History  []attemptJSON     `json:"history,omitempty"`
	Lease    *leaseJSON        `json:"lease,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
	Payload  json.RawMessage   `json:"payload,omitempty"`
}

// attemptJSON is a failed attempt as show prints it with --json.
type attemptJSON struct {
	At         time.Time `json:"at"`
	Attempt    int       `json:"attempt"`
	Outcome    string    `json:"outcome"` // retry, dead, release or expired
	Class      string    `json:"class,omitempty"`
	StatusCode int       `json:"status_code,omitempty"`
	Reason     string    `json:"reason"`
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
	for _, a := range ev.History {
		j.History = append(j.History, attemptJSON{At: a.At.UTC(), Attempt: a.Number, Outcome: a.Outcome, Class: a.Class, StatusCode: a.StatusCode, Reason: a.Reason})
	}
	return j
}
