package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
	"github.com/outboxgen/outboxgen/runtime/sqlitestore"
)

// tinySizes exercise every measurement in seconds.
var tinySizes = sizes{
	SaveWarm: 50 * time.Millisecond, SaveDur: 200 * time.Millisecond,
	Backlog: 300, SmallBacklog: 200, DrainCap: 30 * time.Second, SlowCap: 30 * time.Second,
	CapacityCap: 5 * time.Second, Outage: 500 * time.Millisecond,
	LatencyRate: 200, LatencyWarm: 100 * time.Millisecond, LatencyDur: 500 * time.Millisecond,
	BigSpec: 5, ScrapeRows: []int{2_000, 12_000}, SQLiteBacklogs: []int{100, 300, 1_000},
	MemoryBacklog: 500, MemoryCap: 30 * time.Second,
}

func TestMain(m *testing.M) {
	if runChildIfAsked() {
		return
	}
	os.Exit(m.Run())
}

// newTestBench returns a bench on the test server, or skips the test when
// PostgreSQL is not reachable.
func newTestBench(t *testing.T) (context.Context, *bench) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	srv, err := newServer(ctx, adminURL())
	if err != nil {
		t.Skipf("skipping: PostgreSQL is not reachable (%v); start it or set %s", err, envURL)
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	b := newBench(srv, tinySizes, repo, testLog{t})
	b.run = 1
	t.Cleanup(func() { b.close(context.Background()) })
	return ctx, b
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestQuickPath runs every measurement of the -quick path at tiny sizes.
func TestQuickPath(t *testing.T) {
	ctx, b := newTestBench(t)
	b.saves(ctx)
	b.backlogs(ctx)
	b.httpDeliveries(ctx)
	b.receivers(ctx)
	b.latencies(ctx)
	b.sqlites(ctx)
	if !testing.Short() {
		b.generation(ctx)
	}
	for _, f := range b.res.failures {
		t.Errorf("failed: %s", f)
	}
	want := []def{mSavePlain, mSaveOurs, mSaveRole, mSaveRiver, mSaveSQLite, mBacklogWatermill100,
		mHTTPOursDef, mHTTPOurs64, mLatencyOursP50, mLatencyRiverP99}
	for _, c := range riverConfigs {
		want = append(want, riverBacklogDef(c), riverHTTPDef(c))
	}
	for _, l := range receiverLoads {
		want = append(want, l.events)
	}
	for _, c := range oursConfigs {
		want = append(want, backlogDef(c))
	}
	for _, batch := range rawPGBatches {
		want = append(want, rawPGDef(batch))
	}
	for _, n := range tinySizes.SQLiteBacklogs {
		want = append(want, sqliteDrainDef("default", n))
	}
	want = append(want, sqliteRawDef(100, 300), sqliteRawDef(1000, 300), sqliteDrainDef("1000", 300), mSQLiteBusySaves, mSQLiteBusyDrained)
	for _, d := range want {
		if v, ok := b.res.median(d.Key); !ok || v <= 0 {
			t.Errorf("%s: no positive value recorded (got %v, %v)", d.Name, v, ok)
		}
	}
	var text strings.Builder
	b.res.writeText(&text, header{Machine: describeMachine(), Sizes: tinySizes})
	if !strings.Contains(text.String(), "Targets") || !strings.Contains(text.String(), "75 % of the raw SQL") {
		t.Errorf("report without targets:\n%s", text.String())
	}
}

func TestLoadQueries(t *testing.T) {
	qs, err := loadQueries(filepath.Join("..", "runtime", "pgstore", "queries.sql"))
	if err != nil {
		t.Fatal(err)
	}
	claim, ok := qs["Claim"]
	if !ok {
		t.Fatal("no Claim query")
	}
	if strings.Contains(claim.SQL, "sqlc.") || !strings.Contains(claim.SQL, "FOR UPDATE SKIP LOCKED") {
		t.Errorf("Claim not translated:\n%s", claim.SQL)
	}
	if len(claim.Params) != 5 {
		t.Errorf("Claim params = %v, want now, max_events, owner, token, lease_ms", claim.Params)
	}
}

func TestWriteDocKeepsHandWrittenText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	intro := "# Benchmarks\n\nHand-written analysis.\n\n"
	if err := os.WriteFile(path, []byte(intro+beginMarker+"\nold\n"+endMarker+"\n\nTrailing notes.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeDoc(path, beginMarker+"\nnew\n"+endMarker+"\n"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := intro + beginMarker + "\nnew\n" + endMarker + "\n\nTrailing notes.\n"
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestSpreadAndFormat(t *testing.T) {
	lo, med, hi := spread([]float64{3, 1, 2})
	if lo != 1 || med != 2 || hi != 3 {
		t.Errorf("spread = %v %v %v", lo, med, hi)
	}
	if got := format(12345.6, "events/s"); got != "12,346" {
		t.Errorf("format = %q", got)
	}
	if got := format(1.234, "ms"); got != "1.23" {
		t.Errorf("format = %q", got)
	}
}

func TestSynthesizedSpecHasEveryMetric(t *testing.T) {
	spec := string(synthesizeSpec(200))
	if n := strings.Count(spec, "\n  sensor_"); n != 200 {
		t.Errorf("%d metrics, want 200", n)
	}
}

// TestScrape measures scrapes at tiny sizes, the larger past the bound
// above which PostgreSQL's Stats estimates completed events.
func TestScrape(t *testing.T) {
	ctx, b := newTestBench(t)
	b.scrapes(ctx)
	for _, f := range b.res.failures {
		t.Errorf("failed: %s", f)
	}
	for _, store := range []string{"PostgreSQL", "SQLite"} {
		for _, rows := range tinySizes.ScrapeRows {
			for _, d := range []def{scrapeDef(store, rows), fullCountDef(store, rows)} {
				if v, ok := b.res.median(d.Key); !ok || v <= 0 {
					t.Errorf("%s: no positive value recorded (got %v, %v)", d.Name, v, ok)
				}
			}
		}
	}
}

// TestMemory runs the drain child on tiny backlogs of both stores.
func TestMemory(t *testing.T) {
	ctx, b := newTestBench(t)
	b.memories(ctx)
	for _, f := range b.res.failures {
		t.Errorf("failed: %s", f)
	}
	for _, store := range []string{"PostgreSQL", "SQLite"} {
		d := memoryDef(store, tinySizes.MemoryBacklog)
		if v, ok := b.res.median(d.Key); !ok || v <= 0 || v >= 1000 {
			t.Errorf("%s: got %v MB, %v; want a plausible positive size", d.Name, v, ok)
		}
	}
}

// TestRawPGLoop drains a tiny backlog whose events share a few keys with
// the raw loop, every claim checked against per-key FIFO, and checks that
// every event was completed and every key row released.
func TestRawPGLoop(t *testing.T) {
	ctx, b := newTestBench(t)
	dbURL, done, err := b.srv.fresh(ctx, "rawpg", "")
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	const total, keys = 600, 7
	store, err := pgstore.Open(ctx, dbURL, 2, pgstore.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	err = store.InTx(ctx, func(tx pgx.Tx) error {
		return eachSharedKeyEvent(total, keys, func(ev outbox.Event) error {
			_, err := store.Enqueue(ctx, tx, ev)
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{1, 5, 100} {
		// Each run starts again from every event pending.
		if err := execSQL(ctx, dbURL,
			`UPDATE outbox_events SET status = 'pending', is_head = seq IN (SELECT min(seq) FROM outbox_events GROUP BY ordering_key), completed_at = NULL`,
			`INSERT INTO outbox_keys SELECT ordering_key, count(*) FROM outbox_events GROUP BY ordering_key ON CONFLICT (ordering_key) DO UPDATE SET unfinished = excluded.unfinished`,
		); err != nil {
			t.Fatal(err)
		}
		res, err := rawPGLoop(ctx, dbURL, total, 3, batch, 30*time.Second, true)
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		if res.Done != total || res.Capped {
			t.Fatalf("batch %d: %d of %d events done, capped %v", batch, res.Done, total, res.Capped)
		}
		var completed, keyRows int
		if err := store.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM outbox_events WHERE status = 'completed'), (SELECT count(*) FROM outbox_keys)`).Scan(&completed, &keyRows); err != nil {
			t.Fatal(err)
		}
		if completed != total || keyRows != 0 {
			t.Errorf("batch %d: %d of %d events completed, %d key rows left", batch, completed, total, keyRows)
		}
	}
}

// TestRawSQLiteLoop drains a tiny backlog whose events share a few keys
// with the raw SQLite loop, which claims only heads: every event must end
// completed, so each key's next event was made its head in turn.
func TestRawSQLiteLoop(t *testing.T) {
	ctx := t.Context()
	const total, keys = 600, 7
	for _, batch := range []int{1, 5, 100} {
		path := filepath.Join(t.TempDir(), "outbox.db")
		store, err := sqlitestore.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		err = store.InTx(ctx, func(tx *sql.Tx) error {
			return eachSharedKeyEvent(total, keys, func(ev outbox.Event) error {
				_, err := store.Enqueue(ctx, tx, ev)
				return err
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err := rawSQLiteLoop(ctx, path, total, batch, 30*time.Second)
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		var completed int
		if err := store.DB().QueryRowContext(ctx, `SELECT count(*) FROM outbox_events WHERE status = 'completed'`).Scan(&completed); err != nil {
			t.Fatal(err)
		}
		if res.Done != total || res.Capped || completed != total {
			t.Errorf("batch %d: %d of %d events done (capped %v), %d completed", batch, res.Done, total, res.Capped, completed)
		}
		store.Close()
	}
}

// eachSharedKeyEvent calls enqueue with n benchmark events spread over
// keys ordering keys, so that each key holds a queue of them.
func eachSharedKeyEvent(n, keys int, enqueue func(outbox.Event) error) error {
	for i := range n {
		ev, err := benchEvent(i)
		if err != nil {
			return err
		}
		ev.OrderingKey = fmt.Sprintf("key-%d", i%keys)
		if err := enqueue(ev); err != nil {
			return err
		}
	}
	return nil
}

// TestSaveWhatIfsApply checks that every what-if of -diagnose whatif still
// applies to the migrated schema and leaves a save that works, and that
// the function still has what the what-ifs take away: a renamed index or
// a changed migration fails here rather than mislabels a diagnosis.
func TestSaveWhatIfsApply(t *testing.T) {
	ctx, b := newTestBench(t)
	dbURL, done, err := b.srv.fresh(ctx, "whatif_schema", "")
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	store, _, err := openMetricsPG(ctx, dbURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	var definer bool
	var config []string
	err = store.Pool().QueryRow(ctx, "SELECT prosecdef, coalesce(proconfig, '{}') FROM pg_proc WHERE proname = 'outbox_enqueue'").Scan(&definer, &config)
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !definer || len(config) != 1 || !strings.HasPrefix(config[0], "search_path=") {
		t.Errorf("outbox_enqueue is SECURITY DEFINER %v with settings %q; the what-ifs take away SECURITY DEFINER and one search_path setting", definer, config)
	}
	for _, v := range saveWhatIfs {
		res, err := b.saveGenerated(ctx, "whatif", v.sql)
		if err != nil {
			t.Errorf("%s: %v", v.label, err)
			continue
		}
		if res.Done == 0 {
			t.Errorf("%s: no save completed", v.label)
		}
	}
}
