package httpsender

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// maxExcerpt bounds what an error message quotes of a problem document's
// type or title, or of a Location header.
const maxExcerpt = 200

// verdict is what a response status means for the event it answers. It is
// the one place that maps statuses to outcomes, for a response to a single
// event and for an event's status in a batch response alike.
type verdict int

const (
	delivered    verdict = iota // 2xx (and 409 with WithConflictAsDelivered)
	inProgress                  // 409: an earlier request with this key is still being processed
	retryable                   // 408, 425, 429, 5xx: transient
	redirected                  // 3xx: permanent, redirects are never followed
	unauthorized                // 401: credentials, not the event; unavailable
	rejected                    // 422 (the key came with another body), other 4xx, anything else: permanent
)

// verdict returns what status code means for an event.
func (s *Sender) verdict(code int) verdict {
	switch {
	case code >= 200 && code < 300:
		return delivered
	case code == http.StatusConflict && s.conflictDelivered:
		return delivered
	case code == http.StatusConflict:
		return inProgress
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
	switch s.verdict(code) {
	case delivered:
		return outbox.Receipt{RemoteID: remoteID(rep.body, s.remoteIDField)}, nil
	case inProgress:
		retryAfter := parseRetryAfter(rep.Header.Get("Retry-After"), now)
		return outbox.Receipt{}, outbox.InProgressError(statusError(path, code, rep.Header, rep.body), retryAfter)
	case retryable:
		retryAfter := parseRetryAfter(rep.Header.Get("Retry-After"), now)
		return outbox.Receipt{}, outbox.TransientError(statusError(path, code, rep.Header, rep.body), retryAfter)
	case redirected:
		return outbox.Receipt{}, outbox.PermanentError(redirectError(path, rep.Response))
	case unauthorized: // exchange answers 401s itself; kept for completeness
		return outbox.Receipt{}, outbox.UnavailableError(statusError(path, code, rep.Header, rep.body))
	default:
		return outbox.Receipt{}, outbox.PermanentError(statusError(path, code, rep.Header, rep.body))
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

// responseError is a failure the backend answered: its message, and the
// response's status, which the outbox's attempt history keeps (see
// outbox.StatusCode).
type responseError struct {
	code int
	msg  string
}

func (e *responseError) Error() string { return e.msg }

// StatusCode returns the status of the response the error reports.
func (e *responseError) StatusCode() int { return e.code }

// statusError is e.g. "POST /v1/weight: 422 Unprocessable Entity", followed
// by the problem document's type and title when the response is one.
func statusError(path string, code int, header http.Header, body []byte) error {
	return &responseError{code: code, msg: "POST " + path + ": " + statusText(code) + problemNote(header, body)}
}

// problemNote is what an error message may say of an error response's
// body: the "type" and "title" of an RFC 9457 problem document
// (Content-Type application/problem+json), sanitised and bounded, or
// nothing. An error body may echo the request, whose payload is about a
// person, so no other part of it is ever kept.
func problemNote(header http.Header, body []byte) string {
	if header == nil {
		return ""
	}
	media, _, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil || media != "application/problem+json" {
		return ""
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return ""
	}
	return problemFields(doc)
}

// problemFields quotes the string "type" and "title" of a problem document
// or a batch result: e.g. ` (type "https://example.com/probs/range", title
// "Value out of range")`, or "" when it has neither. The type
// "about:blank", which says nothing beyond the status, is left out.
func problemFields(doc map[string]json.RawMessage) string {
	var parts []string
	for _, key := range []string{"type", "title"} {
		var v string
		if json.Unmarshal(doc[key], &v) == nil && !(key == "type" && v == "about:blank") {
			if v = excerpt([]byte(v)); v != "" {
				parts = append(parts, key+" "+strconv.Quote(v))
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// redirectError names where the backend tried to send the request.
func redirectError(path string, resp *http.Response) error {
	prefix := "POST " + path + ": " + statusText(resp.StatusCode)
	loc, err := resp.Location()
	var msg string
	switch {
	case err == nil:
		msg = fmt.Sprintf("%s: unexpected redirect to %s; point the sender at the final URL", prefix, loc.Redacted())
	case errors.Is(err, http.ErrNoLocation):
		msg = fmt.Sprintf("%s: unexpected redirect without a Location header; point the sender at the final URL", prefix)
	default:
		msg = fmt.Sprintf("%s: unexpected redirect to %q; point the sender at the final URL",
			prefix, excerpt([]byte(resp.Header.Get("Location"))))
	}
	return &responseError{code: resp.StatusCode, msg: msg}
}

// excerpt returns at most maxExcerpt bytes from the start of text, safe to
// put in an error message and store: control characters become spaces, runs
// of white space collapse into one, and invalid UTF-8 becomes U+FFFD.
func excerpt(text []byte) string {
	var b strings.Builder
	space := false
	for len(text) > 0 && b.Len() < maxExcerpt {
		r, size := utf8.DecodeRune(text)
		text = text[size:]
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
// JSON object, and "" otherwise. It reads the object as a batch result is
// read (see readBatchResult), without decoding the members it does not
// need.
func remoteID(body []byte, field string) string {
	if !json.Valid(body) {
		return ""
	}
	r, ok := readBatchResult(body, field)
	if !ok {
		return ""
	}
	return remoteIDIn(r.remoteID)
}

// remoteIDIn returns the string or number raw holds, and "" otherwise (nil
// included: no such member).
func remoteIDIn(raw json.RawMessage) string {
	if s, ok := plainString(raw); ok {
		return string(s)
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
