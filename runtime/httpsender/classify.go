package httpsender

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// maxExcerpt bounds how much of a response body an error message quotes.
const maxExcerpt = 200

// verdict is what a response status means for the event it answers. It is
// the one place that maps statuses to outcomes, for a response to a single
// event and for an event's status in a batch response alike.
type verdict int

const (
	delivered    verdict = iota // 2xx, and 409: the backend already has this key
	retryable                   // 408, 425, 429, 5xx: transient
	redirected                  // 3xx: permanent, redirects are never followed
	unauthorized                // 401: credentials, not the event; unavailable
	rejected                    // other 4xx, anything else: permanent
)

// statusVerdict returns what status code means for an event.
func statusVerdict(code int) verdict {
	switch {
	case code >= 200 && code < 300, code == http.StatusConflict:
		return delivered
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly,
		code == http.StatusTooManyRequests, code >= 500 && code < 600:
		return retryable
	case code >= 300 && code < 400:
		return redirected
	case code == http.StatusUnauthorized:
		return unauthorized
	}
	return rejected
}

// classify turns a response to one event into a receipt or a classified
// error.
func (s *Sender) classify(path string, rep reply, now time.Time) (outbox.Receipt, error) {
	code := rep.StatusCode
	switch statusVerdict(code) {
	case delivered:
		return outbox.Receipt{RemoteID: remoteID(rep.body, s.remoteIDField)}, nil
	case retryable:
		retryAfter := parseRetryAfter(rep.Header.Get("Retry-After"), now)
		return outbox.Receipt{}, outbox.TransientError(statusError(path, code, rep.body), retryAfter)
	case redirected:
		return outbox.Receipt{}, outbox.PermanentError(redirectError(path, rep.Response))
	case unauthorized: // exchange answers 401s itself; kept for completeness
		return outbox.Receipt{}, outbox.UnavailableError(statusError(path, code, rep.body))
	default:
		return outbox.Receipt{}, outbox.PermanentError(statusError(path, code, rep.body))
	}
}

// statusText is e.g. "503 Service Unavailable", or just the code when it
// has no standard text.
func statusText(code int) string {
	if text := http.StatusText(code); text != "" {
		return strconv.Itoa(code) + " " + text
	}
	return strconv.Itoa(code)
}

// statusError is e.g. "POST /v1/weight: 503 Service Unavailable: <excerpt>".
func statusError(path string, code int, body []byte) error {
	msg := "POST " + path + ": " + statusText(code)
	if ex := excerpt(body); ex != "" {
		msg += ": " + ex
	}
	return errors.New(msg)
}

// redirectError names where the backend tried to send the request.
func redirectError(path string, resp *http.Response) error {
	prefix := "POST " + path + ": " + statusText(resp.StatusCode)
	loc, err := resp.Location()
	switch {
	case err == nil:
		return fmt.Errorf("%s: unexpected redirect to %s; point the sender at the final URL", prefix, loc.Redacted())
	case errors.Is(err, http.ErrNoLocation):
		return fmt.Errorf("%s: unexpected redirect without a Location header; point the sender at the final URL", prefix)
	default:
		return fmt.Errorf("%s: unexpected redirect to %q; point the sender at the final URL",
			prefix, excerpt([]byte(resp.Header.Get("Location"))))
	}
}

// excerpt returns at most maxExcerpt bytes from the start of body, safe to
// put in an error message and store: control characters become spaces, runs
// of white space collapse into one, and invalid UTF-8 becomes U+FFFD.
func excerpt(body []byte) string {
	var b strings.Builder
	space := false
	for len(body) > 0 && b.Len() < maxExcerpt {
		r, size := utf8.DecodeRune(body)
		body = body[size:]
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = b.Len() > 0
			continue
		}
		n := utf8.RuneLen(r)
		if space {
			n++
		}
		if b.Len()+n > maxExcerpt {
			break
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// remoteID returns the string or number in field of body when body is a
// JSON object, and "" otherwise.
func remoteID(body []byte, field string) string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return ""
	}
	return remoteIDOf(obj, field)
}

// remoteIDOf returns the string or number in field of obj, and ""
// otherwise.
func remoteIDOf(obj map[string]json.RawMessage, field string) string {
	raw, ok := obj[field]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}
