package outbox

import "time"

// Pause is an operator's stop on delivery, kept in the store, so that
// every processor sharing it honours the pause at its next claim, and
// stays paused across restarts until the pause is lifted
// ([Inspector.Resume]). It is not the processor's own pause ([State]),
// which begins and ends with the backend's health.
//
// Claims skip the events a pause covers: they spend no attempt and never
// go dead because of it, and deliveries already under way finish.
type Pause struct {
	// EventType is the event type whose delivery is paused; "" pauses
	// every type.
	EventType string
	// By names who paused delivery, e.g. "ada@ops-1".
	By string
	// Reason says why, for whoever finds delivery paused.
	Reason string
	// Since is when delivery was paused, by the store's clock.
	Since time.Time
}

// Every reports whether the pause covers every event type.
func (p Pause) Every() bool { return p.EventType == "" }
