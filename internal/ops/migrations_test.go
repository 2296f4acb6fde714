package ops

import (
	"os"
	"testing"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// migrate learns the outbox's migrations from the SQLite store (see
// known); it reports them for PostgreSQL too, so both stores must have the
// same versions and names.
func TestStoresKnowTheSameMigrations(t *testing.T) {
	sqlite, err := outbox.LoadMigrations(os.DirFS("../../runtime/sqlitestore"), "migrations")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := outbox.LoadMigrations(os.DirFS("../../runtime/pgstore"), "migrations")
	if err != nil {
		t.Fatal(err)
	}
	got, err := known()
	if err != nil {
		t.Fatal(err)
	}
	if len(sqlite) != len(pg) || len(got) != len(sqlite) {
		t.Fatalf("sqlite has %d migrations, postgres %d, known() %d", len(sqlite), len(pg), len(got))
	}
	for i := range sqlite {
		if sqlite[i].Version != pg[i].Version || sqlite[i].Name != pg[i].Name || got[i] != (migration{sqlite[i].Version, sqlite[i].Name}) {
			t.Errorf("migration %d: sqlite %04d_%s, postgres %04d_%s, known %s", i, sqlite[i].Version, sqlite[i].Name, pg[i].Version, pg[i].Name, got[i])
		}
	}
}
