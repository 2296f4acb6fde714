package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// testConcurrentClaimers runs several claimers against one store: no event
// may be claimed twice, and each key's events must complete in order.
func testConcurrentClaimers(t *testing.T, e *env) {
	const keys, perKey, claimers = 20, 10, 4
	var batch []outbox.Event
	for v := 1; v <= perKey; v++ {
		for k := 0; k < keys; k++ {
			batch = append(batch, Event(fmt.Sprintf("k%02d", k), v))
		}
	}
	e.enqueue(batch...)

	var (
		mu        sync.Mutex
		claimed   = make(map[string]bool)
		completed = make(map[string][]int64)
		failures  []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	deadline := time.Now().Add(time.Minute)
	var wg sync.WaitGroup
	for i := 0; i < claimers; i++ {
		wg.Add(1)
		go func(owner string) {
			defer wg.Done()
			for {
				mu.Lock()
				done := len(claimed) == keys*perKey || len(failures) > 0
				mu.Unlock()
				if done || time.Now().After(deadline) {
					return
				}
				evs, err := e.store.Claim(e.ctx, owner, 7, time.Hour)
				if err != nil {
					fail("%s: claim: %v", owner, err)
					return
				}
				outs := make([]outbox.Outcome, len(evs))
				mu.Lock()
				for j, ev := range evs {
					if claimed[ev.ID.String()] {
						failures = append(failures, fmt.Sprintf("event %s claimed twice", ev.ID))
					}
					claimed[ev.ID.String()] = true
					completed[ev.AggregateID] = append(completed[ev.AggregateID], ev.EntityVersion)
					outs[j] = delivered(ev)
				}
				mu.Unlock()
				res, err := e.store.Finish(e.ctx, outs)
				if err != nil || len(res.Lost) > 0 {
					fail("%s: finish: %v, lost %v", owner, err, res.Lost)
					return
				}
			}
		}(fmt.Sprintf("claimer-%d", i))
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	if len(claimed) != keys*perKey {
		t.Fatalf("%d events delivered, want %d", len(claimed), keys*perKey)
	}
	for key, versions := range completed {
		for i, v := range versions {
			if v != int64(i+1) {
				t.Fatalf("key %s completed out of order: %v", key, versions)
			}
		}
	}
}
