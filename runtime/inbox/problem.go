package inbox

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Problem is an RFC 9457 problem document: the body of every error answer
// (Content-Type application/problem+json), and the failed result of an
// event in a batch. Its text never repeats a value of the request: entries
// are health data, and the sender keeps what it gets in logs.
//
// An Applier may return a Problem (or an error wrapping one) to refuse a
// change with its own status and title; the change is then not recorded,
// and a repeat of it is tried again.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Errors names each invalid field of a payload.
	Errors []FieldError `json:"errors,omitempty"`
	// retryAfter is the Retry-After of a single answer, in seconds.
	retryAfter int
}

// FieldError is one invalid field of a payload: a JSON pointer to it
// ("/kg") and what is wrong, without its value.
type FieldError struct {
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
}

func (p *Problem) Error() string {
	if p.Detail != "" {
		return p.Title + ": " + p.Detail
	}
	return p.Title
}

// ProblemBase starts the type of every problem the receiver answers: each
// type is a section of the receiver's documentation.
const ProblemBase = "https://github.com/outboxgen/outboxgen/blob/main/docs/RECEIVER.md#"

// The problems a receiver answers, by the last part of their type.
var problems = map[string]Problem{
	"unauthenticated":    {Status: http.StatusUnauthorized, Title: "Missing or wrong credentials"},
	"forbidden":          {Status: http.StatusForbidden, Title: "The subject may not send this change"},
	"missing-key":        {Status: http.StatusBadRequest, Title: "The Idempotency-Key header is missing"},
	"invalid-key":        {Status: http.StatusBadRequest, Title: "The Idempotency-Key is not an event id"},
	"wrong-event-type":   {Status: http.StatusBadRequest, Title: "The event type is missing or not one of this route's"},
	"malformed":          {Status: http.StatusBadRequest, Title: "The body is not a JSON object"},
	"not-a-batch":        {Status: http.StatusBadRequest, Title: `The body is not a batch: {"events":[…]}`},
	"invalid-payload":    {Status: http.StatusUnprocessableEntity, Title: "The payload is invalid"},
	"key-reused":         {Status: http.StatusUnprocessableEntity, Title: "This Idempotency-Key was used with a different body"},
	"in-progress":        {Status: http.StatusConflict, Title: "A request with this Idempotency-Key is still being processed", retryAfter: 1},
	"too-large":          {Status: http.StatusRequestEntityTooLarge, Title: "The body is too large"},
	"unsupported-type":   {Status: http.StatusUnsupportedMediaType, Title: "The body must be application/json"},
	"not-found":          {Status: http.StatusNotFound, Title: "Nothing is posted to this path"},
	"method-not-allowed": {Status: http.StatusMethodNotAllowed, Title: "Changes are posted"},
	"failed":             {Status: http.StatusInternalServerError, Title: "Applying the change failed"},
	"unavailable":        {Status: http.StatusServiceUnavailable, Title: "The receiver cannot check credentials now", retryAfter: 5},
}

// ProblemNames lists the last part of every problem type the receiver
// answers, for documents that describe them.
func ProblemNames() []string {
	names := make([]string, 0, len(problems))
	for name := range problems {
		names = append(names, name)
	}
	return names
}

// problem returns the problem named name, with detail.
func problem(name, detail string) *Problem {
	p, ok := problems[name]
	if !ok {
		panic("inbox: no problem " + name)
	}
	p.Type = ProblemBase + name
	p.Detail = detail
	return &p
}

// Refuse returns a Problem an Applier can return to refuse a change: status
// is a 4xx status other than 401 and 409, whose meanings the sender knows,
// and title a fixed text saying why, never a value of the change.
func Refuse(status int, title string) *Problem {
	return &Problem{Type: "about:blank", Status: status, Title: title}
}

// write writes p as the answer to a single request.
func (p *Problem) write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	if p.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.retryAfter))
	}
	if p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="outboxgen"`)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// fieldDetail turns the field errors of an InvalidPayload into the detail
// of a problem: "kg must be from 20 to 500; label is required".
func fieldDetail(errs []FieldError) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = strings.TrimPrefix(e.Pointer, "/") + " " + e.Detail
	}
	return strings.Join(parts, "; ")
}
