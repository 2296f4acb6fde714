package inbox_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Each entity keeps its highest applied version: a change above it is
// applied, one at or below it (an operator retried an old event) is
// acknowledged with the entity's backend id and not applied, and a
// deletion leaves a tombstone that older versions cannot resurrect.
func TestVersionOrder(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		h := w.handler()
		id := uuid.New()
		steps := []struct {
			name    string
			ev      event
			status  int
			applied bool
		}{
			{"v2 first: it creates the entity here", newEvent("note.updated", note(id, "ada", 2, "two")), http.StatusCreated, true},
			{"v1, late", newEvent("note.created", note(id, "ada", 1, "one")), http.StatusOK, false},
			{"v3", newEvent("note.updated", note(id, "ada", 3, "three")), http.StatusOK, true},
			{"v3 again, another event", newEvent("note.updated", note(id, "ada", 3, "three bis")), http.StatusOK, false},
			{"deleted at v4", newEvent("note.deleted", deleted(id, "ada", 4)), http.StatusOK, true},
			{"v3 after the tombstone", newEvent("note.updated", note(id, "ada", 3, "resurrect")), http.StatusOK, false},
			{"deleted again at v4", newEvent("note.deleted", deleted(id, "ada", 4)), http.StatusOK, false},
		}
		var backendID string
		for _, s := range steps {
			a := send(h, s.ev)
			if a.status != s.status {
				t.Fatalf("%s: %d %s, want %d", s.name, a.status, a.body, s.status)
			}
			got, applied := a.receipt(t)
			if backendID == "" {
				backendID = got
			}
			if got != backendID || applied != s.applied {
				t.Fatalf("%s: id %s applied %v, want id %s applied %v", s.name, got, applied, backendID, s.applied)
			}
		}
		var kinds []string
		for _, r := range w.applied(id) {
			kinds = append(kinds, fmt.Sprintf("%s v%d %s", r.Kind, r.Version, r.Text))
		}
		if want := []string{"updated v2 two", "updated v3 three", "deleted v4 "}; fmt.Sprint(kinds) != fmt.Sprint(want) {
			t.Fatalf("applied %v, want %v", kinds, want)
		}

		// A tombstone for an entity never seen keeps out its older versions too.
		gone := uuid.New()
		if a := send(h, newEvent("note.deleted", deleted(gone, "ada", 2))); a.status != http.StatusOK {
			t.Fatalf("a deletion first: %d %s", a.status, a.body)
		}
		if a := send(h, newEvent("note.created", note(gone, "ada", 1, "late"))); a.status != http.StatusOK {
			t.Fatalf("its creation after: %d %s", a.status, a.body)
		} else if _, applied := a.receipt(t); applied {
			t.Fatal("a creation older than the tombstone was applied")
		}
	})
}

// A created change that creates the entity at the receiver is 201; the
// change and its key record commit together, so a change the application
// fails to apply leaves no key: its repeat is applied afresh.
func TestFailedApplicationLeavesNoRecord(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		h := w.handler()
		id := uuid.New()
		ev := newEvent("note.created", note(id, "ada", 1, "fail"))
		if a := send(h, ev); a.status != http.StatusInternalServerError || a.problemType(t) != "failed" {
			t.Fatalf("a failing application: %d %s, want 500 failed", a.status, a.body)
		}
		refused := newEvent("note.created", note(id, "ada", 1, "refuse"))
		if a := send(h, refused); a.status != http.StatusUnprocessableEntity || a.body == "" {
			t.Fatalf("a refusing application: %d %s, want its 422", a.status, a.body)
		}
		if keys, entities := w.count(`SELECT count(*) FROM inbox_keys`), w.count(`SELECT count(*) FROM inbox_entities`); keys+entities != 0 {
			t.Fatalf("%d keys and %d entities stored, want none", keys, entities)
		}
		ok := newEvent("note.created", note(id, "ada", 1, "fine"))
		if a := send(h, ok); a.status != http.StatusCreated {
			t.Fatalf("then a good change: %d %s", a.status, a.body)
		}
	})
}

// An entity belongs to the user of its first change: a change of it for
// another user is refused, whatever its version, and changes nothing.
func TestEntityKeepsItsUser(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		h := w.handler()
		id := uuid.New()
		if a := send(h, newEvent("note.created", note(id, "ada", 1, "mine"))); a.status != http.StatusCreated {
			t.Fatalf("create: %d %s", a.status, a.body)
		}
		theft := newEvent("note.updated", note(id, "mallory", 2, "yours"))
		if a := send(h, theft); a.status != http.StatusForbidden || a.problemType(t) != "forbidden" {
			t.Fatalf("another user's change: %d %s, want 403", a.status, a.body)
		}
		if got := w.applied(id); len(got) != 1 {
			t.Fatalf("applied %+v, want the first change only", got)
		}
		if a := send(h, newEvent("note.updated", note(id, "ada", 2, "still mine"))); a.status != http.StatusOK {
			t.Fatalf("the owner's next version: %d %s", a.status, a.body)
		}
	})
}

// Thousands of entities, received concurrently in batches, each get a
// backend id of their own, and every change of an entity answers with
// that entity's id.
func TestBackendIDsIdentifyEntities(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		h := w.handler()
		const writers, perWriter, batch = 4, 1000, 250
		ids := make([][]string, writers)
		entities := make([][]uuid.UUID, writers)
		var wg sync.WaitGroup
		for g := range writers {
			wg.Go(func() {
				for start := 0; start < perWriter; start += batch {
					var evs []event
					for range batch {
						id := uuid.Must(uuid.NewV7()) // time-ordered, like the sender's: a shared prefix must not matter
						entities[g] = append(entities[g], id)
						evs = append(evs, newEvent("note.created", note(id, "ada", 1, "x")))
					}
					for _, r := range sendBatch(t, h, evs...) {
						if r.Status != http.StatusCreated || r.RemoteID == "" {
							t.Errorf("batch result %+v", r)
							return
						}
						ids[g] = append(ids[g], r.RemoteID)
					}
				}
			})
		}
		wg.Wait()
		seen := map[string]uuid.UUID{}
		for g := range writers {
			for i, id := range ids[g] {
				if prev, dup := seen[id]; dup {
					t.Fatalf("backend id %s given to %s and %s", id, prev, entities[g][i])
				}
				seen[id] = entities[g][i]
			}
		}
		if len(seen) != writers*perWriter {
			t.Fatalf("%d distinct backend ids for %d entities", len(seen), writers*perWriter)
		}
		// Later changes of an entity carry its id.
		for g := range writers {
			for i := 0; i < perWriter; i += 97 {
				a := send(h, newEvent("note.updated", note(entities[g][i], "ada", 2, "y")))
				if got, _ := a.receipt(t); got != ids[g][i] {
					t.Fatalf("update of %s answered id %s, want %s", entities[g][i], got, ids[g][i])
				}
			}
		}
	})
}

// Two receivers on one database, each sent every event of the same changes
// concurrently (a sender retrying against a round-robin proxy), apply each
// change exactly once, in version order; every answer is a success or a
// 409 to try again.
func TestTwoReceiversApplyOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		receivers := []http.Handler{w.handler(), w.handler()}
		const entities, versions = 40, 5
		var wg sync.WaitGroup
		ids := make([]uuid.UUID, entities)
		for e := range entities {
			ids[e] = uuid.New()
			evs := make([]event, versions)
			for v := range versions {
				evs[v] = newEvent("note.updated", note(ids[e], "ada", int64(v+1), fmt.Sprint("v", v+1)))
			}
			for _, r := range receivers {
				wg.Go(func() {
					for _, ev := range evs {
						for {
							a := send(r, ev)
							if a.status == http.StatusConflict {
								continue // in progress at the other receiver: the sender tries again
							}
							if a.status/100 != 2 {
								t.Errorf("%d %s", a.status, a.body)
							}
							break
						}
					}
				})
			}
		}
		wg.Wait()
		for _, id := range ids {
			got := w.applied(id)
			if len(got) != versions {
				t.Fatalf("entity %s: %d changes applied, want %d: %+v", id, len(got), versions, got)
			}
			for i, r := range got {
				if r.Version != int64(i+1) {
					t.Fatalf("entity %s: applied out of order: %+v", id, got)
				}
			}
		}
	})
}

// Keys are purged after their retention; a redelivery after that is not
// applied again: the entity's version stops it, and it is acknowledged
// with the same backend id.
func TestPurgedKeysStillApplyOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		h := w.handler()
		id := uuid.New()
		ev := newEvent("note.created", note(id, "ada", 1, "hello"))
		first := send(h, ev)
		backendID, _ := first.receipt(t)
		if n, err := w.purge(time.Hour); err != nil || n != 0 {
			t.Fatalf("purge within the retention: %d, %v; want 0", n, err)
		}
		if n, err := w.purge(time.Microsecond); err != nil || n != 1 {
			t.Fatalf("purge past the retention: %d, %v; want 1", n, err)
		}
		a := send(h, ev)
		if got, applied := a.receipt(t); a.status != http.StatusOK || got != backendID || applied {
			t.Fatalf("redelivery after the purge: %d %s, want 200 with %s, not applied", a.status, a.body, backendID)
		}
		if got := w.applied(id); len(got) != 1 {
			t.Fatalf("applied %d times, want once", len(got))
		}
	})
}
