package console

import (
	"context"
	"time"

	"github.com/google/uuid"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// Store is what the console reads and changes: an outbox's Inspector, for
// counts, events and repairs, and its Browser, for pages and activity.
// sqlitestore.Store and pgstore.Store implement both.
type Store interface {
	outbox.Inspector
	outbox.Browser
}

// Pauser lets an operator pause delivery of the whole outbox and resume
// it, whatever the backend answers. No store of this version implements
// it: the console then shows pausing as not available. A store that does
// is used without more code (Options.Pauser, or the Store itself).
type Pauser interface {
	// OperatorPause reports whether an operator paused delivery, and why.
	OperatorPause(ctx context.Context) (OperatorPause, error)
	// PauseDelivery stops every processor from claiming events until
	// ResumeDelivery; by names the operator, reason says why.
	PauseDelivery(ctx context.Context, by, reason string) error
	// ResumeDelivery ends an operator's pause.
	ResumeDelivery(ctx context.Context, by string) error
}

// OperatorPause is a pause of delivery that an operator ordered.
type OperatorPause struct {
	Paused bool
	Since  time.Time
	By     string
	Reason string
}

// AttemptHistory lists every delivery attempt of an event. No store of
// this version keeps one: the console then shows the counts and the last
// error that every event carries.
type AttemptHistory interface {
	// EventAttempts returns the attempts of event id, oldest first.
	EventAttempts(ctx context.Context, id uuid.UUID) ([]Attempt, error)
}

// Attempt is one delivery attempt of an event.
type Attempt struct {
	At        time.Time
	Processor string
	// Outcome is what became of it: delivered, retry, dead or release.
	Outcome string
	// Class is the failure's class (transient, permanent, unavailable,
	// unanswered, in progress); empty when it was delivered.
	Class    string
	Error    string
	Duration time.Duration
}

// BulkRetrier retries, in one statement, the dead or failed events of a
// filter that the operator confirmed. Without one the console retries
// them one at a time through Inspector.Retry, at most MaxBulkRetry per
// confirmation.
type BulkRetrier interface {
	// RetryMatching retries the events in f.Status (dead or failed) that
	// match f, at most f.Limit of them, oldest first in the Browser's
	// order, and returns how many it retried. f.CreatedBefore is always
	// set: the console passes the time the operator saw the count.
	RetryMatching(ctx context.Context, f outbox.Filter) (int64, error)
}

// MaxBulkRetry bounds the events one confirmation retries when the store
// has no BulkRetrier: each is its own transaction, and a request should
// end in seconds.
const MaxBulkRetry = 1000
