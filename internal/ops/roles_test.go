package ops

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/outboxgen/outboxgen/internal/cli"
	"github.com/outboxgen/outboxgen/internal/pgtest"
	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
)

// The ops verbs do their jobs with the grants of docs/postgres-roles.sql:
// run as the processor role, the rest as the operator role.
func TestVerbsUnderLeastPrivilegeRoles(t *testing.T) {
	ctx := t.Context()
	dbURL := pgtest.NewDatabase(t)
	if code, out, errOut := runCLI(t, "migrate", "--database-url", dbURL, "--catalog", testCatalog); code != cli.ExitOK {
		t.Fatal(out, errOut)
	}
	owner, err := pgstore.Open(ctx, dbURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	roles := applyRoles(t, owner)

	evs := outboxtest.EnqueuePostgres(t, owner,
		outbox.Event{Type: "weight.created", Aggregate: "weight", AggregateID: uuid.NewString(), UserID: "ada", Payload: []byte(`{}`)},
		outbox.Event{Type: "weight.created", Aggregate: "weight", AggregateID: uuid.NewString(), UserID: "ada", Payload: []byte(`{}`)},
		outbox.Event{Type: "weight.created", Aggregate: "weight", AggregateID: uuid.NewString(), UserID: "bob", Payload: []byte(`{}`)},
		outbox.Event{Type: "weight.created", Aggregate: "weight", AggregateID: uuid.NewString(), UserID: "carol", Payload: []byte(`{}`)},
	)
	// Two of them have died; the processor delivers the others.
	if _, err := owner.Pool().Exec(ctx, "UPDATE outbox_events SET status = 'dead', is_head = false WHERE id = ANY($1)", []uuid.UUID{evs[0].ID, evs[3].ID}); err != nil {
		t.Fatal(err)
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) }))
	defer backend.Close()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() {
		e := &env{Ctx: runCtx, Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Stdin: eofReader{}, Now: time.Now}
		done <- testProgram().Run(e, []string{"run", "--catalog", testCatalog, "--backend", backend.URL, "--poll", "100ms", "--database-url", as(t, dbURL, roles.processor)})
	}()
	waitFor(t, "the processor role to deliver", func() bool {
		st, err := owner.Stats(ctx)
		return err == nil && st.Counts[outbox.StatusCompleted] == 2
	})
	cancel()
	if code := <-done; code != cli.ExitOK {
		t.Fatalf("run as the processor role exited %d", code)
	}

	op := as(t, dbURL, roles.operator)
	for _, args := range [][]string{
		{"status", "--database-url", op, "--metric", "--catalog", testCatalog},
		{"processors", "--database-url", op},
		{"pause", "--type", "weight.created", "--reason", "route broken", "--by", "ada", "--database-url", op},
		{"resume", "--type", "weight.created", "--database-url", op},
		{"pause", "--reason", "maintenance", "--by", "ada", "--database-url", op},
		{"resume", "--database-url", op},
		{"list", "--database-url", op, "--status", "dead"},
		{"show", evs[0].ID.String(), "--payload", "--database-url", op},
		{"retry", evs[0].ID.String(), "--database-url", op},
		{"discard", evs[0].ID.String(), "--yes", "--database-url", op},
		{"retry", "--all-dead", "--database-url", op},
		{"discard", "--user", "carol", "--yes", "--database-url", op},
		{"purge", "--completed-before", "0s", "--yes", "--database-url", op},
	} {
		if code, out, errOut := runCLI(t, args...); code != cli.ExitOK {
			t.Errorf("%s as the operator role: exit %d\n%s%s", args[0], code, out, errOut)
		}
	}
	st, err := owner.Stats(ctx)
	if err != nil || st.Counts[outbox.StatusCompleted] != 0 || st.Counts[outbox.StatusDead] != 0 || outboxtest.Unfinished(st) != 0 {
		t.Fatalf("after the operator's repairs: %v, %v; want nothing left", st.Counts, err)
	}
}

// roleNames are the roles of one test, named apart from other tests'.
type roleNames struct{ app, processor, operator string }

// applyRoles creates the three roles and gives them the grants of
// docs/postgres-roles.sql, for the test catalog's one metric table.
func applyRoles(t *testing.T, owner *pgstore.Store) roleNames {
	t.Helper()
	suffix := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	r := roleNames{"ops_app_" + suffix, "ops_processor_" + suffix, "ops_operator_" + suffix}
	grants, err := os.ReadFile("../../docs/postgres-roles.sql")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string) {
		t.Helper()
		if _, err := owner.Pool().Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, role := range []string{r.app, r.processor, r.operator} {
		exec("CREATE ROLE " + role + " LOGIN")
		t.Cleanup(func() {
			bg := context.Background()
			_, _ = owner.Pool().Exec(bg, "DROP OWNED BY "+role)
			_, _ = owner.Pool().Exec(bg, "DROP ROLE "+role)
		})
	}
	var lines []string
	for _, l := range strings.Split(string(grants), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "--") {
			lines = append(lines, l)
		}
	}
	for _, stmt := range strings.Split(strings.Join(lines, " "), ";") {
		if stmt = strings.TrimSpace(stmt); stmt != "" {
			exec(strings.NewReplacer("outboxgen_app", r.app, "outboxgen_processor", r.processor, "outboxgen_operator", r.operator).Replace(stmt))
		}
	}
	return r
}

// as is dbURL with role as its user.
func as(t *testing.T, dbURL, role string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	return u.String()
}
