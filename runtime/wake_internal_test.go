package outbox

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// A loop with no room to claim is woken by handOver once a quarter of the
// claim it would make is free again, whatever bounds the room: Concurrency
// and BatchSize, the adaptive limit, or a prefetch cut short by slow sends.
// A claim that finds no room asks nothing of the store.
func TestEndedSendsWakeTheLoop(t *testing.T) {
	for _, tc := range []struct {
		name             string
		cfg              Config
		sendTime         time.Duration
		room, wakesAfter int
	}{
		{"small", Config{Concurrency: 2, BatchSize: 4}, 0, 6, 1},
		// The limit starts at 16 sends; the prefetch is BatchSize.
		{"default", Config{}, 0, 16 + DefaultBatchSize, DefaultBatchSize / 4},
		// Sends of 4 s leave time for 6 rounds of 16 within half a lease's
		// send time: the prefetch is 96, and so is a claim.
		{"slow sends", Config{}, 4 * time.Second, 16 + 96, (16 + 96) / 4},
		{"one at a time", Config{Concurrency: 1, BatchSize: 1}, 0, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newWakeRun(tc.cfg)
			r.sendTime.Store(int64(tc.sendTime))
			r.inflight.Store(int64(tc.room))
			ctx := context.Background()
			if n, limit, err := r.claim(ctx, ctx); n != 0 || limit != 0 || err != nil {
				t.Fatalf("claim with no room: %d of %d, %v", n, limit, err)
			}
			for i := 1; i <= tc.wakesAfter; i++ {
				r.handOver(attempt{})
				select {
				case <-r.freed:
					if i < tc.wakesAfter {
						t.Fatalf("woken after %d ended sends, want %d", i, tc.wakesAfter)
					}
				default:
					if i == tc.wakesAfter {
						t.Fatalf("not woken after %d ended sends", i)
					}
				}
			}
			// Once woken, more ended sends do not wake it again until a
			// claim finds no room anew.
			r.handOver(attempt{})
			select {
			case <-r.freed:
				t.Fatal("woken twice for one claim without room")
			default:
			}
		})
	}
}

// newWakeRun is a run with no store behind it, for claims that find no
// room.
func newWakeRun(cfg Config) *run {
	cfg.Lease = time.Minute
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg = cfg.withDefaults()
	p := &Processor{cfg: cfg, log: cfg.Logger, pause: pause{backoff: cfg.UnavailableBackoff}}
	return &run{Processor: p, slots: p.newLimiter(), evidence: newEvidence(),
		results: make(chan attempt, p.maxInFlight()), freed: make(chan struct{}, 1), changed: make(chan struct{}, 1)}
}
