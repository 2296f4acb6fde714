package outbox_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
)

// capacityBackend is a backend that takes slots requests at a time, each
// for work long, and refuses the others with 503 at once, as a service
// behind a concurrency limit does.
type capacityBackend struct {
	slots             int64
	work              time.Duration
	busy              atomic.Int64
	accepted, refused atomic.Int64
}

func (b *capacityBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if b.busy.Add(1) > b.slots {
		b.busy.Add(-1)
		b.refused.Add(1)
		http.Error(w, "at capacity", http.StatusServiceUnavailable)
		return
	}
	defer b.busy.Add(-1)
	time.Sleep(b.work) // the backend's own work on the request
	b.accepted.Add(1)
	w.WriteHeader(http.StatusCreated)
}

// With a ceiling far above what the backend takes, the adaptive limit
// finds the backend's capacity: few requests are refused, none of the
// events goes dead, and the limit ends near the capacity. A fixed limit
// of the same ceiling has its requests refused several times as often.
//
// The limit starts at 16, twice this backend's capacity, so its first
// rounds are refused by design: some 15 requests, a cost per drain that
// 1,200 events keep to about a point of the share. The rest comes from
// probing above the capacity, per round. (With 600 events a loaded CI
// machine once saw 16.7 %, more than the start explains; 2-10 % is usual.)
func TestAdaptiveLimitFindsTheBackendsCapacity(t *testing.T) {
	const events, capacity = 1200, 8
	drain := func(t *testing.T, fixed bool) (refused float64, dead, limit int) {
		s := outboxtest.NewSQLiteStore(t)
		evs := make([]outbox.Event, events)
		for i := range evs {
			evs[i] = event(fmt.Sprintf("w%d", i), 1)
		}
		outboxtest.EnqueueSQLite(t, s, evs...)
		backend := &capacityBackend{slots: capacity, work: 2 * time.Millisecond}
		srv := httptest.NewServer(backend)
		t.Cleanup(srv.Close) // after the processor stops: cleanups run last first

		cfg := fast(t)
		cfg.Concurrency, cfg.BatchSize, cfg.FixedConcurrency = 64, 64, fixed
		p, rec := startProcessor(t, s, timedSender(t, srv.URL, time.Second), cfg)
		// A fixed limit's refused events spend attempts once others are
		// delivered, and may go dead: a sixth of the drain tells enough.
		want := events
		if fixed {
			want = events / 6
		}
		rec.waitFor(t, outbox.Delivered, want, 30*time.Second)
		accepted, refusals := backend.accepted.Load(), backend.refused.Load()
		refused = float64(refusals) / float64(accepted+refusals)
		t.Logf("fixed %t: %d accepted, %d refused (%.1f %%), %d dead, limit %d", fixed, accepted, refusals, 100*refused, rec.count(outbox.Dead), p.State().Limit)
		return refused, rec.count(outbox.Dead), p.State().Limit
	}
	var fixedRefused, refused float64
	var fixedLimit, dead, limit int
	t.Run("fixed", func(t *testing.T) { fixedRefused, _, fixedLimit = drain(t, true) })
	t.Run("adaptive", func(t *testing.T) { refused, dead, limit = drain(t, false) })
	if fixedLimit != 64 {
		t.Errorf("fixed limit = %d, want 64", fixedLimit)
	}
	if refused > 0.15 || refused > fixedRefused/2 || dead != 0 || limit > 2*capacity {
		t.Fatalf("adaptive toward a backend that takes %d: %.1f %% refused (fixed: %.1f %%), %d dead, limit %d at the end; "+
			"want under 15 %% and half the fixed limit's, none dead, a limit of at most %d", capacity, 100*refused, 100*fixedRefused, dead, limit, 2*capacity)
	}
}
