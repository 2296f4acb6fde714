package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"strings"
)

// Authenticator decides who may use the console. Every request, the
// console's own script and stylesheet included, must pass it.
type Authenticator interface {
	// Authenticate returns the name of who sent r, for the audit log, or
	// false when r carries no valid credentials.
	Authenticate(r *http.Request) (who string, ok bool)
	// Challenge answers a request that Authenticate refused.
	Challenge(w http.ResponseWriter, r *http.Request)
}

// BasicAuth accepts HTTP basic authentication as user with password; the
// browser asks for them.
func BasicAuth(user, password string) Authenticator {
	return &basicAuth{user: digest(user), password: digest(password), name: user}
}

type basicAuth struct {
	user, password [32]byte
	name           string
}

func (a *basicAuth) Authenticate(r *http.Request) (string, bool) {
	u, p, ok := r.BasicAuth()
	if !ok {
		return "", false
	}
	du, dp := digest(u), digest(p)
	// Both are compared, always, in constant time.
	userOK := subtle.ConstantTimeCompare(du[:], a.user[:])
	passOK := subtle.ConstantTimeCompare(dp[:], a.password[:])
	if userOK&passOK != 1 {
		return "", false
	}
	return a.name, true
}

func (a *basicAuth) Challenge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Basic realm="outbox console", charset="UTF-8"`)
	http.Error(w, "401 Unauthorized: sign in with the console's user name and password", http.StatusUnauthorized)
}

// BearerToken accepts requests that carry "Authorization: Bearer token",
// as a proxy in front of the console may add, and browsers that signed in
// with the token on the console's sign-in page, which sets a cookie
// derived from the token (not the token itself). Changing the token signs
// every browser out.
func BearerToken(token string) Authenticator {
	return &bearerAuth{token: digest(token), session: sessionValue(token)}
}

type bearerAuth struct {
	token   [32]byte
	session string
}

// sessionCookie holds a browser's proof that it signed in.
const sessionCookie = "outbox_console_session"

func sessionValue(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("outbox console session v1"))
	return hex.EncodeToString(m.Sum(nil))
}

func (a *bearerAuth) Authenticate(r *http.Request) (string, bool) {
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		d := digest(strings.TrimSpace(tok))
		return "bearer token holder", subtle.ConstantTimeCompare(d[:], a.token[:]) == 1
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return "bearer token holder", subtle.ConstantTimeCompare([]byte(c.Value), []byte(a.session)) == 1
	}
	return "", false
}

// Challenge is answered by the console, which shows its sign-in page.
func (a *bearerAuth) Challenge(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "401 Unauthorized: sign in with the console's token", http.StatusUnauthorized)
}

// signIn checks a token typed on the sign-in page and returns the session
// cookie's value.
func (a *bearerAuth) signIn(token string) (string, bool) {
	d := digest(strings.TrimSpace(token))
	return a.session, subtle.ConstantTimeCompare(d[:], a.token[:]) == 1
}

// Anonymous lets every request in, named by its remote address in the
// audit log. Use it only where nobody else can reach the handler (a
// loopback address), or behind a proxy that authenticates; "outboxgen ui"
// refuses to listen elsewhere without credentials.
func Anonymous() Authenticator { return anonymous{} }

type anonymous struct{}

func (anonymous) Authenticate(r *http.Request) (string, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "anonymous at " + host, true
}

func (anonymous) Challenge(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
}

// AuthenticatedBy trusts the application's own authentication, which ran
// before the console's handler: who returns the signed-in user's name, or
// false to refuse the request.
func AuthenticatedBy(who func(r *http.Request) (string, bool)) Authenticator {
	return trusted(who)
}

type trusted func(r *http.Request) (string, bool)

func (t trusted) Authenticate(r *http.Request) (string, bool) { return t(r) }

func (trusted) Challenge(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
}

func digest(s string) [32]byte { return sha256.Sum256([]byte(s)) }
