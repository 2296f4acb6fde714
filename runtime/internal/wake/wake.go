// Package wake fans a "new work may be claimable" signal out to processors
// in the same process. Signals coalesce: a subscriber that has not consumed
// the last one does not queue another, so signalling never blocks.
package wake

import "sync"

// Hub is a set of subscriptions. The zero value is ready to use.
type Hub struct {
	mu   sync.Mutex
	subs map[*Sub]struct{}
}

// Sub is one subscription.
type Sub struct {
	// C receives a value after one or more signals.
	C   <-chan struct{}
	c   chan struct{}
	hub *Hub
}

// Subscribe adds a subscription.
func (h *Hub) Subscribe() *Sub {
	c := make(chan struct{}, 1)
	s := &Sub{C: c, c: c, hub: h}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = make(map[*Sub]struct{})
	}
	h.subs[s] = struct{}{}
	return s
}

// Notify signals every subscription.
func (h *Hub) Notify() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.Signal()
	}
}

// Signal signals this subscription alone.
func (s *Sub) Signal() {
	select {
	case s.c <- struct{}{}:
	default:
	}
}

// Cancel removes the subscription; it is safe to call more than once.
func (s *Sub) Cancel() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	delete(s.hub.subs, s)
}
