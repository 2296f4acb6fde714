package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// Every form carries a token bound to the signed-in user and to this
// console's run (its key is random at start), checked on every POST. It
// backs up http.CrossOriginProtection, which refuses cross-site requests
// by the browser's Sec-Fetch-Site and Origin headers: basic credentials
// and the sign-in cookie would otherwise ride along on a forged form.

const csrfField = "csrf"

// csrfToken is the token of who.
func (c *console) csrfToken(who string) string {
	m := hmac.New(sha256.New, c.csrfKey)
	m.Write([]byte(who))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF reports whether r's form carries the token of r's user; if
// not, it answers 403.
func (c *console) checkCSRF(w http.ResponseWriter, r *http.Request) bool {
	got := r.PostFormValue(csrfField)
	want := c.csrfToken(user(r))
	if !hmac.Equal([]byte(got), []byte(want)) {
		c.fail(w, r, http.StatusForbidden, "This form has expired or did not come from the console (its anti-forgery token does not match). Reload the page and try again.")
		return false
	}
	return true
}
