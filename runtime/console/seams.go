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
// it, whatever the backend answers. By default the console uses the
// Store's operator pauses (outbox.Inspector's Pause, Resume and Pauses).
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

// AttemptHistory lists an event's latest failed attempts. By default the
// console reads the History that the Store's Get returns.
type AttemptHistory interface {
	// EventAttempts returns the attempts of event id, oldest first.
	EventAttempts(ctx context.Context, id uuid.UUID) ([]outbox.Attempt, error)
}

// BulkRetrier retries the dead or failed events of a filter that the
// operator confirmed. By default the console uses the Store's
// RetryMatching, a batch of events per transaction.
type BulkRetrier interface {
	// RetryFiltered retries the events in f.Status (dead or failed) that
	// match f, at most f.Limit of them, oldest first, and returns how many
	// it retried. f.CreatedBefore is always set: the console passes the
	// time the operator saw the count.
	RetryFiltered(ctx context.Context, f outbox.Filter) (int64, error)
}

// storeSeams gives the seams their default: what the Store itself does.
type storeSeams struct{ s outbox.Inspector }

func (d storeSeams) OperatorPause(ctx context.Context) (OperatorPause, error) {
	ps, err := d.s.Pauses(ctx)
	for _, p := range ps {
		if p.Every() {
			return OperatorPause{Paused: true, Since: p.Since, By: p.By, Reason: p.Reason}, nil
		}
	}
	return OperatorPause{}, err
}

func (d storeSeams) PauseDelivery(ctx context.Context, by, reason string) error {
	return d.s.Pause(ctx, outbox.Pause{By: by, Reason: reason})
}

func (d storeSeams) ResumeDelivery(ctx context.Context, _ string) error {
	_, err := d.s.Resume(ctx, "")
	return err
}

func (d storeSeams) EventAttempts(ctx context.Context, id uuid.UUID) ([]outbox.Attempt, error) {
	ev, err := d.s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return ev.History, nil
}

func (d storeSeams) RetryFiltered(ctx context.Context, f outbox.Filter) (int64, error) {
	sel := outbox.Selection{Type: f.Type, UserID: f.UserID, CreatedBefore: f.CreatedBefore, Limit: f.Limit}
	if f.Status != "" {
		sel.Statuses = []outbox.Status{f.Status}
	}
	res, err := d.s.RetryMatching(ctx, sel, nil)
	return res.Done, err
}
