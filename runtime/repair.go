package outbox

import "time"

// Selection chooses the events of a bulk repair ([Inspector.RetryMatching],
// [Inspector.DiscardMatching], [Inspector.PurgeMatching]) or of a count
// ([Inspector.Count]). Zero fields match everything; a repair changes only
// the selected events it applies to.
type Selection struct {
	// Statuses keeps events in one of these statuses; none means every
	// status the repair applies to (for Count, every status).
	Statuses []Status
	// Type keeps events of this event type.
	Type string
	// UserID keeps events of this user.
	UserID string
	// CreatedBefore keeps events enqueued before this time.
	CreatedBefore time.Time
	// CompletedBefore keeps events completed before this time, and so
	// only completed events.
	CompletedBefore time.Time
	// Limit bounds how many events a repair changes; zero means no bound.
	// Count ignores it.
	Limit int
}

// BulkResult is how far a bulk repair got.
type BulkResult struct {
	// Done counts the events the repair changed.
	Done int64
	// Skipped counts selected events the repair left alone because a
	// processor held them when it ended (delivering them, or recording an
	// outcome): run the repair again to do them.
	Skipped int64
}
