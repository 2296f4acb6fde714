package outbox

import (
	"errors"
	"fmt"
	"time"
)

// Class says what a failed delivery means for the event and for the backend.
type Class int

const (
	// Transient: this attempt failed but a later one may succeed (a 5xx, a
	// 429, a timeout after the request was sent). The attempt counts; the
	// event is retried with backoff until its attempts run out. Errors a
	// sender does not classify are transient.
	Transient Class = iota
	// Permanent: retrying cannot help (a 4xx that rejects the event). The
	// event goes dead at once and never blocks other events.
	Permanent
	// Unavailable: the backend, not the event, is the problem (connection
	// refused, DNS failure, no response). The attempt is not counted and
	// the processor pauses delivery with backoff, so an offline device
	// never dead-letters its queue.
	Unavailable
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	case Unavailable:
		return "unavailable"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// DeliveryError classifies a failed delivery. Senders build one with
// [PermanentError], [TransientError] or [UnavailableError].
type DeliveryError struct {
	Class Class
	// RetryAfter, when positive, is how long the backend asked us to wait;
	// it wins over the computed backoff.
	RetryAfter time.Duration
	Err        error
}

func (e *DeliveryError) Error() string {
	if e.Err == nil {
		return e.Class.String() + " delivery failure"
	}
	return e.Err.Error()
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// PermanentError marks err as a failure that retrying cannot fix.
func PermanentError(err error) error { return &DeliveryError{Class: Permanent, Err: err} }

// TransientError marks err as a failure worth retrying. retryAfter, when
// positive, is the delay the backend asked for.
func TransientError(err error, retryAfter time.Duration) error {
	return &DeliveryError{Class: Transient, Err: err, RetryAfter: retryAfter}
}

// UnavailableError marks err as the backend being out of reach.
func UnavailableError(err error) error { return &DeliveryError{Class: Unavailable, Err: err} }

// Classify returns err's class and requested retry delay. Unclassified
// errors are transient: the attempt counts, so an error nobody understood
// cannot retry forever.
func Classify(err error) (Class, time.Duration) {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.Class, de.RetryAfter
	}
	return Transient, 0
}
