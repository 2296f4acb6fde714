package pgstore

import (
	"context"
	"fmt"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/pgstore/internal/pgdb"
)

// Heartbeat implements outbox.Store.
func (s *Store) Heartbeat(ctx context.Context, p outbox.ProcessorInfo, ttl time.Duration) error {
	params := pgdb.HeartbeatParams{
		Owner: p.Owner, Host: p.Host, Pid: int32(p.PID), Version: p.Version, Config: p.Config,
		Now: s.now(), TtlMs: ttl.Milliseconds(), SendLimit: int32(p.Limit), InFlight: int32(p.InFlight),
	}
	if p.Paused {
		class := p.PauseClass.String()
		params.PausedSince, params.PauseClass, params.PauseReason = &p.PausedSince, &class, &p.PauseReason
	}
	if err := s.q.Heartbeat(ctx, params); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if err := s.q.ForgetDeadProcessors(ctx, s.now()); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

// Deregister implements outbox.Store.
func (s *Store) Deregister(ctx context.Context, owner string) error {
	if err := s.q.DeleteProcessor(ctx, owner); err != nil {
		return fmt.Errorf("deregister processor: %w", err)
	}
	return nil
}

// Processors implements outbox.Inspector.
func (s *Store) Processors(ctx context.Context) ([]outbox.ProcessorInfo, error) {
	rows, err := s.q.ListProcessors(ctx, s.now())
	if err != nil {
		return nil, fmt.Errorf("list processors: %w", err)
	}
	ps := make([]outbox.ProcessorInfo, len(rows))
	for i, r := range rows {
		ps[i] = outbox.ProcessorInfo{
			Owner: r.Owner, Host: r.Host, PID: int(r.Pid), Version: r.Version, Config: r.Config,
			StartedAt: r.StartedAt, SeenAt: r.SeenAt, Alive: r.Alive,
		}
		if r.PausedSince != nil {
			ps[i].State = outbox.State{Paused: true, PausedSince: *r.PausedSince}
			if r.PauseClass != nil {
				ps[i].PauseClass = outbox.ParseClass(*r.PauseClass)
			}
			if r.PauseReason != nil {
				ps[i].PauseReason = *r.PauseReason
			}
		}
		if r.SendLimit != nil && r.InFlight != nil {
			ps[i].Limit, ps[i].InFlight = int(*r.SendLimit), int(*r.InFlight)
		}
	}
	return ps, nil
}
