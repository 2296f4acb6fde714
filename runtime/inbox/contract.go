package inbox

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Contract is what a generated receiver package tells New: the routes it
// serves and, for each metric, how to decode its payloads and apply its
// changes.
type Contract[Tx any] struct {
	// BatchRoute is where batches are posted, e.g. "/v1/batch".
	BatchRoute string
	Metrics    []Metric[Tx]
}

// Metric is one metric of a Contract.
type Metric[Tx any] struct {
	Name  string // "weight"
	Route string // "/v1/weight": several metrics may share one
	// The metric's event types.
	Created, Updated, Deleted string
	// Decode decodes and checks a payload of one of the metric's event
	// types. Its errors are an *InvalidPayload, or anything else for a
	// body that is not a JSON object.
	Decode func(eventType string, payload []byte) (Decoded, error)
	// Apply applies a change whose version is above its entity's, in the
	// transaction that records its key. value is Decoded.Value. An error
	// rolls the transaction back; a *Problem error is the answer.
	Apply func(ctx context.Context, tx Tx, c Change, value any) error
}

// Decoded is a payload that Decode accepted.
type Decoded struct {
	EntityID  uuid.UUID
	UserID    string
	Version   int64
	DeletedAt time.Time // set for a deleted event
	// Value is the typed payload, handed back to Apply.
	Value any
}

// Kind is what a change does to its entity.
type Kind int

// The kinds of change, one per event type of a metric.
const (
	Created Kind = iota + 1
	Updated
	Deleted
)

func (k Kind) String() string {
	switch k {
	case Created:
		return "created"
	case Updated:
		return "updated"
	case Deleted:
		return "deleted"
	}
	return "unknown"
}

// Change is a change to one entity as the receiver applies it: always at a
// version above the one the entity had, so changes of an entity are
// applied in version order, each at most once.
type Change struct {
	Key       string // the idempotency key: the id of the sender's event
	EventType string
	Kind      Kind
	Metric    string
	EntityID  uuid.UUID
	UserID    string
	Version   int64
	// BackendID is the receiver's id for the entity, the same for all of
	// its changes and unique among entities: what the sender stores.
	BackendID string
	// First reports that the receiver had not seen the entity before.
	First bool
	// DeletedAt is when the entity was deleted, for a Deleted change.
	DeletedAt time.Time
	// Subject is who sent the change, as the Authenticator named them.
	Subject string
}
