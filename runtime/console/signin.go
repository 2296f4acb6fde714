package console

import (
	"net/http"
	"strings"
)

// signInData is what the sign-in page shows.
type signInData struct {
	Next  string
	Error string
}

// challenge answers a request without valid credentials: with the
// sign-in page under BearerToken, else with the Authenticator's own
// challenge.
func (c *console) challenge(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.opts.Auth.(*bearerAuth); ok && r.Method == http.MethodGet {
		c.renderSignIn(w, r, r.URL.RequestURI(), "")
		return
	}
	c.opts.Auth.Challenge(w, r)
}

func (c *console) renderSignIn(w http.ResponseWriter, r *http.Request, next, msg string) {
	v := &view{Title: "Sign in", Prefix: c.opts.Prefix, Name: c.opts.Name, Now: c.opts.Now(), Page: signInData{Next: c.safeNext(next), Error: msg}}
	c.render(w, r, http.StatusUnauthorized, "sign-in", v)
}

// signIn checks the token typed on the sign-in page and, if it is right,
// gives the browser its session cookie. It answers only under BearerToken.
func (c *console) signIn(w http.ResponseWriter, r *http.Request) {
	a, ok := c.opts.Auth.(*bearerAuth)
	if !ok {
		c.opts.Auth.Challenge(w, r)
		return
	}
	session, ok := a.signIn(r.PostFormValue("token"))
	if !ok {
		c.log.Warn("console: sign-in refused: wrong token", "remote", r.RemoteAddr)
		c.renderSignIn(w, r, r.PostFormValue("next"), "That is not the console's token.")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: session, Path: c.opts.Prefix + "/",
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, c.safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

// safeNext keeps a page to go back to only if it is the console's own.
func (c *console) safeNext(next string) string {
	home := c.opts.Prefix + "/"
	if !strings.HasPrefix(next, home) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return home
	}
	return next
}
