package pgstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/pgstore/internal/pgdb"
)

// Pause implements outbox.Inspector. Claims read outbox_pauses, so the
// pause needs no wake-up: every processor's next claim honours it.
func (s *Store) Pause(ctx context.Context, p outbox.Pause) error {
	err := s.q.PauseDelivery(ctx, pgdb.PauseDeliveryParams{EventType: p.EventType, PausedBy: p.By, Reason: p.Reason, Now: s.now()})
	if err != nil {
		return fmt.Errorf("pause delivery: %w", err)
	}
	return nil
}

// Resume implements outbox.Inspector.
func (s *Store) Resume(ctx context.Context, eventType string) ([]outbox.Pause, error) {
	rows, err := s.q.ResumeDelivery(ctx, eventType)
	if err != nil {
		return nil, fmt.Errorf("resume delivery: %w", err)
	}
	if len(rows) > 0 {
		s.Notify()
	}
	return toPauses(rows), nil
}

// Pauses implements outbox.Inspector.
func (s *Store) Pauses(ctx context.Context) ([]outbox.Pause, error) {
	rows, err := s.q.ListPauses(ctx)
	if err != nil {
		return nil, fmt.Errorf("list pauses: %w", err)
	}
	return toPauses(rows), nil
}

// toPauses converts rows, sorted by event type: the pause of every type
// ("") first.
func toPauses(rows []*pgdb.OutboxPause) []outbox.Pause {
	ps := make([]outbox.Pause, len(rows))
	for i, r := range rows {
		ps[i] = outbox.Pause{EventType: r.EventType, By: r.PausedBy, Reason: r.Reason, Since: r.PausedAt}
	}
	slices.SortFunc(ps, func(a, b outbox.Pause) int { return strings.Compare(a.EventType, b.EventType) })
	return ps
}
