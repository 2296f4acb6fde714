package pgstore_test

import (
	"testing"
	"time"

	"github.com/outboxgen/outboxgen/runtime/pgstore"
	"github.com/outboxgen/outboxgen/runtime/storetest"
)

func TestBrowserConformance(t *testing.T) {
	storetest.RunBrowser(t, func(t *testing.T, clock func() time.Time) storetest.Store {
		return suiteStore{open(t, pgstore.WithClock(clock))}
	})
}
