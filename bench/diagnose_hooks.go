package main

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/outboxgen/outboxgen/examples/fitness/metrics"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
)

// generatedFiller builds backlogs of generated weight events, saved with
// SaveWeight so that each has an entry for its delivered hook to mark
// synced.
var generatedFiller = filler{"tmpl_generated", func(ctx context.Context, dbURL string) error {
	store, _, err := openMetricsPG(ctx, dbURL, 2)
	if err != nil {
		return err
	}
	store.Close()
	return nil
}, fillGenerated}

// fillGenerated saves entries from..from+n-1, each with a (user, day) of
// its own, with saveWriters writers.
func fillGenerated(ctx context.Context, dbURL string, from, n int) error {
	store, m, err := openMetricsPG(ctx, dbURL, saveWriters)
	if err != nil {
		return err
	}
	defer store.Close()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for w := range saveWriters {
		wg.Go(func() {
			for i := from + w; i < from+n; i += saveWriters {
				user, day := entryKey(0, i)
				if _, err := m.SaveWeight(ctx, metrics.WeightInput{UserID: user, RecordedAt: day, Kg: 70.5}); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("save %d: %w", i, err))
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// diagnoseHooks measures what the delivered hooks of generated code cost:
// the same backlog of generated weight events is drained once by a store
// that runs the generated hooks (each marks its entry synced, one UPDATE
// per event in the transaction that records the outcome) and once by a
// store without them. The backlog events of the other measurements have no
// hook.
func (b *bench) diagnoseHooks(ctx context.Context, w *strings.Builder, n int) error {
	tmpl, err := b.templates(ctx, generatedFiller, n)
	if err != nil {
		return err
	}
	cfg := outbox.Config{Concurrency: 1000, BatchSize: 250}
	fmt.Fprintf(w, "\n# Delivered hooks: %s generated weight events, Concurrency %d, BatchSize %d, no-op sender\n\n",
		thousands(int64(n)), cfg.Concurrency, cfg.BatchSize)
	fmt.Fprintf(w, "| store | events/s | Go CPU µs/event | PostgreSQL CPU µs/event | entries synced |\n| --- | ---: | ---: | ---: | ---: |\n")
	noop := outbox.SenderFunc(func(context.Context, *outbox.Event) (outbox.Receipt, error) { return outbox.Receipt{}, nil })
	for _, hooks := range []bool{true, false} {
		label := "without hooks"
		var setup func(*pgstore.Store)
		if hooks {
			label = "with the generated hooks"
			setup = func(s *pgstore.Store) { metrics.RegisterPostgres(s) }
		}
		dbURL, done, err := b.srv.fresh(ctx, "diag_hooks", tmpl[n])
		if err != nil {
			return err
		}
		res, err := drainStore(ctx, dbURL, n, cfg, noop, b.sizes.DrainCap, "", setup)
		var synced int64
		if err == nil {
			synced, err = countSynced(ctx, dbURL)
		}
		done()
		if err != nil {
			return fmt.Errorf("drain %s: %w", label, err)
		}
		if hooks && synced != int64(res.Done) {
			return fmt.Errorf("drain %s: %d entries synced after %d deliveries; the hooks did not run", label, synced, res.Done)
		}
		self, pg := res.cpuPerEvent()
		fmt.Fprintf(w, "| %s | %s | %.0f | %.0f | %s |\n", label, format(res.Rate(), "events/s"), self, pg, thousands(synced))
		b.logf("diagnosis: hooks: %s: %s events/s", label, format(res.Rate(), "events/s"))
	}
	return nil
}

// countSynced counts the weight entries marked synced.
func countSynced(ctx context.Context, dbURL string) (int64, error) {
	conn, err := connect(ctx, dbURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int64
	err = conn.QueryRow(ctx, "SELECT count(*) FROM metric_weight WHERE sync_status = 'synced'").Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count synced entries: %w", err)
	}
	return n, nil
}
