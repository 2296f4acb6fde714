package inbox

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Purger is a store whose key records can be purged: pginbox.Store and
// sqliteinbox.Store.
type Purger interface {
	// Purge deletes the records of keys received more than retention ago
	// and returns how many it deleted.
	Purge(ctx context.Context, retention time.Duration) (int64, error)
}

// PurgeEvery purges p's key records older than retention at once, then
// every interval, until ctx ends; run it in a goroutine beside the
// receiver (pginbox.DefaultRetention and an hour suit most). Each purge
// that deletes something is logged at info with its count, and a failed
// purge at error: it is tried again at the next tick, and keys kept a
// little longer cost only space. Entities' versions are never purged, so
// no change is applied twice whatever the retention. A nil log means
// slog.Default(). It returns nil when ctx ends, and an error at once if
// retention or interval is not positive.
func PurgeEvery(ctx context.Context, p Purger, retention, interval time.Duration, log *slog.Logger) error {
	if retention <= 0 || interval <= 0 {
		return errors.New("inbox: PurgeEvery: the retention and the interval must be positive")
	}
	if log == nil {
		log = slog.Default()
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		n, err := p.Purge(ctx, retention)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			log.Error("inbox: purging old keys failed; trying again at the next tick", "err", err, "next", interval)
		case n > 0:
			log.Info("inbox: purged old keys", "keys", n, "retention", retention)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
