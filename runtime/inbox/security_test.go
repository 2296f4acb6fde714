package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/outboxgen/outboxgen/runtime/inbox"
)

// A receiver is never open by mistake: it needs an Authenticator or an
// explicit WithoutAuthentication, and an empty bearer token is refused.
func TestAuthenticationIsRequired(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		if _, err := w.newHandler(); err == nil || !strings.Contains(err.Error(), "WithAuthenticator") {
			t.Fatalf("New without authentication: %v, want an error naming WithAuthenticator", err)
		}
		if _, err := inbox.BearerToken("", "processor"); err == nil {
			t.Fatal("BearerToken accepted an empty token")
		}
		auth, _ := inbox.BearerToken("s3cret", "processor")
		if _, err := w.newHandler(inbox.WithAuthenticator(auth), inbox.WithoutAuthentication()); err == nil {
			t.Fatal("New accepted an authenticator and WithoutAuthentication")
		}
	})
}

// With a bearer token, a request without it or with another is 401 (with
// WWW-Authenticate), single or batch; the subject reaches the application.
func TestBearerToken(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		auth, err := inbox.BearerToken("s3cret", "processor")
		if err != nil {
			t.Fatal(err)
		}
		h := w.handler(inbox.WithAuthenticator(auth))
		id := uuid.New()
		ev := newEvent("note.created", note(id, "ada", 1, "x"))
		for name, header := range map[string][]string{
			"no token":      nil,
			"another token": {"Authorization", "Bearer s3cret2"},
			"a prefix":      {"Authorization", "Bearer s3cre"},
			"another kind":  {"Authorization", "Basic s3cret"},
		} {
			for _, path := range []string{"/v1/note", "/v1/batch"} {
				a := post(h, path, ev.key, ev.typ, ev.payload, header...)
				if a.status != http.StatusUnauthorized || a.problemType(t) != "unauthenticated" || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s to %s: %d %s (WWW-Authenticate %q), want 401", name, path, a.status, a.body, a.header.Get("WWW-Authenticate"))
				}
			}
		}
		if a := post(h, "/v1/note", ev.key, ev.typ, ev.payload, "Authorization", "Bearer s3cret"); a.status != http.StatusCreated {
			t.Fatalf("the token: %d %s", a.status, a.body)
		}
		if got := w.applied(id); len(got) != 1 || got[0].Subject != "processor" {
			t.Fatalf("applied %+v, want one change from subject processor", got)
		}
	})
}

// An authenticator that cannot tell now makes the sender try again later
// (503), rather than reject its credentials.
func TestAuthenticatorFailureIsUnavailable(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		h := w.handler(inbox.WithAuthenticator(inbox.AuthenticatorFunc(func(*http.Request) (string, error) {
			return "", errors.New("the identity provider is down")
		})))
		a := send(h, newEvent("note.created", note(uuid.New(), "ada", 1, "x")))
		if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
			t.Fatalf("%d %s, want 503 with Retry-After", a.status, a.body)
		}
	})
}

// The authorizer sees the token's subject and the payload's user, and
// refuses with 403; nothing it refuses is applied or recorded.
func TestAuthorizer(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		auth, _ := inbox.BearerToken("ada-token", "ada")
		var seen []inbox.Access
		h := w.handler(inbox.WithAuthenticator(auth), inbox.WithAuthorizer(func(_ context.Context, a inbox.Access) error {
			seen = append(seen, a)
			if a.Subject != a.UserID {
				return fmt.Errorf("%s may not write %s's notes: %w", a.Subject, a.UserID, inbox.ErrForbidden)
			}
			return nil
		}))
		own, other := uuid.New(), uuid.New()
		token := []string{"Authorization", "Bearer ada-token"}
		if a := post(h, "/v1/note", uuid.NewString(), "note.created", note(own, "ada", 1, "x"), token...); a.status != http.StatusCreated {
			t.Fatalf("ada's own note: %d %s", a.status, a.body)
		}
		if a := post(h, "/v1/note", uuid.NewString(), "note.created", note(other, "bob", 1, "x"), token...); a.status != http.StatusForbidden || a.problemType(t) != "forbidden" {
			t.Fatalf("bob's note from ada: %d %s, want 403", a.status, a.body)
		}
		if len(w.applied(other)) != 0 {
			t.Fatal("a refused change was applied")
		}
		if len(seen) != 2 || seen[1] != (inbox.Access{Subject: "ada", Metric: "note", EventType: "note.created", UserID: "bob", EntityID: other}) {
			t.Fatalf("the authorizer saw %+v", seen)
		}
	})
}

// Bodies are bounded, and only JSON is taken, by POST.
func TestLimits(t *testing.T) {
	eachStore(t, func(t *testing.T, w *world) {
		h := w.handler(inbox.WithoutAuthentication(), inbox.WithLimits(inbox.Limits{Body: 300, BatchBody: 2000, BatchEvents: 3}))
		big := note(uuid.New(), "ada", 1, strings.Repeat("x", 300))
		if a := post(h, "/v1/note", uuid.NewString(), "note.created", big); a.status != http.StatusRequestEntityTooLarge || a.problemType(t) != "too-large" {
			t.Errorf("a body over the limit: %d %s, want 413", a.status, a.body)
		}
		if a := post(h, "/v1/batch", "", "", `{"events":[`+strings.Repeat(`{},`, 3)+`{}]}`); a.status != http.StatusRequestEntityTooLarge {
			t.Errorf("a batch of too many events: %d %s, want 413", a.status, a.body)
		}
		if a := post(h, "/v1/batch", "", "", `{"events":[], "pad":"`+strings.Repeat("x", 2000)+`"}`); a.status != http.StatusRequestEntityTooLarge {
			t.Errorf("a batch body over the limit: %d %s, want 413", a.status, a.body)
		}
		res := sendBatch(t, h, newEvent("note.created", big), newEvent("note.created", note(uuid.New(), "ada", 1, "x")))
		if res[0].Status != http.StatusRequestEntityTooLarge || res[1].Status != http.StatusCreated {
			t.Errorf("a batch with a payload over the limit: %+v, want 413 for it and 201 for the other", res)
		}
		if a := post(h, "/v1/note", uuid.NewString(), "note.created", note(uuid.New(), "ada", 1, "x"), "Content-Type", "text/plain"); a.status != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain: %d %s, want 415", a.status, a.body)
		}
		r, _ := http.NewRequest(http.MethodGet, "/v1/note", nil)
		rec := &recorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status != http.StatusMethodNotAllowed || rec.header.Get("Allow") != http.MethodPost {
			t.Errorf("GET: %d (Allow %q), want 405 allowing POST", rec.status, rec.header.Get("Allow"))
		}
	})
}

// recorder keeps a response's status and headers.
type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(status int)      { r.status = status }
