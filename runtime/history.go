package outbox

import (
	"errors"
	"time"
)

// MaxHistory bounds an event's History: stores keep the latest failed
// attempts, dropping the oldest.
const MaxHistory = 10

// Attempt is one failed delivery attempt of an event, as its History
// keeps it. A delivery that succeeds ends the history: the event completes
// (CompletedAt) and keeps no last error.
type Attempt struct {
	// At is when the outcome was recorded, by the store's clock.
	At time.Time
	// Number is the attempt's number as claimed (1 for the first), also
	// when the attempt was given back.
	Number int
	// Outcome is what the attempt led to: "retry" (it counted, and the
	// event is retried), "dead", "release" (given back: the backend was
	// unavailable, or nothing yet showed the failure was the event's) or
	// "expired" (the lease ran out: the processor died or stalled).
	Outcome string
	// Class is the failure's class ("transient", "permanent",
	// "unavailable", "unanswered", "in progress"), or "" when the attempt
	// did not get to a classified failure (the processor stopped, say).
	Class string
	// StatusCode is the HTTP status the backend answered with; 0 when
	// there was no answer, or the sender does not report one.
	StatusCode int
	// Reason is the start of the error (at most 160 characters): the
	// status line and, from httpsender, at most a problem document's type
	// and title, never a response body.
	Reason string
}

// StatusCode returns the HTTP status of the response that err reports:
// that of the first error in its chain with a StatusCode() int method, as
// httpsender's errors for an answered request have. It is 0 when none
// has. Senders of other protocols may report a code the same way; the
// attempt history shows it.
func StatusCode(err error) int {
	if err == nil {
		return 0 // before errors.As, whose target would escape: a delivery allocates nothing here
	}
	var sc interface{ StatusCode() int }
	if errors.As(err, &sc) {
		return sc.StatusCode()
	}
	return 0
}

// withStatus adds to out the status code of err, the send's error.
func withStatus(out Outcome, err error) Outcome {
	out.StatusCode = StatusCode(err)
	return out
}
