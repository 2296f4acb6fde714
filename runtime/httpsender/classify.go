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

// classify turns a response into a receipt or a classified error.
func (s *Sender) classify(path string, resp *http.Response, body []byte, now time.Time) (outbox.Receipt, error) {
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300, code == http.StatusConflict:
		return outbox.Receipt{RemoteID: remoteID(body, s.remoteIDField)}, nil
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly,
		code == http.StatusTooManyRequests, code >= 500 && code < 600:
		retryAfter := parseRetryAfter(resp.Header.Get("Retry-After"), now)
		return outbox.Receipt{}, outbox.TransientError(statusError(path, code, body), retryAfter)
	case code >= 300 && code < 400:
		return outbox.Receipt{}, outbox.PermanentError(redirectError(path, resp))
	default:
		return outbox.Receipt{}, outbox.PermanentError(statusError(path, code, body))
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
