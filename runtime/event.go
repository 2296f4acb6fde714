package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Status is where an event is in its life. The lifecycle is
//
//	pending → processing → completed
//	processing → failed (a retry is scheduled) → processing …
//	processing or failed → dead (attempts exhausted or a permanent error)
//
// Dead is what the seed pattern called "failed, requires manual
// intervention": only an operator's Retry moves it back to pending.
type Status string

// The statuses an event can have.
const (
	StatusPending    Status = "pending"
	StatusProcessing Status = "processing"
	StatusCompleted  Status = "completed"
	StatusFailed     Status = "failed"
	StatusDead       Status = "dead"
)

// Statuses lists every status in lifecycle order.
func Statuses() []Status {
	return []Status{StatusPending, StatusProcessing, StatusFailed, StatusCompleted, StatusDead}
}

// Valid reports whether s is one of the declared statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusProcessing, StatusCompleted, StatusFailed, StatusDead:
		return true
	}
	return false
}

// Finished reports whether an event in status s no longer takes part in
// delivery (and no longer holds back later events with its ordering key).
func (s Status) Finished() bool { return s == StatusCompleted || s == StatusDead }

// Defaults taken from the seed pattern.
const (
	DefaultPriority    = 5
	DefaultMaxAttempts = 5
	// MaxPriority bounds Priority; claims take higher priorities first.
	MaxPriority = 10
	// MaxLeaseExpiries is how many counted lease expiries (its processor
	// died or stalled mid-delivery, and other events were delivered since
	// the event last failed) put an event dead: an event that keeps
	// crashing processors must not crash them forever.
	MaxLeaseExpiries = 10
	// MaxInProgress bounds the times in a row an event is tried again
	// without spending an attempt because the backend said it was still
	// working on it (an InProgress answer); past it, such answers are
	// transient failures.
	MaxInProgress = 10
	// DefaultMaxPayloadBytes bounds an event's payload unless a store is
	// configured otherwise; events are deliveries, not file transfers.
	DefaultMaxPayloadBytes = 256 << 10
)

// Event is one data change waiting to reach the backend.
//
// The caller fills the identity and content fields and passes the event to a
// store's Enqueue inside its own transaction; the store fills the state fields.
type Event struct {
	// ID is the event's identity and the Idempotency-Key of every delivery.
	// Zero means the store assigns a time-ordered UUIDv7.
	ID uuid.UUID
	// Type names the kind of change, e.g. "weight.created"; senders route by it.
	Type string
	// Aggregate names the kind of entity changed, e.g. "weight".
	Aggregate string
	// AggregateID identifies the entity changed.
	AggregateID string
	// UserID is the user the change belongs to; it may be empty.
	UserID string
	// OrderingKey groups events delivered strictly one after another in
	// enqueue order. Empty means Aggregate + "/" + AggregateID.
	OrderingKey string
	// IsNewRecord is true when the entity has never reached the backend.
	IsNewRecord bool
	// EntityVersion is the entity's version when the event was written; a
	// delivered hook compares it to decide whether the entity is in sync.
	EntityVersion int64
	// Payload is the JSON body delivered to the backend.
	Payload json.RawMessage
	// Metadata is passed along with the payload (senders may map it to headers).
	Metadata map[string]string
	// Priority orders claims, higher first, from 1 to MaxPriority.
	// Zero means DefaultPriority.
	Priority int
	// MaxAttempts bounds delivery attempts before the event goes dead.
	// Zero means DefaultMaxAttempts.
	MaxAttempts int

	// Status is set by the store.
	Status Status
	// Attempts counts delivery attempts so far, including one in progress.
	Attempts int
	// LeaseExpiries counts the times a processor claimed the event and
	// never recorded an outcome (it crashed, or was cut off from the
	// store) after other events were delivered since the event last
	// failed. Such attempts are given back; at MaxLeaseExpiries the event
	// is dead.
	LeaseExpiries int
	// Releases counts the failed deliveries given back without spending an
	// attempt although the backend may have seen the request: nothing
	// showed the event was at fault (no other delivery had succeeded since
	// its last failure), or the backend said it was still in progress.
	Releases int
	// FailedAt is when a delivery of the event last failed in a way the
	// backend may have seen, by the store's clock; zero if none did.
	FailedAt time.Time
	// FailedClass is the class of that failure.
	FailedClass Class
	// CountedClass is the class of the last failure that spent an attempt;
	// it means something only when one did (Attempts, as claimed, above 1).
	CountedClass Class
	// InProgress counts the answers that the event was still in progress
	// (409) since it last failed; MaxInProgress bounds them.
	InProgress int
	// OthersDelivered is set by Claim: other events were delivered after
	// FailedAt, by requests sent after it (their events were claimed after
	// it), so the backend was working after the event's last failure. A new
	// failure of the event is then held against it.
	OthersDelivered bool
	// OthersDied is set by Claim: another event went dead since the latest
	// delivery's event was claimed, or at all when no completed event is
	// left (none was delivered, or retention or an operator purged them).
	// While nothing is delivered, a dropped request after an answered ping
	// is then not held against this one (see [Pinger]), in any processor or
	// run.
	OthersDied bool
	// RunAt is when the event is next due. Zero at enqueue means now.
	RunAt time.Time
	// LastError describes the last failed attempt of an event that is not
	// completed, if any.
	LastError string
	// History holds the event's latest failed attempts, oldest first, at
	// most MaxHistory of them. Only Inspector.Get fills it.
	History []Attempt
	// Lease is held while the event is processing.
	Lease Lease
	// CreatedAt, UpdatedAt and CompletedAt are set by the store.
	CreatedAt   time.Time
	UpdatedAt   time.Time
	CompletedAt time.Time
}

// Lease is a processor's temporary, exclusive right to deliver an event.
// Outcomes are recorded only while the token still matches and the lease has
// not expired, so a worker that lost its lease cannot overwrite anything.
type Lease struct {
	Owner string
	Token uuid.UUID
	Until time.Time
}

// ErrInvalidEvent wraps every reason Enqueue refuses an event.
var ErrInvalidEvent = errors.New("invalid outbox event")

// Prepare validates ev for enqueueing and fills its defaults. Stores call it
// from Enqueue; it is exported so that every store applies the same rules.
func Prepare(ev Event, maxPayload int) (Event, error) {
	invalid := func(format string, args ...any) (Event, error) {
		return Event{}, fmt.Errorf("%w: %s", ErrInvalidEvent, fmt.Sprintf(format, args...))
	}
	switch {
	case ev.Type == "":
		return invalid("Type is empty; set it to the event type, e.g. \"weight.created\"")
	case ev.Aggregate == "":
		return invalid("Aggregate is empty; set it to the kind of entity changed, e.g. \"weight\"")
	case ev.AggregateID == "":
		return invalid("AggregateID is empty; set it to the changed entity's id")
	case ev.Priority < 0 || ev.Priority > MaxPriority:
		return invalid("Priority %d is out of range; use 1 to %d (0 means %d)", ev.Priority, MaxPriority, DefaultPriority)
	case ev.MaxAttempts < 0:
		return invalid("MaxAttempts %d is negative; use 0 for the default of %d", ev.MaxAttempts, DefaultMaxAttempts)
	}
	if maxPayload <= 0 {
		maxPayload = DefaultMaxPayloadBytes
	}
	if len(ev.Payload) > maxPayload {
		return invalid("payload of %s %s is %d bytes, over the limit of %d", ev.Type, ev.AggregateID, len(ev.Payload), maxPayload)
	}
	if len(ev.Payload) == 0 {
		ev.Payload = json.RawMessage("null")
	} else if !json.Valid(ev.Payload) {
		// The payload itself may hold personal data: name the event, not the bytes.
		return invalid("payload of %s %s is not valid JSON", ev.Type, ev.AggregateID)
	}
	if ev.ID == uuid.Nil {
		id, err := uuid.NewV7()
		if err != nil {
			return Event{}, fmt.Errorf("new event id: %w", err)
		}
		ev.ID = id
	}
	if ev.OrderingKey == "" {
		ev.OrderingKey = ev.Aggregate + "/" + ev.AggregateID
	}
	if ev.Priority == 0 {
		ev.Priority = DefaultPriority
	}
	if ev.MaxAttempts == 0 {
		ev.MaxAttempts = DefaultMaxAttempts
	}
	ev.Status = StatusPending
	ev.Attempts = 0
	ev.LeaseExpiries, ev.Releases = 0, 0
	ev.FailedAt, ev.FailedClass, ev.CountedClass, ev.InProgress = time.Time{}, Transient, Transient, 0
	ev.OthersDelivered, ev.OthersDied = false, false
	ev.LastError, ev.History = "", nil
	ev.Lease = Lease{}
	return ev, nil
}

// EncodeMetadata returns the JSON form stores keep; nil for no metadata.
func EncodeMetadata(m map[string]string) ([]byte, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode metadata: %w", err)
	}
	return b, nil
}

// DecodeMetadata is the inverse of EncodeMetadata.
func DecodeMetadata(b []byte) (map[string]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode metadata: %w", err)
	}
	return m, nil
}
