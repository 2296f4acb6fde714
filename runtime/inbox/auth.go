package inbox

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// An Authenticator says who sent a request. It returns the subject (a
// name for the sender, e.g. "processor" or a client id), an error wrapping
// ErrUnauthenticated when the request's credentials are missing or wrong
// (answered 401), or another error when it cannot tell now (answered 503,
// so the sender tries again later).
type Authenticator interface {
	Authenticate(r *http.Request) (subject string, err error)
}

// AuthenticatorFunc makes a function an Authenticator.
type AuthenticatorFunc func(r *http.Request) (string, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(r *http.Request) (string, error) { return f(r) }

// ErrUnauthenticated is what an Authenticator's error wraps when the
// credentials are missing or wrong.
var ErrUnauthenticated = errors.New("inbox: missing or wrong credentials")

// BearerToken returns an Authenticator that admits requests carrying
// "Authorization: Bearer <token>" as subject. The comparison takes the same
// time whatever the token sent, so timing tells an attacker nothing of it.
// An empty token is refused: it would admit anyone who sends none.
func BearerToken(token, subject string) (Authenticator, error) {
	if token == "" {
		return nil, errors.New("inbox: BearerToken: the token is empty, which would admit requests without one")
	}
	want := sha256.Sum256([]byte(token))
	return AuthenticatorFunc(func(r *http.Request) (string, error) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		// Hashing first makes the comparison's time independent of the
		// lengths too.
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			return "", ErrUnauthenticated
		}
		return subject, nil
	}), nil
}

// Access is what an Authorizer decides on: who sent a change, and whose
// entry it changes.
type Access struct {
	Subject   string // from the Authenticator
	Metric    string
	EventType string
	UserID    string // the payload's user id
	EntityID  uuid.UUID
}

// An Authorizer decides whether the subject of a request may send a
// change. It returns nil to allow it, an error wrapping ErrForbidden to
// refuse it (answered 403, which the sender takes as permanent), or another
// error when it cannot decide now (answered 500). Without one, every
// authenticated subject may send changes of every user, as a processor
// delivering everyone's events does.
type Authorizer func(ctx context.Context, a Access) error

// ErrForbidden is what an Authorizer's error wraps to refuse a change.
var ErrForbidden = errors.New("inbox: forbidden")
