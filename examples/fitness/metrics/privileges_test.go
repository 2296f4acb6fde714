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

// The grants in docs/postgres-roles.sql are enough for the app and the
// processor to do their jobs, and no more.
func TestLeastPrivilegeRoles(t *testing.T) {
	ctx := t.Context()
	dbURL := pgtest.NewDatabase(t)
	owner := outboxtest.NewPostgresStore(t, dbURL)
	if err := metrics.NewPostgres(owner).Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	suffix := randomSuffix()
	app, proc := "outbox_app_"+suffix, "outbox_processor_"+suffix
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
	for _, role := range []string{app, proc} {
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
		stmt = strings.NewReplacer("outbox_app", app, "outbox_processor", proc).Replace(stmt)
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
	denied(t, appStore.Pool(), "SELECT count(*) FROM outbox_events")
	denied(t, appStore.Pool(), "DELETE FROM outbox_events")
	if _, err := appStore.Claim(ctx, "app", 10, time.Minute); err == nil {
		t.Fatal("the app role can claim events")
	}

	// The processor delivers them and marks the entries synced.
	procStore := openAs(t, dbURL, proc)
	metrics.RegisterPostgres(procStore)
	st := outboxtest.Drain(t, procStore, &outboxtest.Sender{}, 0)
	if st.Counts[outbox.StatusCompleted] != 4 {
		t.Fatalf("the processor role delivered %v", st.Counts)
	}
	if got, err := m.Weight.Get(ctx, w.ID); err != nil || got.SyncStatus != metrics.SyncSynced {
		t.Fatalf("the processor role did not mark the entry synced: %+v, %v", got, err)
	}
	denied(t, procStore.Pool(), "UPDATE metric_weight SET kg = 1")
	denied(t, procStore.Pool(), "SELECT kg FROM metric_weight")
	denied(t, procStore.Pool(), "INSERT INTO outbox_events (id) VALUES (gen_random_uuid())")
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
