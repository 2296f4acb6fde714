package outbox

import (
	"errors"
	"fmt"
	"time"
)

// Class says what a failed delivery tells about the event and about the
// backend. No class kills an event or spends an attempt on its own: the
// processor weighs it against the evidence of other deliveries (see
// [Processor]), so that an outage of any kind pauses delivery instead of
// emptying the queue into the dead state.
type Class int

const (
	// Transient: the backend answered "not now" (a 5xx, a 429, a 408). The
	// attempt counts once the backend is seen delivering other events;
	// errors a sender does not classify are transient.
	Transient Class = iota
	// Permanent: the backend answered that it will never take this event
	// (a 400, a 422, a 403, a 404, a redirect). The event goes dead once
	// the backend is seen delivering other events; until then the answer
	// may be a broken deploy's, and delivery pauses.
	Permanent
	// Unavailable: the request never reached the backend (connection
	// refused, DNS failure, TLS failure, no route), or the backend refused
	// our credentials. Nothing is held against the event: delivery pauses
	// and the attempt is given back, so an offline device never
	// dead-letters its queue.
	Unavailable
	// Unanswered: the request was written whole but no answer came (the
	// connection dropped, or no response before the timeout). The backend
	// may have crashed on this very event; the attempt counts once the
	// backend is seen delivering other events.
	Unanswered
	// InProgress: the backend is still working on an earlier delivery of
	// the same event (409 Conflict under the IETF Idempotency-Key draft).
	// The event is tried again soon without spending an attempt, up to
	// MaxInProgress times; after that it is a transient failure.
	InProgress
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	case Unavailable:
		return "unavailable"
	case Unanswered:
		return "unanswered"
	case InProgress:
		return "in progress"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// DeliveryError classifies a failed delivery. Senders build one with
// [PermanentError], [TransientError], [UnavailableError],
// [UnansweredError] or [InProgressError].
type DeliveryError struct {
	Class Class
	// RetryAfter, when positive, is how long the backend asked us to wait;
	// it wins over the computed backoff.
	RetryAfter time.Duration
	// Dropped is set on an Unanswered failure whose connection the backend
	// closed without an answer (rather than leaving it open past the
	// timeout): it may have crashed on the request.
	Dropped bool
	Err     error
}

func (e *DeliveryError) Error() string {
	if e.Err == nil {
		return e.Class.String() + " delivery failure"
	}
	return e.Err.Error()
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// PermanentError marks err as the backend's refusal of the event itself.
func PermanentError(err error) error { return &DeliveryError{Class: Permanent, Err: err} }

// TransientError marks err as a failure worth retrying. retryAfter, when
// positive, is the delay the backend asked for.
func TransientError(err error, retryAfter time.Duration) error {
	return &DeliveryError{Class: Transient, Err: err, RetryAfter: retryAfter}
}

// UnavailableError marks err as the backend being out of reach: the
// request did not get to it.
func UnavailableError(err error) error { return &DeliveryError{Class: Unavailable, Err: err} }

// UnansweredError marks err as a request that reached the backend and got
// no answer.
func UnansweredError(err error) error { return &DeliveryError{Class: Unanswered, Err: err} }

// DroppedError marks err as a request the backend took whole and then
// closed the connection on without an answer, as a backend that crashed
// on it would. Its class is Unanswered.
func DroppedError(err error) error { return &DeliveryError{Class: Unanswered, Dropped: true, Err: err} }

// dropped reports whether err is a DroppedError.
func dropped(err error) bool {
	var de *DeliveryError
	return errors.As(err, &de) && de.Dropped
}

// InProgressError marks err as the backend still processing an earlier
// delivery of the event. retryAfter, when positive, is the delay the
// backend asked for.
func InProgressError(err error, retryAfter time.Duration) error {
	return &DeliveryError{Class: InProgress, Err: err, RetryAfter: retryAfter}
}

// Classify returns err's class and requested retry delay. Unclassified
// errors are transient.
func Classify(err error) (Class, time.Duration) {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.Class, de.RetryAfter
	}
	return Transient, 0
}

// ParseClass is the inverse of Class.String, for stores that keep a class
// as text. An unknown name is Transient.
func ParseClass(name string) Class {
	for c := Transient; c <= InProgress; c++ {
		if c.String() == name {
			return c
		}
	}
	return Transient
}
