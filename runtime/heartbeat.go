package outbox

import (
	"context"
	"fmt"
	"os"
	"time"
)

// heartbeat records the processor in the store every Config.Heartbeat, and
// at once when delivery pauses or resumes, until ctx ends; then it
// deregisters the processor. A failed heartbeat is logged and tried again
// at the next: delivery does not depend on it.
func (r *run) heartbeat(ctx context.Context) {
	host, _ := os.Hostname()
	info := ProcessorInfo{
		Owner: r.cfg.Owner, Host: host, PID: os.Getpid(), Version: Version(),
		Config: fmt.Sprintf("concurrency=%d fixed_concurrency=%t batch_size=%d send_batch=%d lease=%s poll=%s",
			r.cfg.Concurrency, r.cfg.FixedConcurrency, r.cfg.BatchSize, r.cfg.SendBatch, r.cfg.Lease, r.cfg.PollInterval),
	}
	beat := func() {
		info.State = r.State()
		callCtx, cancel := context.WithTimeout(ctx, storeCallTimeout)
		defer cancel()
		if err := r.store.Heartbeat(callCtx, info, 3*r.cfg.Heartbeat); err != nil && ctx.Err() == nil {
			r.log.Error("outbox heartbeat failed", "err", err)
		}
	}
	beat()
	tick := time.NewTicker(r.cfg.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := r.store.Deregister(callCtx, r.cfg.Owner); err != nil {
				r.log.Warn("outbox processor not deregistered; it will show as dead until forgotten", "err", err)
			}
			return
		case <-tick.C:
			beat()
		case <-r.changed:
			beat()
		}
	}
}

// stateChanged tells the heartbeat that delivery paused or resumed.
func (r *run) stateChanged() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}
