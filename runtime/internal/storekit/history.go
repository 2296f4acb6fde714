package storekit

import (
	"encoding/json"
	"fmt"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// Class is the class stores record for an outcome, in the failure record
// (FailedClass, when the outcome dates a failure) and in the attempt log:
// the failure's class, or "" for a release that met no classified failure
// (the processor stopped, or the claim left no time to send).
func Class(o outbox.Outcome) string {
	if o.Kind == outbox.Release && !o.Reached && o.Class != outbox.Unavailable {
		return ""
	}
	return o.Class.String()
}

// attemptJSON is an entry of an event's attempt log, as both stores keep
// it; they differ in how they write its time.
type attemptJSON struct {
	At      json.RawMessage `json:"at"`
	Attempt int             `json:"attempt"`
	Outcome string          `json:"outcome"`
	Class   *string         `json:"class"`
	Status  *int            `json:"status"`
	Reason  *string         `json:"reason"`
}

// DecodeHistory decodes an event's attempt log, a JSON array, reading each
// entry's time with at.
func DecodeHistory(log []byte, at func(json.RawMessage) (time.Time, error)) ([]outbox.Attempt, error) {
	if len(log) == 0 {
		return nil, nil
	}
	var entries []attemptJSON
	if err := json.Unmarshal(log, &entries); err != nil {
		return nil, fmt.Errorf("decode attempt log: %w", err)
	}
	history := make([]outbox.Attempt, len(entries))
	for i, e := range entries {
		t, err := at(e.At)
		if err != nil {
			return nil, fmt.Errorf("decode attempt log: time %s: %w", e.At, err)
		}
		history[i] = outbox.Attempt{At: t, Number: e.Attempt, Outcome: e.Outcome}
		if e.Class != nil {
			history[i].Class = *e.Class
		}
		if e.Status != nil {
			history[i].StatusCode = *e.Status
		}
		if e.Reason != nil {
			history[i].Reason = *e.Reason
		}
	}
	return history, nil
}
