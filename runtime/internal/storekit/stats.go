package storekit

import (
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// Tally builds an outbox.Stats from counts by event type and status.
type Tally struct {
	st outbox.Stats
}

// NewTally returns an empty tally.
func NewTally() *Tally {
	return &Tally{st: outbox.Stats{
		Counts:       make(map[outbox.Status]int64),
		ByType:       make(map[string]map[outbox.Status]int64),
		OldestByType: make(map[string]time.Time),
	}}
}

// Add counts n events of eventType in status.
func (t *Tally) Add(eventType string, status outbox.Status, n int64) {
	t.st.Counts[status] += n
	if t.st.ByType[eventType] == nil {
		t.st.ByType[eventType] = make(map[outbox.Status]int64)
	}
	t.st.ByType[eventType][status] += n
}

// Waiting notes that the oldest of some of eventType's waiting events was
// enqueued at oldest.
func (t *Tally) Waiting(eventType string, oldest time.Time) {
	if was, ok := t.st.OldestByType[eventType]; !ok || oldest.Before(was) {
		t.st.OldestByType[eventType] = oldest
	}
	if t.st.OldestPending.IsZero() || oldest.Before(t.st.OldestPending) {
		t.st.OldestPending = oldest
	}
}

// EstimateCompleted records an estimate of the completed events, which
// are then not counted by type.
func (t *Tally) EstimateCompleted(n int64) {
	t.st.Counts[outbox.StatusCompleted] = n
	t.st.CompletedEstimated = true
}

// Unfinished is how many events the tally counted that are not completed.
func (t *Tally) Unfinished() int64 {
	var n int64
	for status, c := range t.st.Counts {
		if status != outbox.StatusCompleted {
			n += c
		}
	}
	return n
}

// Stats returns what was tallied; the caller adds what the tally does not
// know (NextRunAt, ExpiredLeases).
func (t *Tally) Stats() outbox.Stats { return t.st }
