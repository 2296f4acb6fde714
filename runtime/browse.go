package outbox

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Browser is what a console needs, beyond an Inspector, to page through an
// outbox of millions of events and chart its recent activity. Both stores
// implement it.
type Browser interface {
	// ListPage returns up to f.Limit events in status f.Status (which must
	// be set) that match f's other fields and come after key, oldest
	// first: ordered by CreatedAt, then ID, except completed events, which
	// are ordered by CompletedAt, then ID (the order of the index retention
	// reads, so that a page of the millions of completed events costs the
	// same at any depth). Payloads are left out (nil): they may hold
	// personal data, and Get returns them.
	ListPage(ctx context.Context, f Filter, after PageKey) ([]*Event, error)
	// CountMatching counts the events that match f; f.Limit is ignored.
	CountMatching(ctx context.Context, f Filter) (int64, error)
	// ActivityByMinute counts, for each minute since since that saw any,
	// the events delivered in it and the events whose latest failure fell
	// in it, oldest minute first.
	ActivityByMinute(ctx context.Context, since time.Time) ([]MinuteCounts, error)
}

// PageKey is where a page of a Browser's listing ends: the next page
// starts after it. The zero key comes before every event.
type PageKey struct {
	// At is the time the listing is ordered by: the event's CreatedAt, or
	// its CompletedAt for a completed event.
	At time.Time
	ID uuid.UUID
}

// KeyOf returns the PageKey of ev, for the page that follows it.
func KeyOf(ev *Event) PageKey {
	if ev.Status == StatusCompleted {
		return PageKey{At: ev.CompletedAt, ID: ev.ID}
	}
	return PageKey{At: ev.CreatedAt, ID: ev.ID}
}

// MinuteCounts is what happened to events in one minute.
type MinuteCounts struct {
	// Minute is the minute's start, in UTC.
	Minute time.Time
	// Delivered counts the events completed in the minute.
	Delivered int64
	// Failed counts the events whose latest failed delivery fell in the
	// minute (an event keeps only its latest failure, so one that failed
	// twice counts once, at the later failure).
	Failed int64
}

// MergeMinutes joins per-minute counts of deliveries and of failures into
// one list, oldest minute first. Stores use it.
func MergeMinutes(delivered, failed map[time.Time]int64) []MinuteCounts {
	byMinute := make(map[time.Time]*MinuteCounts, len(delivered)+len(failed))
	at := func(m time.Time) *MinuteCounts {
		m = m.UTC()
		if byMinute[m] == nil {
			byMinute[m] = &MinuteCounts{Minute: m}
		}
		return byMinute[m]
	}
	for m, n := range delivered {
		at(m).Delivered += n
	}
	for m, n := range failed {
		at(m).Failed += n
	}
	out := make([]MinuteCounts, 0, len(byMinute))
	for _, c := range byMinute {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b MinuteCounts) int { return a.Minute.Compare(b.Minute) })
	return out
}
