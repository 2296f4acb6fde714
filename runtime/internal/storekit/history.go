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
// it (see their migration 0007): short keys, since a failing event's row is
// rewritten with its whole log at each attempt.
type attemptJSON struct {
	At      int64   `json:"t"` // Unix microseconds
	Attempt int     `json:"n"`
	Outcome string  `json:"o"`
	Class   *string `json:"c"`
	Status  *int    `json:"s"`
	Reason  *string `json:"r"`
}

// DecodeHistory decodes an event's attempt log, a JSON array.
func DecodeHistory(log []byte) ([]outbox.Attempt, error) {
	if len(log) == 0 {
		return nil, nil
	}
	var entries []attemptJSON
	if err := json.Unmarshal(log, &entries); err != nil {
		return nil, fmt.Errorf("decode attempt log: %w", err)
	}
	history := make([]outbox.Attempt, len(entries))
	for i, e := range entries {
		history[i] = outbox.Attempt{At: time.UnixMicro(e.At).UTC(), Number: e.Attempt, Outcome: e.Outcome}
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
