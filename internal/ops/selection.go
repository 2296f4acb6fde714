package ops

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/outboxgen/outboxgen/internal/cli"
	outbox "github.com/outboxgen/outboxgen/runtime"
)

// selectFlags are the selection retry, discard and purge share: which
// events, by type, user and age, and at most how many.
type selectFlags struct {
	eventType, user string
	olderThan       time.Duration
	limit           int
	fs              *flag.FlagSet // to tell an explicit --limit 0 from none
}

func (f *selectFlags) register(fs *flag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.eventType, "type", "", "only events of this type, e.g. weight.created")
	fs.StringVar(&f.user, "user", "", "only events of this user")
	fs.DurationVar(&f.olderThan, "older-than", 0, "only events enqueued longer ago than this, e.g. 1h")
	fs.IntVar(&f.limit, "limit", 0, "at most this many events, oldest first (default: every event selected)")
}

// empty reports whether no flag narrows the selection.
func (f *selectFlags) empty() bool {
	return f.eventType == "" && f.user == "" && f.olderThan == 0
}

// selection returns the selection the flags describe, as of now.
func (f *selectFlags) selection(now time.Time) (outbox.Selection, error) {
	limitSet := false
	f.fs.Visit(func(fl *flag.Flag) { limitSet = limitSet || fl.Name == "limit" })
	switch {
	case f.olderThan < 0:
		return outbox.Selection{}, cli.Usagef("--older-than %s: give a positive duration, meaning that long ago", f.olderThan)
	case f.limit < 0 || limitSet && f.limit == 0:
		return outbox.Selection{}, cli.Usagef("--limit %d: give at least 1, or leave --limit out to act on every event selected", f.limit)
	}
	sel := outbox.Selection{Type: f.eventType, UserID: f.user, Limit: f.limit}
	if f.olderThan > 0 {
		sel.CreatedBefore = now.Add(-f.olderThan)
	}
	return sel, nil
}

// describe says what a selection selects besides its statuses, e.g.
// " of type weight.created, enqueued before 2026-01-02T15:04:05Z".
func describe(sel outbox.Selection) string {
	var parts []string
	if sel.Type != "" {
		parts = append(parts, "of type "+clean(sel.Type))
	}
	if sel.UserID != "" {
		parts = append(parts, "of user "+clean(sel.UserID))
	}
	if !sel.CreatedBefore.IsZero() {
		parts = append(parts, "enqueued before "+sel.CreatedBefore.UTC().Format(time.RFC3339))
	}
	if !sel.CompletedBefore.IsZero() {
		parts = append(parts, "completed before "+sel.CompletedBefore.UTC().Format(time.RFC3339))
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, ", ")
}

// statusNames lists statuses for people: "dead or failed".
func statusNames(ss []outbox.Status) string {
	var b strings.Builder
	for i, s := range ss {
		switch {
		case i == 0:
		case i == len(ss)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		fmt.Fprint(&b, s)
	}
	return b.String()
}
