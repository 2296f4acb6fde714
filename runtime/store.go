package outbox

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// Store is what a Processor needs from a database. sqlitestore and pgstore
// implement it; storetest holds the conformance suite every implementation
// must pass. Enqueue is not part of it because it takes the caller's own
// transaction, whose type depends on the database driver.
type Store interface {
	// Claim leases up to limit due events for owner: highest priority first,
	// then oldest, and only the head of each ordering key. Each returned event
	// carries its Lease and has Attempts already counting this attempt.
	Claim(ctx context.Context, owner string, limit int, lease time.Duration) ([]*Event, error)
	// Finish records outcomes of claimed events in one transaction, running
	// delivered hooks in it. Outcomes whose lease no longer holds are skipped
	// and reported as Lost; a failing hook leaves its event claimed and is
	// reported in HookErrors while the other outcomes still commit. The
	// result names events, so outcomes holds each event at most once (the
	// processor sends a stale lease's outcome and a live one in separate
	// calls).
	Finish(ctx context.Context, outcomes []Outcome) (FinishResult, error)
	// ReclaimExpired ends leases that expired (a processor died or stalled
	// mid-send): such events become due again, or dead when their attempts
	// are used up. It returns how many events it reclaimed.
	ReclaimExpired(ctx context.Context) (int, error)
	// NextDue returns how long, by the store's clock, until the earliest
	// claimable event is due (zero if one is due now); ok is false when
	// nothing is waiting. A duration rather than a time, so that a
	// processor whose clock differs from the database's still wakes on time.
	NextDue(ctx context.Context) (wait time.Duration, ok bool, err error)
	// Subscribe returns a channel that receives a value whenever new work may
	// be claimable (an enqueue committed, an event was retried), and a
	// function that ends the subscription and releases its resources.
	Subscribe() (wake <-chan struct{}, cancel func())
	// Heartbeat records that processor p.Owner is alive, and its state,
	// until ttl from now by the store's clock. The store sets StartedAt
	// on the first heartbeat and SeenAt on each; it forgets processors
	// whose heartbeat stopped a day ago.
	Heartbeat(ctx context.Context, p ProcessorInfo, ttl time.Duration) error
	// Deregister forgets a processor that stops.
	Deregister(ctx context.Context, owner string) error

	Inspector
}

// Inspector is the operator's view of an outbox: counts, listings and
// repairs. Both stores implement it.
type Inspector interface {
	// Stats counts events by status and by type, and dates the backlog.
	Stats(ctx context.Context) (Stats, error)
	// List returns events matching f, oldest first.
	List(ctx context.Context, f Filter) ([]*Event, error)
	// Get returns one event, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (*Event, error)
	// Retry makes a dead or failed event due now with a fresh set of attempts.
	Retry(ctx context.Context, id uuid.UUID) error
	// Discard deletes an event that is not being delivered right now.
	Discard(ctx context.Context, id uuid.UUID) error
	// PurgeCompleted deletes completed events finished before the given time
	// and returns how many it deleted.
	PurgeCompleted(ctx context.Context, before time.Time) (int64, error)
	// CountByUser counts the events of each user that are not completed,
	// by status, for the limit users with the most of them.
	CountByUser(ctx context.Context, limit int) ([]UserCounts, error)
	// Processors lists the processors that sent a heartbeat in the last
	// day, oldest first: the live ones, and those that died.
	Processors(ctx context.Context) ([]ProcessorInfo, error)
	// Pause stops the delivery of p.EventType's events ("" for every
	// type) until Resume lifts it; see [Pause]. Pausing a paused type
	// again records the new By and Reason and keeps Since. The store sets
	// Since.
	Pause(ctx context.Context, p Pause) error
	// Resume lifts the pause of eventType, or with "" every pause, and
	// returns the pauses it lifted (none if nothing was paused). Processors
	// are woken at once.
	Resume(ctx context.Context, eventType string) ([]Pause, error)
	// Pauses lists the operators' pauses in force, the pause of every
	// type first, then by event type.
	Pauses(ctx context.Context) ([]Pause, error)

	// Count counts the events sel selects, its Limit aside.
	Count(ctx context.Context, sel Selection) (int64, error)
	// RetryMatching does what Retry does to each dead and failed event sel
	// selects, a batch of them per transaction, oldest first; progress, if
	// not nil, learns the totals after each batch.
	RetryMatching(ctx context.Context, sel Selection, progress func(BulkResult)) (BulkResult, error)
	// DiscardMatching does what Discard does to each event sel selects
	// that is not being delivered right now, a batch per transaction; the
	// events being delivered are reported as skipped.
	DiscardMatching(ctx context.Context, sel Selection, progress func(BulkResult)) (BulkResult, error)
	// PurgeMatching deletes the completed events sel selects, a batch per
	// transaction.
	PurgeMatching(ctx context.Context, sel Selection, progress func(BulkResult)) (BulkResult, error)
}

// ProcessorInfo is a processor as its heartbeats describe it.
type ProcessorInfo struct {
	// Owner is the name the processor leases events under.
	Owner   string
	Host    string
	PID     int
	Version string
	// Config summarises its settings, e.g. "concurrency=16 batch_size=100".
	Config string
	// StartedAt is its first heartbeat and SeenAt its latest, by the
	// store's clock.
	StartedAt time.Time
	SeenAt    time.Time
	// Alive is false once its heartbeat is overdue: it died, or lost the
	// database.
	Alive bool
	// State is its state at the latest heartbeat: whether delivery is
	// paused, since when and why, its events in flight and its limit of
	// sends now (both 0 when its release does not report them).
	State
}

// UserCounts is one user's events that are not completed, by status.
type UserCounts struct {
	UserID string
	Counts map[Status]int64
}

// Waiting is how many of the user's events still wait for delivery.
func (u UserCounts) Waiting() int64 {
	return u.Counts[StatusPending] + u.Counts[StatusProcessing] + u.Counts[StatusFailed]
}

// Errors returned by Inspector methods.
var (
	ErrNotFound = errors.New("outbox event not found")
	// ErrInFlight: the event is leased by a processor right now.
	ErrInFlight = errors.New("outbox event is being delivered")
	// ErrNotRetryable: only dead and failed events can be retried.
	ErrNotRetryable = errors.New("outbox event is neither dead nor failed")
)

// OutcomeKind is what happened to one claimed event.
type OutcomeKind int

const (
	// Delivered: the backend has the event; it completes.
	Delivered OutcomeKind = iota
	// Retry: the attempt failed; the event is due again after Delay.
	Retry
	// Dead: the event will not be delivered without an operator.
	Dead
	// Release: the attempt is given back and the event is due again after
	// Delay. Either it never really happened (the backend was unavailable,
	// the processor stopped), or nothing yet shows that the failure was the
	// event's own (Reached).
	Release
)

func (k OutcomeKind) String() string {
	switch k {
	case Delivered:
		return "delivered"
	case Retry:
		return "retry"
	case Dead:
		return "dead"
	case Release:
		return "release"
	}
	return "unknown"
}

// Outcome is the result of one delivery attempt, as given to Store.Finish.
type Outcome struct {
	// Event is the claimed event, with the Lease its claim returned.
	Event *Event
	Kind  OutcomeKind
	// Delay is how long from now a Retry or Release waits.
	Delay time.Duration
	// Error is recorded as the event's LastError (Retry, Dead, Release).
	Error string
	// Receipt is what the backend answered (Delivered).
	Receipt Receipt
	// Class is what kind of failure a Retry, Dead or Reached Release was.
	Class Class
	// StatusCode is the HTTP status the backend answered the attempt
	// with, if it did (see [StatusCode]); the attempt history keeps it.
	StatusCode int
	// Reached is set on a Release whose request the backend may have seen:
	// the store counts it in the event's Releases and, unless the backend
	// said it was still in progress, dates the failure (FailedAt), so that
	// the event's next failure after other deliveries is held against it.
	Reached bool
}

// FinishResult reports which outcomes Finish recorded and which it could
// not.
type FinishResult struct {
	// Recorded lists the events whose outcome was committed. When Finish
	// returns an error, these outcomes were committed before it failed
	// (one at a time, while a failing hook was being isolated) and must
	// not be recorded again; the others were not.
	Recorded []uuid.UUID
	// Lost lists events whose lease had expired or been taken over; their
	// outcome was discarded and the current lease holder decides.
	Lost []uuid.UUID
	// HookErrors holds the events whose delivered hook failed. They remain
	// claimed under the same lease; the caller decides what comes next.
	HookErrors map[uuid.UUID]error
}

// Delivery is what a delivered hook learns about the delivery it follows.
type Delivery struct {
	Event   *Event
	Receipt Receipt
}

// Stats is a snapshot of an outbox. Its cost grows with the events
// waiting and dead, not with the completed ones, which stores count from
// a maintained counter or estimate (see CompletedEstimated), so that
// metrics can read it at every scrape.
type Stats struct {
	// Counts holds the number of events in each status.
	Counts map[Status]int64
	// ByType holds the same counts per event type; completed events are
	// counted by type only when their count is exact.
	ByType map[string]map[Status]int64
	// CompletedEstimated is set when Counts[StatusCompleted] is an
	// estimate: a store that cannot count completed events cheaply counts
	// them exactly up to a bound (PostgreSQL: 10,000) and estimates beyond.
	CompletedEstimated bool
	// OldestPending is when the oldest event still waiting to be delivered
	// (pending, processing or failed) was enqueued; zero when none is.
	OldestPending time.Time
	// OldestByType holds the same per event type, for the types with
	// events waiting.
	OldestByType map[string]time.Time
	// NextRunAt is when the next waiting event is due; zero when none is.
	NextRunAt time.Time
	// ExpiredLeases counts the events still processing under a lease that
	// has expired: their processor died or stalled, and a processor's poll
	// will reclaim them.
	ExpiredLeases int64
}

// Filter selects events for List. Zero fields match everything.
type Filter struct {
	Status Status
	Type   string
	UserID string
	// CreatedBefore keeps events enqueued before this time.
	CreatedBefore time.Time
	// Limit bounds the result; zero means 100.
	Limit int
}

// Sender delivers one event to the backend. Errors should be classified with
// PermanentError, TransientError or UnavailableError; unclassified errors are
// transient. Send must honour ctx: the processor cancels it on stop.
type Sender interface {
	Send(ctx context.Context, ev *Event) (Receipt, error)
}

// BatchSender is a Sender that can deliver several events in one call, such
// as one request to a backend's batch endpoint. A processor whose
// Config.SendBatch is above 1 hands a BatchSender up to that many claimed
// events at a time.
type BatchSender interface {
	Sender
	// SendBatch delivers evs and returns one result per event, in the order
	// of evs, each classified as Send's error would be. An error instead of
	// results applies to every event, e.g. a batch request that got no
	// answer. SendBatch must honour ctx as Send does.
	SendBatch(ctx context.Context, evs []*Event) ([]SendResult, error)
}

// SendResult is what a batch delivery did for one event.
type SendResult struct {
	Receipt Receipt
	// Err is the event's error, nil when it was delivered.
	Err error
}

// TimeoutSender is a Sender that bounds its own requests. NewProcessor
// refuses a Lease that would cut such a request off before the sender
// itself gives up on it.
type TimeoutSender interface {
	Sender
	// SendTimeout is the longest one request to the backend may take. A
	// send that makes a second request (after a 401, say) may still be
	// cut off by the processor's deadline; its attempt then ends as
	// Unanswered, and the lease keeps it from being sent twice at once.
	SendTimeout() time.Duration
}

// Pinger is a Sender that can check whether the backend answers requests
// at all, without delivering anything. The processor pings before sending
// again an event whose last request got no answer: if the backend answers
// the ping and then again leaves the event's request unanswered, the event
// is what it chokes on (it may crash the backend), and the failure is held
// against it even when no other event is being delivered. Only while it is
// the one event failing since the last delivery, though, dead ones
// included: a backend that drops every request is down, so while nothing
// is delivered this kills at most one event, across restarts (see
// Event.OthersDied), or one per processor running at that moment. The next
// one waits, delivery paused, until another event's delivery shows the
// backend takes requests.
type Pinger interface {
	Sender
	// Ping asks the backend (where ev would be delivered) for any answer
	// that shows it is up and serving, and returns nil if one came; an
	// error means no such answer (none at all, or a gateway's 5xx).
	Ping(ctx context.Context, ev *Event) error
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, ev *Event) (Receipt, error)

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, ev *Event) (Receipt, error) { return f(ctx, ev) }

// Receipt is the backend's answer to a delivery.
type Receipt struct {
	// RemoteID is the backend's id for the entity, when it returns one.
	RemoteID string
}
