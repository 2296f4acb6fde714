package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore/internal/sqlitedb"
)

// Heartbeat implements outbox.Store.
func (s *Store) Heartbeat(ctx context.Context, p outbox.ProcessorInfo, ttl time.Duration) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.clock()
		q := s.q.WithTx(tx)
		params := sqlitedb.HeartbeatParams{
			Owner: p.Owner, Host: p.Host, Pid: int64(p.PID), Version: p.Version, Config: p.Config,
			Now: micros(now), ExpiresAt: micros(now.Add(ttl)),
			SendLimit: nullInt(int64(p.Limit)), InFlight: nullInt(int64(p.InFlight)),
		}
		if p.Paused {
			params.PausedSince = nullInt(micros(p.PausedSince))
			params.PauseClass, params.PauseReason = nullString(p.PauseClass.String()), nullString(p.PauseReason)
		}
		if err := q.Heartbeat(ctx, params); err != nil {
			return err
		}
		return q.ForgetDeadProcessors(ctx, micros(now.Add(-24*time.Hour)))
	})
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

// Deregister implements outbox.Store.
func (s *Store) Deregister(ctx context.Context, owner string) error {
	if err := s.inTx(ctx, func(tx *sql.Tx) error { return s.q.WithTx(tx).DeleteProcessor(ctx, owner) }); err != nil {
		return fmt.Errorf("deregister processor: %w", err)
	}
	return nil
}

// Processors implements outbox.Inspector.
func (s *Store) Processors(ctx context.Context) ([]outbox.ProcessorInfo, error) {
	rows, err := sqlitedb.New(s.read).ListProcessors(ctx)
	if err != nil {
		return nil, fmt.Errorf("list processors: %w", err)
	}
	now := s.micros()
	ps := make([]outbox.ProcessorInfo, len(rows))
	for i, r := range rows {
		ps[i] = outbox.ProcessorInfo{
			Owner: r.Owner, Host: r.Host, PID: int(r.Pid), Version: r.Version, Config: r.Config,
			StartedAt: fromMicros(r.StartedAt), SeenAt: fromMicros(r.SeenAt), Alive: r.ExpiresAt > now,
		}
		if r.PausedSince.Valid {
			ps[i].State = outbox.State{
				Paused: true, PausedSince: fromMicros(r.PausedSince.Int64),
				PauseClass: outbox.ParseClass(r.PauseClass.String), PauseReason: r.PauseReason.String,
			}
		}
		ps[i].Limit, ps[i].InFlight = int(r.SendLimit.Int64), int(r.InFlight.Int64)
	}
	return ps, nil
}
