package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/outboxgen/outboxgen/runtime/console"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
)

// The console measurement: is the web console responsive on a PostgreSQL
// outbox of a million events? It seeds one (94 % completed over the last
// day, the rest pending, failed and dead), serves the console in-process,
// and times each page over HTTP, then the overview's first paint in
// headless Chromium when one is installed. It runs twice: without the
// indexes migration 0010 creates for the console's queries
// (consoleIndexes), then with them, so the report shows what they buy.

// consoleIndexes are migration 0010's indexes, by name: the measurement
// drops them for its first pass and creates them again for its second.
var consoleIndexes = []struct{ name, create string }{
	// Pages of failed and dead events in (created_at, id) order.
	{"outbox_events_failed_or_dead_created", `CREATE INDEX outbox_events_failed_or_dead_created ON outbox_events (status, created_at, id) WHERE status IN ('failed', 'dead')`},
	// Failures per minute over the last hour.
	{"outbox_events_failed_at", `CREATE INDEX outbox_events_failed_at ON outbox_events (failed_at) WHERE failed_at IS NOT NULL`},
}

// seedConsoleSQL fills outbox_events with n events: 1 % dead, 1 % failed,
// 4 % pending, the rest completed, over 8 event types and 5,000 users,
// enqueued over the last day; completed ones completed a minute after.
const seedConsoleSQL = `
INSERT INTO outbox_events (id, event_type, aggregate, aggregate_id, user_id, ordering_key, is_new_record,
    entity_version, payload, metadata, priority, status, is_head, attempts, max_attempts, run_at,
    last_error, created_at, updated_at, completed_at, failed_at, failed_class)
SELECT gen_random_uuid(), t.type, split_part(t.type, '.', 1), i::text, 'user-' || (i % 5000), 'e/' || i, true,
    1, '{"kg": 72.5}'::json, NULL, 5, s.status, s.status IN ('pending', 'failed'), s.attempts, 5, c.created,
    CASE WHEN s.status IN ('dead', 'failed') THEN 'POST /v1/x: 503 Service Unavailable' END,
    c.created, c.created, CASE WHEN s.status = 'completed' THEN c.created + interval '1 minute' END,
    CASE WHEN s.status IN ('dead', 'failed') THEN c.created + interval '30 seconds' END,
    CASE WHEN s.status IN ('dead', 'failed') THEN 'transient' END
FROM generate_series(1, $1::int) AS i
CROSS JOIN LATERAL (SELECT now() - (($1::int - i) * interval '86400 seconds' / $1::int) AS created) AS c
CROSS JOIN LATERAL (SELECT (ARRAY['weight.created','weight.updated','steps.created','steps.updated',
    'mood.created','sleep.created','heart_rate.created','water_intake.created'])[1 + i % 8] AS type) AS t
CROSS JOIN LATERAL (SELECT CASE
    WHEN i % 100 = 7 THEN 'dead' WHEN i % 100 = 13 THEN 'failed'
    WHEN i % 100 >= 96 THEN 'pending' ELSE 'completed' END AS status,
    CASE WHEN i % 100 IN (7, 13) THEN 5 ELSE 1 END AS attempts) AS s`

// consolePage is one page the measurement times.
type consolePage struct {
	name, path string
}

func (b *bench) consoleMeasure(ctx context.Context, events, samples int, w io.Writer) error {
	dbURL, done, err := b.srv.fresh(ctx, "console", "")
	if err != nil {
		return err
	}
	defer done()
	store, err := pgstore.Open(ctx, dbURL, 8)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	b.logf("console: seeding %s events", thousands(int64(events)))
	start := time.Now()
	if _, err := store.Pool().Exec(ctx, seedConsoleSQL, events); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if err := execSQL(ctx, dbURL, "VACUUM ANALYZE outbox_events"); err != nil {
		return err
	}
	b.logf("console: seeded in %s", time.Since(start).Round(time.Millisecond))

	h, err := console.New(console.Options{Store: store, Auth: console.Anonymous(), AllowActions: true, Logger: quiet, Name: "bench"})
	if err != nil {
		return err
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	pages, err := consolePages(ctx, store, events)
	if err != nil {
		return err
	}

	fmt.Fprintf(w, "Console on a PostgreSQL outbox of %s events; each page fetched %d times after 2 warm-ups, server time to the last byte (median / max).\n\n", thousands(int64(events)), samples)
	passes := consolePasses()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "page\t")
	for _, pass := range passes {
		fmt.Fprintf(tw, "%s\t", pass.name)
	}
	fmt.Fprintln(tw)
	const paint = "overview first paint (Chromium)"
	results := map[string][]string{}
	for i, pass := range passes {
		b.logf("console: pass %d of %d, %s", i+1, len(passes), pass.name)
		if err := execSQL(ctx, dbURL, append(pass.sql, "ANALYZE outbox_events")...); err != nil {
			return err
		}
		for _, p := range pages {
			med, worst, err := timePage(ctx, srv.URL+p.path, samples)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			results[p.name] = append(results[p.name], fmt.Sprintf("%s / %s", ms(med), ms(worst)))
		}
		fcp, err := firstPaint(ctx, srv.URL+"/")
		if err != nil {
			results[paint] = append(results[paint], "not measured: "+err.Error())
		} else {
			results[paint] = append(results[paint], ms(fcp))
		}
	}
	for _, name := range append(pageNames(pages), paint) {
		fmt.Fprintf(tw, "%s\t%s\t\n", name, strings.Join(results[name], "\t"))
	}
	return tw.Flush()
}

// consolePass is one column of the console's report: the statements that
// set the indexes up for it.
type consolePass struct {
	name string
	sql  []string
}

// consolePasses are the measurement's columns: without migration 0010's
// indexes, with them (the default schema), and with the index a team that
// browses users' completed events adds itself (docs/OPERATIONS.md).
func consolePasses() []consolePass {
	var drop, create []string
	for _, ix := range consoleIndexes {
		drop = append(drop, "DROP INDEX "+ix.name)
		create = append(create, ix.create)
	}
	return []consolePass{
		{"without 0010's indexes", drop},
		{"with them (the default)", create},
		{"and a user index", []string{userCompletedIndex}},
	}
}

// userCompletedIndex is the index docs/OPERATIONS.md suggests to a team
// that looks up users' completed events on a large outbox.
const userCompletedIndex = `CREATE INDEX outbox_events_user_completed ON outbox_events (user_id, completed_at, id) WHERE status = 'completed'`

func pageNames(pages []consolePage) []string {
	names := make([]string, len(pages))
	for i, p := range pages {
		names[i] = p.name
	}
	return names
}

// consolePages lists the pages to time, some of which need ids and keys
// from the seeded database.
func consolePages(ctx context.Context, store *pgstore.Store, events int) ([]consolePage, error) {
	var deepAt time.Time
	var deepID, anID uuid.UUID
	half := events / 2
	err := store.Pool().QueryRow(ctx, `SELECT completed_at, id FROM outbox_events WHERE status = 'completed' ORDER BY completed_at, id OFFSET $1 LIMIT 1`, half).Scan(&deepAt, &deepID)
	if err != nil {
		return nil, fmt.Errorf("find the %dth completed event: %w", half, err)
	}
	if err := store.Pool().QueryRow(ctx, `SELECT id FROM outbox_events WHERE status = 'dead' LIMIT 1`).Scan(&anID); err != nil {
		return nil, fmt.Errorf("find a dead event: %w", err)
	}
	deep := fmt.Sprintf("completed.%d.%s", deepAt.UnixMicro(), deepID)
	return []consolePage{
		{"overview (whole page)", "/"},
		{"overview refresh (/live)", "/live"},
		{"events, all statuses, page 1", "/events"},
		{"events, dead, page 1", "/events?status=dead"},
		{"events, completed, page 1", "/events?status=completed"},
		{"events, completed, after " + thousands(int64(half)), "/events?status=completed&after=" + deep},
		{"events, dead of one user", "/events?status=dead&user=user-7"},
		{"events, failed of one type, older than 1h", "/events?status=failed&type=steps.updated&older=1h"},
		{"events, pending, page 1", "/events?status=pending"},
		// The seed gives user-k the events i with i % 5000 = k, whose
		// status follows i % 100 = k % 100: user-4999's are pending,
		// user-4950's completed.
		{"events, pending of one user", "/events?status=pending&user=user-4999"},
		{"events, completed of one user", "/events?status=completed&user=user-4950"},
		{"events, completed of a user with none", "/events?status=completed&user=nobody"},
		{"one event", "/events/" + anID.String()},
		{"bulk retry confirmation (count of dead)", "/retry?status=dead"},
	}, nil
}

// timePage fetches url samples times after two warm-ups and returns the
// median and the slowest.
func timePage(ctx context.Context, url string, samples int) (median, worst time.Duration, err error) {
	var took []time.Duration
	for i := range samples + 2 {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if err != nil {
			return 0, 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, 0, fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if i >= 2 {
			took = append(took, d)
		}
	}
	slices.Sort(took)
	return took[len(took)/2], took[len(took)-1], nil
}

// firstPaint opens url in a fresh headless Chromium and returns the
// first contentful paint, from the navigation's start.
func firstPaint(ctx context.Context, url string) (time.Duration, error) {
	path, err := exec.LookPath("chromium")
	if p := os.Getenv("OUTBOXGEN_CHROMIUM"); p != "" {
		path, err = p, nil
	}
	if err != nil {
		return 0, fmt.Errorf("no chromium")
	}
	dir, err := os.MkdirTemp("", "console-bench-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(dir), chromedp.Flag("disable-component-update", true))
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()
	if err := chromedp.Do(tab, chromedp.Navigate("about:blank")); err != nil {
		return 0, err
	}
	var best time.Duration
	for i := range 3 { // the first opens connections; keep the best of three
		if err := chromedp.Do(tab, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#count-dead"))); err != nil {
			return 0, err
		}
		ms, err := chromedp.Run(tab, chromedp.Poll[float64](
			`(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime`, chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil {
			return 0, err
		}
		d := time.Duration(ms * float64(time.Millisecond))
		if i == 0 || d < best {
			best = d
		}
	}
	return best, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// consoleUsage is the -console flag's help.
var consoleUsage = strings.Join([]string{
	"instead of benchmarking, time the web console's pages on a PostgreSQL outbox of this many events (e.g. 1000000),",
	"with and without the indexes it proposes, and print a table",
}, " ")
