package metrics_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outboxgen/outboxgen/examples/fitness/metrics"
	"github.com/outboxgen/outboxgen/internal/pgtest"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
)

var metricTables = []string{"metric_steps", "metric_heart_rate", "metric_weight", "metric_height", "metric_mood", "metric_body_fat", "metric_sleep", "metric_water_intake"}

// The grants in docs/postgres-roles.sql let each role do its whole job, and
// nothing in SECURITY.md's "Cannot" column: each forbidden act is tried as
// that role and must be refused.
func TestLeastPrivilegeRoles(t *testing.T) {
	ctx := t.Context()
	dbURL := pgtest.NewDatabase(t)
	owner := outboxtest.NewPostgresStore(t, dbURL)
	if err := metrics.NewPostgres(owner).Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	suffix := randomSuffix()
	app, proc, operator := "outbox_app_"+suffix, "outbox_processor_"+suffix, "outbox_operator_"+suffix
	grants, err := os.ReadFile("../../../docs/postgres-roles.sql")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string) {
		t.Helper()
		if _, err := owner.Pool().Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, role := range []string{app, proc, operator} {
		exec("CREATE ROLE " + role + " LOGIN")
		t.Cleanup(func() {
			bg := context.Background()
			_, _ = owner.Pool().Exec(bg, "DROP OWNED BY "+role)
			_, _ = owner.Pool().Exec(bg, "DROP ROLE "+role)
		})
	}
	for _, stmt := range strings.Split(stripComments(string(grants)), ";") {
		if stmt = strings.TrimSpace(stmt); stmt == "" {
			continue
		}
		stmt = strings.NewReplacer("outboxgen_app", app, "outboxgen_processor", proc, "outboxgen_operator", operator).Replace(stmt)
		if !strings.Contains(stmt, "metric_weight") {
			exec(stmt)
			continue
		}
		for _, table := range metricTables {
			exec(strings.ReplaceAll(stmt, "metric_weight", table))
		}
	}

	// The application saves, edits and deletes entries, with their events.
	appStore := openAs(t, dbURL, app)
	m := metrics.NewPostgres(appStore, metrics.WithClock(func() time.Time { return day }))
	w, err := m.Weight.Save(ctx, metrics.WeightInput{UserID: "ada", RecordedAt: day, Kg: 70})
	if err != nil {
		t.Fatalf("the app role cannot save: %v", err)
	}
	if _, err := m.Weight.Save(ctx, metrics.WeightInput{UserID: "ada", RecordedAt: day, Kg: 71}); err != nil {
		t.Fatalf("the app role cannot update: %v", err)
	}
	mood, err := m.Mood.Save(ctx, metrics.MoodInput{UserID: "ada", RecordedAt: day, Score: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Mood.Delete(ctx, mood.ID); err != nil {
		t.Fatalf("the app role cannot delete: %v", err)
	}
	appPool := appStore.Pool()
	for _, q := range []string{
		"SELECT count(*) FROM outbox_events",
		"SELECT payload FROM outbox_events",
		"DELETE FROM outbox_events",
		"UPDATE outbox_events SET status = 'completed'",
		"UPDATE outbox_keys SET unfinished = 0",
		"DELETE FROM outbox_keys",
		"INSERT INTO outbox_keys (ordering_key, unfinished) VALUES ('weight/x', 5)",
		// A forged event: completed, top priority, leased until 2099.
		`INSERT INTO outbox_events (id, event_type, aggregate, aggregate_id, user_id, ordering_key, is_new_record, entity_version,
			payload, priority, status, is_head, attempts, max_attempts, run_at, lease_until, created_at, updated_at)
		 VALUES (gen_random_uuid(), 'weight.created', 'weight', 'x', 'ada', 'weight/x', true, 1, '{}', 10, 'completed', true, 0, 5, now(),
			'2099-01-01', now(), now())`,
		"SELECT * FROM outbox_processors",
		"INSERT INTO outbox_processors (owner, host, pid, version, config, started_at, seen_at, expires_at) VALUES ('x', 'x', 1, 'x', 'x', now(), now(), now())",
	} {
		denied(t, appPool, q)
	}
	if _, err := appStore.Claim(ctx, "app", 10, time.Minute); err == nil {
		t.Fatal("the app role can claim events")
	}
	// Through its one door it cannot bend the rules either.
	call := `SELECT outbox_enqueue(gen_random_uuid(), 'audit.created', 'audit', 'y', 'ada', 'audit/y', true, 1, '{}', NULL, $1, $2, NULL, NULL)`
	for _, args := range [][2]int{{11, 5}, {0, 5}, {5, 0}} {
		var pgErr *pgconn.PgError
		if _, err := appPool.Exec(ctx, call, args[0], args[1]); !errors.As(err, &pgErr) || pgErr.Code != "22023" {
			t.Errorf("outbox_enqueue with priority %d, max attempts %d: %v, want refused", args[0], args[1], err)
		}
	}
	// A table of its own named like the outbox's, in its temporary schema,
	// is not what the function writes to.
	conn, err := appPool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TEMP TABLE outbox_keys (ordering_key text PRIMARY KEY, unfinished integer)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, call, 5, 5); err != nil {
		t.Fatalf("enqueue beside a temporary outbox_keys: %v", err)
	}
	var shadowed int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_temp.outbox_keys").Scan(&shadowed); err != nil || shadowed != 0 {
		t.Fatalf("the function wrote %d rows to the app's temporary table (%v)", shadowed, err)
	}
	conn.Release()

	// The processor records every kind of outcome: releases (dated, in
	// progress, unsent), a counted failure, a kill, an expired lease.
	procStore := openAs(t, dbURL, proc)
	metrics.RegisterPostgres(procStore)
	fail := errors.New("injected")
	record := func(kinds ...func(*outbox.Event) outbox.Outcome) {
		t.Helper()
		claimed, err := procStore.Claim(ctx, "proc", len(kinds), time.Minute)
		if err != nil || len(claimed) != len(kinds) {
			t.Fatalf("the processor role claimed %d events, want %d: %v", len(claimed), len(kinds), err)
		}
		outs := make([]outbox.Outcome, len(kinds))
		for i, kind := range kinds {
			outs[i] = kind(claimed[i])
		}
		if res, err := procStore.Finish(ctx, outs); err != nil || len(res.Recorded) != len(outs) {
			t.Fatalf("the processor role recorded %d of %d outcomes: %v", len(res.Recorded), len(outs), err)
		}
	}
	release := func(class outbox.Class, reached bool) func(*outbox.Event) outbox.Outcome {
		return func(ev *outbox.Event) outbox.Outcome {
			return outbox.Outcome{Event: ev, Kind: outbox.Release, Class: class, Reached: reached, Error: fail.Error()}
		}
	}
	outcome := func(kind outbox.OutcomeKind, class outbox.Class) func(*outbox.Event) outbox.Outcome {
		return func(ev *outbox.Event) outbox.Outcome {
			return outbox.Outcome{Event: ev, Kind: kind, Class: class, Error: fail.Error()}
		}
	}
	record(release(outbox.Transient, true), release(outbox.InProgress, true), outcome(outbox.Retry, outbox.Transient))
	record(outcome(outbox.Dead, outbox.Permanent), release(outbox.Unavailable, false), release(outbox.Unanswered, true))
	if claimed, err := procStore.Claim(ctx, "proc", 1, time.Nanosecond); err != nil || len(claimed) != 1 {
		t.Fatalf("the processor role claimed %d events: %v", len(claimed), err)
	}
	if n, err := procStore.ReclaimExpired(ctx); err != nil || n != 1 {
		t.Fatalf("the processor role reclaimed %d expired leases: %v", n, err)
	}

	// It delivers the events, reading their payloads, and marks the entries
	// synced; the dead one made way for its entity's next event.
	st := outboxtest.Drain(t, procStore, &outboxtest.Sender{}, 0)
	if st.Counts[outbox.StatusCompleted] != 4 || st.Counts[outbox.StatusDead] != 1 {
		t.Fatalf("the processor role delivered %v", st.Counts)
	}
	if got, err := m.Weight.Get(ctx, w.ID); err != nil || got.SyncStatus != metrics.SyncSynced {
		t.Fatalf("the processor role did not mark the entry synced: %+v, %v", got, err)
	}
	procPool := procStore.Pool()
	if _, err := procPool.Exec(ctx, "SELECT payload FROM outbox_events"); err != nil {
		t.Fatalf("the processor role cannot read payloads, which it delivers: %v", err)
	}
	for _, q := range []string{
		"UPDATE metric_weight SET kg = 1",
		"SELECT kg FROM metric_weight",
		"INSERT INTO outbox_events (id) VALUES (gen_random_uuid())",
		"UPDATE outbox_events SET payload = '{}'",
		"UPDATE outbox_events SET event_type = 'mood.created'",
		"INSERT INTO outbox_keys (ordering_key, unfinished) VALUES ('weight/x', 5)",
		strings.Replace(call, "$1, $2", "5, 5", 1),
	} {
		denied(t, procPool, q)
	}

	// The operator sees the outbox and repairs it.
	opStore := openAs(t, dbURL, operator)
	if _, err := opStore.Stats(ctx); err != nil {
		t.Fatalf("the operator role cannot read the status: %v", err)
	}
	if _, err := opStore.Processors(ctx); err != nil {
		t.Fatalf("the operator role cannot list processors: %v", err)
	}
	if _, err := opStore.Pool().Exec(ctx, "SELECT sync_status, count(*) FROM metric_weight WHERE deleted_at IS NULL GROUP BY sync_status"); err != nil {
		t.Fatalf("the operator role cannot count entries by sync status (status --metric): %v", err)
	}
	evs, err := opStore.List(ctx, outbox.Filter{Limit: 10})
	if err != nil || len(evs) == 0 {
		t.Fatalf("the operator role cannot list events: %d, %v", len(evs), err)
	}
	if _, err := opStore.Get(ctx, evs[0].ID); err != nil {
		t.Fatal(err)
	}
	failing := owner.Pool() // a dead event to repair, made by the owner
	if _, err := failing.Exec(ctx, "UPDATE outbox_events SET status = 'dead', is_head = false WHERE id = $1", evs[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := opStore.Retry(ctx, evs[0].ID); err != nil {
		t.Fatalf("the operator role cannot retry: %v", err)
	}
	if err := opStore.Discard(ctx, evs[0].ID); err != nil {
		t.Fatalf("the operator role cannot discard: %v", err)
	}
	if _, err := opStore.PurgeCompleted(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("the operator role cannot purge: %v", err)
	}
	opPool := opStore.Pool()
	for _, q := range []string{
		"SELECT kg FROM metric_weight",
		"UPDATE metric_weight SET sync_status = 'synced'",
		"INSERT INTO outbox_events (id) VALUES (gen_random_uuid())",
		"UPDATE outbox_events SET payload = '{}'",
		"UPDATE outbox_events SET lease_until = '2099-01-01'",
		"INSERT INTO outbox_processors (owner, host, pid, version, config, started_at, seen_at, expires_at) VALUES ('x', 'x', 1, 'x', 'x', now(), now(), now())",
		strings.Replace(call, "$1, $2", "5, 5", 1),
	} {
		denied(t, opPool, q)
	}
}

// openAs opens the store as another role, without migrating: these roles
// may not change the schema.
func openAs(t *testing.T, dbURL, role string) *pgstore.Store {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	s, err := pgstore.Open(t.Context(), u.String(), 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// denied checks that the role behind pool may not run q.
func denied(t *testing.T, pool *pgxpool.Pool, q string) {
	t.Helper()
	_, err := pool.Exec(t.Context(), q)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("%s: %v, want permission denied", q, err)
	}
}

func stripComments(stmt string) string {
	var lines []string
	for _, l := range strings.Split(stmt, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "--") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, " ")
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
