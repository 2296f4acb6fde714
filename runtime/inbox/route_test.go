package inbox_test

import (
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/outboxgen/outboxgen/runtime/inbox"
	"github.com/outboxgen/outboxgen/runtime/inbox/sqliteinbox"
)

// Metrics may share a route: the event type says which one a change is
// for. A route with braces is served as the sender posts it.
func TestSharedRoutes(t *testing.T) {
	store, err := sqliteinbox.Open(t.Context(), filepath.Join(t.TempDir(), "inbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[uuid.UUID]string{} // entity → the metric that applied it
	metric := func(name, route string) inbox.Metric[*sql.Tx] {
		return inbox.Metric[*sql.Tx]{
			Name: name, Route: route, Created: name + ".created", Updated: name + ".updated", Deleted: name + ".deleted",
			Decode: decodeNote,
			Apply: func(_ context.Context, _ *sql.Tx, c inbox.Change, _ any) error {
				mu.Lock()
				defer mu.Unlock()
				got[c.EntityID] = c.Metric
				return nil
			},
		}
	}
	h, err := inbox.New(store, inbox.Contract[*sql.Tx]{
		BatchRoute: "/v1/batch",
		Metrics:    []inbox.Metric[*sql.Tx]{metric("glucose", "/v1/readings"), metric("ketones", "/v1/readings"), metric("note", "/v1/{user}/notes")},
	}, inbox.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	glucose, ketones, note := uuid.New(), uuid.New(), uuid.New()
	for _, c := range []struct {
		path, typ string
		id        uuid.UUID
		want      int
	}{
		{"/v1/readings", "glucose.created", glucose, http.StatusCreated},
		{"/v1/readings", "ketones.created", ketones, http.StatusCreated},
		{"/v1/readings", "note.created", uuid.New(), http.StatusBadRequest},
		{"/v1/%7Buser%7D/notes", "note.created", note, http.StatusCreated},
	} {
		if a := post(h, c.path, uuid.NewString(), c.typ, noteOf(c.id)); a.status != c.want {
			t.Errorf("%s to %s: %d %s, want %d", c.typ, c.path, a.status, a.body, c.want)
		}
	}
	if got[glucose] != "glucose" || got[ketones] != "ketones" || got[note] != "note" {
		t.Fatalf("applied by %v", got)
	}
}

func noteOf(id uuid.UUID) string { return note(id, "ada", 1, "x") }
