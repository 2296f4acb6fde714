package inbox_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/outboxgen/outboxgen/runtime/inbox"
)

// Each event of a batch gets the answer it would get alone; an event whose
// application fails fails alone, and the others are applied once.
func TestBatchAnswersEachEvent(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		h := w.handler()
		a, b, c := uuid.New(), uuid.New(), uuid.New()
		evs := []event{
			newEvent("note.created", note(a, "ada", 1, "a1")),
			newEvent("note.updated", note(a, "ada", 2, "a2")), // the same entity, next version
			newEvent("note.updated", note(b, "ada", 2, "b2")),
			newEvent("note.created", note(b, "ada", 1, "b1")), // older than b2: stale
			newEvent("note.created", note(c, "ada", 1, "fail")),
			newEvent("note.created", note(uuid.New(), "ada", 1, strings.Repeat("x", 30))),
			newEvent("mood.created", note(uuid.New(), "ada", 1, "x")),
			{key: "not-a-uuid", typ: "note.created", payload: note(uuid.New(), "ada", 1, "x")},
		}
		evs = append(evs, evs[0]) // the same key twice in one batch
		want := []struct {
			status  int
			problem string
		}{{201, ""}, {200, ""}, {201, ""}, {200, ""}, {500, "failed"}, {422, "invalid-payload"}, {400, "wrong-event-type"}, {400, "invalid-key"}, {409, "in-progress"}}
		// The second round repeats every key: the same answers, replayed.
		for round := range 2 {
			res := sendBatch(t, h, evs...)
			for i, r := range res {
				if r.Status != want[i].status || strings.TrimPrefix(r.Type, inbox.ProblemBase) != want[i].problem {
					t.Errorf("round %d, event %d: %+v, want %d %s", round, i, r, want[i].status, want[i].problem)
				}
				if r.Status < 300 && (r.RemoteID == "" || r.Applied == nil || r.Replayed != (round == 1)) {
					t.Errorf("round %d, event %d: %+v, want a receipt, replayed on the second round", round, i, r)
				}
			}
			if res[0].RemoteID != res[1].RemoteID || res[2].RemoteID != res[3].RemoteID || res[0].RemoteID == res[2].RemoteID {
				t.Errorf("round %d: remote ids %s %s %s %s, want one per entity", round, res[0].RemoteID, res[1].RemoteID, res[2].RemoteID, res[3].RemoteID)
			}
		}
		for id, want := range map[uuid.UUID]string{a: "[a1 a2]", b: "[b2]", c: "[]"} {
			var texts []string
			for _, r := range w.applied(id) {
				texts = append(texts, r.Text)
			}
			if fmt.Sprint(texts) != want {
				t.Errorf("entity %s: applied %v, want %s", id, texts, want)
			}
		}
	})
}

// A batch larger than one transaction takes is applied whole.
func TestBatchAcrossTransactions(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		h := w.handler()
		var evs []event
		for range 150 {
			evs = append(evs, newEvent("note.created", note(uuid.New(), "ada", 1, "x")))
		}
		for i, r := range sendBatch(t, h, evs...) {
			if r.Status != http.StatusCreated {
				t.Fatalf("event %d: %+v", i, r)
			}
		}
		if n := w.count(`SELECT count(*) FROM applied`); n != 150 {
			t.Fatalf("%d applied, want 150", n)
		}
	})
}

// What concerns a batch as a whole is answered for the whole.
func TestBatchRefusedWhole(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		h := w.handler()
		many := `{"events":[` + strings.Repeat(`{},`, 1000) + `{}]}`
		for _, c := range []struct {
			name, body string
			status     int
			problem    string
		}{
			{"not JSON", `{"events":`, 400, "not-a-batch"},
			{"a single event", note(uuid.New(), "ada", 1, "x"), 400, "not-a-batch"},
			{"too many events", many, 413, "too-large"},
		} {
			a := post(h, "/v1/batch", "", "", c.body)
			if a.status != c.status || a.problemType(t) != c.problem {
				t.Errorf("%s: %d %s, want %d %s", c.name, a.status, a.body, c.status, c.problem)
			}
		}
		if a := post(h, "/v1/batch", "", "", `{"events":[]}`); a.status != http.StatusOK || strings.TrimSpace(a.body) != `{"results":[]}` {
			t.Errorf("an empty batch: %d %s", a.status, a.body)
		}
	})
}
