package inbox_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
)

// The IETF Idempotency-Key draft, as Stripe follows it: the first request
// with a key is processed; a repeat with the same body gets the stored
// original answer (same status, same backend id) and changes nothing; the
// same key with another body is 422.
func TestRepeatGetsTheOriginalAnswer(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		h := w.handler()
		id := uuid.New()
		created := newEvent("note.created", note(id, "ada", 1, "hello"))

		first := send(h, created)
		if first.status != http.StatusCreated {
			t.Fatalf("first delivery: %d %s", first.status, first.body)
		}
		backendID, applied := first.receipt(t)
		if !applied || first.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("first delivery: %s, replayed %q", first.body, first.header.Get("Idempotent-Replayed"))
		}
		for range 2 {
			again := send(h, created)
			if again.status != first.status || again.body != first.body || again.header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("repeat: %d %s (replayed %q), want the original %d %s", again.status, again.body, again.header.Get("Idempotent-Replayed"), first.status, first.body)
			}
		}
		// A repeat in a batch is the same repeat.
		res := sendBatch(t, h, created)
		if res[0].Status != http.StatusCreated || res[0].RemoteID != backendID || !res[0].Replayed {
			t.Fatalf("repeat in a batch: %+v, want 201 with %s, replayed", res[0], backendID)
		}

		reused := created
		reused.payload = note(id, "ada", 1, "hullo")
		if a := send(h, reused); a.status != http.StatusUnprocessableEntity || a.problemType(t) != "key-reused" {
			t.Fatalf("the key with another body: %d %s, want 422 key-reused", a.status, a.body)
		}
		reused = created
		reused.typ = "note.updated"
		if a := send(h, reused); a.status != http.StatusUnprocessableEntity || a.problemType(t) != "key-reused" {
			t.Fatalf("the key with another event type: %d %s, want 422 key-reused", a.status, a.body)
		}
		if got := w.applied(id); len(got) != 1 || got[0].Version != 1 || got[0].BackendID != backendID || !got[0].First {
			t.Fatalf("applied %+v, want the first delivery once, with its backend id", got)
		}
		if replays := w.count(`SELECT replays FROM inbox_keys WHERE key = ?`, created.key); replays != 3 {
			t.Fatalf("replays %d, want 3", replays)
		}
	})
}

// A repeat that arrives while the first request with its key is still
// being processed is answered 409 with a Retry-After, by the same receiver
// and, on PostgreSQL, by another sharing its database; once the first
// completes, the repeat gets its answer.
func TestRepeatWhileInProgressIsConflict(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		h, other := w.handler(), w.handler()
		receivers := map[string]http.Handler{"same receiver": h}
		if w.shared {
			receivers["another receiver"] = other
		}
		ev := newEvent("note.created", note(uuid.New(), "ada", 1, "block"))

		var wg sync.WaitGroup
		var first answer
		wg.Go(func() { first = send(h, ev) })
		<-w.hooks.entered // the first request is applying, its key claimed
		for name, r := range receivers {
			a := send(r, ev)
			if a.status != http.StatusConflict || a.problemType(t) != "in-progress" || a.header.Get("Retry-After") == "" {
				t.Errorf("%s, while the first is in progress: %d %s (Retry-After %q), want 409 in-progress", name, a.status, a.body, a.header.Get("Retry-After"))
			}
		}
		close(w.hooks.release)
		wg.Wait()
		if first.status != http.StatusCreated {
			t.Fatalf("first: %d %s", first.status, first.body)
		}
		if a := send(other, ev); a.status != http.StatusCreated || a.body != first.body {
			t.Fatalf("repeat after the first completed: %d %s, want the original", a.status, a.body)
		}
	})
}

// The key is required and must be an event id; the event type must be one
// of the route's; nothing of that is stored.
func TestWhatIsRefusedBeforeProcessing(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		h := w.handler()
		body := note(uuid.New(), "ada", 1, "hello")
		for _, c := range []struct {
			name, path, key, typ, body string
			status                     int
			problem                    string
		}{
			{"no key", "/v1/note", "", "note.created", body, 400, "missing-key"},
			{"a key that is no event id", "/v1/note", "key-1", "note.created", body, 400, "invalid-key"},
			{"no event type", "/v1/note", uuid.NewString(), "", body, 400, "wrong-event-type"},
			{"another route's event type", "/v1/note", uuid.NewString(), "mood.created", body, 400, "wrong-event-type"},
			{"a path nothing is posted to", "/v1/mood", uuid.NewString(), "note.created", body, 404, "not-found"},
			{"not JSON", "/v1/note", uuid.NewString(), "note.created", `{"payload_version":`, 400, "malformed"},
			{"a JSON array", "/v1/note", uuid.NewString(), "note.created", `[1]`, 400, "malformed"},
		} {
			a := post(h, c.path, c.key, c.typ, c.body)
			if a.status != c.status || a.problemType(t) != c.problem {
				t.Errorf("%s: %d %s, want %d %s", c.name, a.status, a.body, c.status, c.problem)
			}
		}
		if keys := w.count(`SELECT count(*) FROM inbox_keys`); keys != 0 {
			t.Fatalf("%d keys stored, want none", keys)
		}
	})
}

// An invalid payload is 422 with a problem naming each field at fault and
// never the values it holds; a key that came with one can be used again
// once the body is right (nothing was stored).
func TestInvalidPayloadNamesFieldsNotValues(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		h := w.handler()
		id := uuid.New()
		secret := "SECRET-DIAGNOSIS-XYZ-123456789"
		for name, body := range map[string]string{
			"too long":      note(id, "ada", 1, secret),
			"wrong type":    strings.Replace(note(id, "ada", 1, "x"), `"version":1`, `"version":"`+secret+`"`, 1),
			"unknown field": strings.Replace(note(id, "ada", 1, "x"), `{`, `{"`+secret+`":1,`, 1),
			"null required": strings.Replace(note(id, "ada", 1, "x"), `"text":"x"`, `"text":null`, 1),
			"wrong case":    strings.Replace(note(id, "ada", 1, "x"), `"text"`, `"TEXT"`, 1),
		} {
			ev := newEvent("note.created", body)
			a := send(h, ev)
			if a.status != http.StatusUnprocessableEntity || a.problemType(t) != "invalid-payload" {
				t.Errorf("%s: %d %s, want 422 invalid-payload", name, a.status, a.body)
			}
			if strings.Contains(a.body, secret) || strings.Contains(a.body, "SECRET") {
				t.Errorf("%s: the answer echoes the payload: %s", name, a.body)
			}
			if name != "unknown field" && !strings.Contains(a.body, `"pointer":"/`) {
				t.Errorf("%s: the answer names no field: %s", name, a.body)
			}
			ev.payload = note(id, "ada", 1, "fixed")
			if a := send(h, ev); a.status != http.StatusCreated {
				t.Errorf("%s: the key with a valid body then: %d %s", name, a.status, a.body)
			}
			id = uuid.New()
		}
	})
}
