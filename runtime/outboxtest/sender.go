package outboxtest

import (
	"context"
	"errors"
	"sync"

	"github.com/google/uuid"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// Sender is an outbox.Sender (and outbox.BatchSender) that records every
// delivery and fails on demand. The zero value delivers everything. It is safe for concurrent use.
type Sender struct {
	mu         sync.Mutex
	delivered  []outbox.Event
	attempts   int
	attemptsOf map[uuid.UUID]int
	failNext   []error
	rule       func(*outbox.Event) error
	remoteID   func(*outbox.Event) string
	onDelivery func(outbox.Event)
	batches    []int
}

// ErrInjected is the error FailNext and FailWhen callers usually pass,
// wrapped in a class: outbox.TransientError(outboxtest.ErrInjected, 0).
var ErrInjected = errors.New("injected failure")

// FailNext makes the next len(errs) sends fail with errs, in order.
func (s *Sender) FailNext(errs ...error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, errs...)
}

// FailWhen makes every send for which rule returns an error fail with it;
// a nil rule removes the rule.
func (s *Sender) FailWhen(rule func(*outbox.Event) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rule = rule
}

// ReturnRemoteID makes successful sends answer with id(ev) as the
// backend's id.
func (s *Sender) ReturnRemoteID(id func(*outbox.Event) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remoteID = id
}

// OnDelivery calls fn after every successful send, outside the sender's lock.
func (s *Sender) OnDelivery(fn func(outbox.Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onDelivery = fn
}

// Send implements outbox.Sender.
func (s *Sender) Send(ctx context.Context, ev *outbox.Event) (outbox.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return outbox.Receipt{}, err
	}
	s.mu.Lock()
	s.attempts++
	if s.attemptsOf == nil {
		s.attemptsOf = make(map[uuid.UUID]int)
	}
	s.attemptsOf[ev.ID]++
	var err error
	switch {
	case len(s.failNext) > 0:
		err, s.failNext = s.failNext[0], s.failNext[1:]
	case s.rule != nil:
		err = s.rule(ev)
	}
	if err != nil {
		s.mu.Unlock()
		return outbox.Receipt{}, err
	}
	s.delivered = append(s.delivered, *ev)
	var receipt outbox.Receipt
	if s.remoteID != nil {
		receipt.RemoteID = s.remoteID(ev)
	}
	hook := s.onDelivery
	s.mu.Unlock()
	if hook != nil {
		hook(*ev)
	}
	return receipt, nil
}

// SendBatch implements outbox.BatchSender: each event is sent as by Send,
// in order, and the batch's size is recorded for Batches.
func (s *Sender) SendBatch(ctx context.Context, evs []*outbox.Event) ([]outbox.SendResult, error) {
	s.mu.Lock()
	s.batches = append(s.batches, len(evs))
	s.mu.Unlock()
	results := make([]outbox.SendResult, len(evs))
	for i, ev := range evs {
		results[i].Receipt, results[i].Err = s.Send(ctx, ev)
	}
	return results, nil
}

// Batches returns the sizes of the SendBatch calls so far, in call order.
func (s *Sender) Batches() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.batches...)
}

// Delivered returns the events delivered so far, in delivery order.
func (s *Sender) Delivered() []outbox.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]outbox.Event(nil), s.delivered...)
}

// DeliveredOfType returns the delivered events of one type, in order.
func (s *Sender) DeliveredOfType(eventType string) []outbox.Event {
	var out []outbox.Event
	for _, ev := range s.Delivered() {
		if ev.Type == eventType {
			out = append(out, ev)
		}
	}
	return out
}

// Attempts counts sends so far, failed ones included.
func (s *Sender) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// AttemptsOf counts the sends of one event so far, failed ones included.
func (s *Sender) AttemptsOf(id uuid.UUID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attemptsOf[id]
}
