package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/outboxprom"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
)

const groupScrape = "6. One /metrics scrape (outboxprom's collector) of an outbox of mostly completed events"

// Every scraped outbox also holds scrapeWaiting pending events and
// scrapeDead dead ones, of five event types, besides its completed events.
const (
	scrapeWaiting = 1000
	scrapeDead    = 50
)

// scrapeTypes are the event types of the scraped outboxes.
var scrapeTypes = []string{"weight.created", "weight.updated", "mood.created", "steps.created", "sleep.created"}

func scrapeDef(store string, rows int) def {
	return def{fmt.Sprintf("scrape.%s.%d", store, rows), groupScrape,
		fmt.Sprintf("%s, %s completed events: one scrape", store, thousands(int64(rows))), "ms", false}
}

// fullCountDef is the query every scrape ran before Stats stopped
// counting completed events: the baseline.
func fullCountDef(store string, rows int) def {
	return def{fmt.Sprintf("scrape.%s.%d.fullcount", store, rows), groupScrape,
		fmt.Sprintf("%s, %s completed events: counting every event by type and status (what a scrape ran before)", store, thousands(int64(rows))), "ms", false}
}

// scrapes measures a scrape of a PostgreSQL and of a SQLite outbox at each
// of the sizes, both grown from one size to the next.
func (b *bench) scrapes(ctx context.Context) {
	if err := b.scrapePostgres(ctx); err != nil {
		b.res.fail("scrape on PostgreSQL", err)
	}
	if b.sizes.SkipSQLite {
		return
	}
	if err := b.scrapeSQLite(ctx); err != nil {
		b.res.fail("scrape on SQLite", err)
	}
}

func (b *bench) scrapePostgres(ctx context.Context) error {
	dbURL, done, err := b.srv.fresh(ctx, "scrape", "")
	if err != nil {
		return err
	}
	defer done()
	store, err := pgstore.Open(ctx, dbURL, 4, pgstore.WithLogger(quiet))
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	if err := seedWaiting(ctx, store, func(evs []outbox.Event) error {
		return store.InTx(ctx, func(tx pgx.Tx) error {
			for _, ev := range evs {
				if _, err := store.Enqueue(ctx, tx, ev); err != nil {
					return err
				}
			}
			return nil
		})
	}); err != nil {
		return err
	}
	filled := 0
	for _, rows := range b.scrapeSizes() {
		start := time.Now()
		for from := filled; from < rows; from += 1_000_000 {
			to := min(from+1_000_000, rows)
			_, err := store.Pool().Exec(ctx, `INSERT INTO outbox_events (id, event_type, aggregate, aggregate_id, user_id, ordering_key,
				is_new_record, entity_version, payload, priority, status, is_head, attempts, max_attempts, run_at, created_at, updated_at, completed_at)
				SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, ($3::text[])[g % 5 + 1], 'weight', 'w' || g, 'u' || (g % 1000),
					'weight/w' || g, true, 1, '{"kg":72.5}', 5, 'completed', false, 1, 5, t, t, t, t
				FROM generate_series($1::bigint + 1, $2::bigint) AS g, LATERAL (SELECT now() - interval '20 hours' + g * interval '5 microseconds') AS x(t)`,
				from, to, scrapeTypes)
			if err != nil {
				return fmt.Errorf("fill to %d completed events: %w", to, err)
			}
		}
		filled = rows
		// Autovacuum would have visited a table this size in production.
		if _, err := store.Pool().Exec(ctx, "VACUUM ANALYZE outbox_events"); err != nil {
			return err
		}
		b.logf("scrape: PostgreSQL outbox filled to %d completed events in %s", rows, time.Since(start).Round(time.Millisecond))
		if err := b.measureScrape(ctx, "PostgreSQL", rows, store, func() error {
			rows, err := store.Pool().Query(ctx, "SELECT event_type, status, count(*) FROM outbox_events GROUP BY event_type, status")
			if err != nil {
				return err
			}
			rows.Close()
			return rows.Err()
		}); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) scrapeSQLite(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "outboxgen-scrape-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := sqlitestore.Open(ctx, filepath.Join(dir, "outbox.db"), sqlitestore.WithSynchronous("NORMAL"))
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	if err := seedWaiting(ctx, store, func(evs []outbox.Event) error {
		return store.InTx(ctx, func(tx *sql.Tx) error {
			for _, ev := range evs {
				if _, err := store.Enqueue(ctx, tx, ev); err != nil {
					return err
				}
			}
			return nil
		})
	}); err != nil {
		return err
	}
	filled := 0
	for _, rows := range b.scrapeSizes() {
		start := time.Now()
		now := time.Now().Add(-20 * time.Hour).UnixMicro()
		err := store.InTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `WITH RECURSIVE g(n) AS (SELECT ?1 + 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?2)
				INSERT INTO outbox_events (id, event_type, aggregate, aggregate_id, user_id, ordering_key, is_new_record, entity_version,
					payload, priority, status, is_head, attempts, max_attempts, run_at, created_at, updated_at, completed_at)
				SELECT printf('00000000-0000-7000-8000-%012x', n), json_extract(?3, '$[' || (n % 5) || ']'), 'weight', 'w' || n, 'u' || (n % 1000),
					'weight/w' || n, 1, 1, '{"kg":72.5}', 5, 'completed', 0, 1, 5, ?4 + n * 5, ?4 + n * 5, ?4 + n * 5, ?4 + n * 5
				FROM g`, filled, rows, `["`+scrapeTypes[0]+`","`+scrapeTypes[1]+`","`+scrapeTypes[2]+`","`+scrapeTypes[3]+`","`+scrapeTypes[4]+`"]`, now)
			if err != nil {
				return err
			}
			// Rows inserted completed bypass the triggers that count
			// completions; count them once, as migration 0007 does.
			_, err = tx.ExecContext(ctx, `DELETE FROM outbox_completed;
				INSERT INTO outbox_completed (event_type, events)
				SELECT event_type, count(*) FROM outbox_events WHERE status = 'completed' GROUP BY event_type`)
			return err
		})
		if err != nil {
			return fmt.Errorf("fill to %d completed events: %w", rows, err)
		}
		filled = rows
		b.logf("scrape: SQLite outbox filled to %d completed events in %s", rows, time.Since(start).Round(time.Millisecond))
		if err := b.measureScrape(ctx, "SQLite", rows, store, func() error {
			rows, err := store.DB().QueryContext(ctx, "SELECT event_type, status, count(*) FROM outbox_events GROUP BY event_type, status")
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			rows.Close()
			return rows.Err()
		}); err != nil {
			return err
		}
	}
	return nil
}

// scrapeSizes are the sizes to measure, ascending.
func (b *bench) scrapeSizes() []int {
	return slices.Sorted(slices.Values(b.sizes.ScrapeRows))
}

// seedWaiting enqueues the waiting events of a scraped outbox, a few of
// them made dead, through the store's own API.
func seedWaiting(ctx context.Context, store outbox.Store, enqueue func([]outbox.Event) error) error {
	evs := make([]outbox.Event, scrapeWaiting+scrapeDead)
	for i := range evs {
		evs[i] = outbox.Event{Type: scrapeTypes[i%len(scrapeTypes)], Aggregate: "weight", AggregateID: fmt.Sprintf("waiting-%d", i),
			UserID: fmt.Sprintf("u%d", i%100), Payload: []byte(`{"kg":72.5}`)}
	}
	if err := enqueue(evs); err != nil {
		return fmt.Errorf("enqueue waiting events: %w", err)
	}
	claimed, err := store.Claim(ctx, "bench", scrapeDead, time.Minute)
	if err != nil {
		return err
	}
	outs := make([]outbox.Outcome, len(claimed))
	for i, ev := range claimed {
		outs[i] = outbox.Outcome{Event: ev, Kind: outbox.Dead, Class: outbox.Permanent, StatusCode: 422, Error: "permanent: 422"}
	}
	_, err = store.Finish(ctx, outs)
	return err
}

// measureScrape times scrapes of store (a warm-up, then the median of 15)
// and the full count a scrape used to run (the median of 3).
func (b *bench) measureScrape(ctx context.Context, label string, rows int, store outbox.Store, fullCount func() error) error {
	reg := prometheus.NewRegistry()
	if err := reg.Register(outboxprom.New(store)); err != nil {
		return err
	}
	scrape := func() error {
		mfs, err := reg.Gather()
		if err == nil && len(mfs) == 0 {
			err = fmt.Errorf("a scrape gathered nothing")
		}
		return err
	}
	median := func(n int, f func() error) (float64, error) {
		var ms []float64
		for range n {
			start := time.Now()
			if err := f(); err != nil {
				return 0, err
			}
			ms = append(ms, float64(time.Since(start).Microseconds())/1000)
		}
		_, med, _ := spread(ms)
		return med, nil
	}
	if _, err := median(3, scrape); err != nil {
		return err
	}
	if st, err := store.Stats(ctx); err != nil {
		return err
	} else if st.Counts[outbox.StatusPending] == 0 || st.Counts[outbox.StatusDead] != scrapeDead {
		return fmt.Errorf("the scraped outbox holds %v; want %d pending and %d dead", st.Counts, scrapeWaiting, scrapeDead)
	}
	v, err := median(15, scrape)
	if err != nil {
		return fmt.Errorf("scrape: %w", err)
	}
	b.res.add(scrapeDef(label, rows), v)
	full, err := median(3, fullCount)
	if err != nil {
		return fmt.Errorf("full count: %w", err)
	}
	b.res.add(fullCountDef(label, rows), full)
	b.logf("scrape: %s, %d completed events: %.2f ms a scrape; %.0f ms the full count", label, rows, v, full)
	return nil
}
