// Package openapitest checks OpenAPI documents and HTTP traffic against
// them in tests, with a maintained OpenAPI 3.1 validator
// (github.com/pb33f/libopenapi-validator): a generated receiver's document
// must be valid, and every request a sender makes and every answer the
// receiver gives must follow it.
package openapitest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	verrors "github.com/pb33f/libopenapi-validator/errors"
)

// Validator checks traffic against one document.
type Validator struct {
	mu sync.Mutex // the validator's caches are not documented as safe for concurrent use
	v  validator.Validator
}

// Document parses doc, checks it against the OpenAPI schema of its
// version, and returns a Validator for its traffic. It fails t on any
// problem.
func Document(t testing.TB, doc []byte) *Validator {
	t.Helper()
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		t.Fatalf("openapitest: parse the document: %v", err)
	}
	if v := d.GetVersion(); !strings.HasPrefix(v, "3.1") {
		t.Fatalf("openapitest: the document is OpenAPI %s, want 3.1", v)
	}
	// Building the model resolves every reference.
	if _, err := d.BuildV3Model(); err != nil {
		t.Fatalf("openapitest: build the model: %v", err)
	}
	v, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		t.Fatalf("openapitest: build a validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		t.Fatalf("openapitest: the document is not valid OpenAPI:\n%s", describe(verrs))
	}
	return &Validator{v: v}
}

// Check validates req (whose body is body), unless only the answer is to
// be checked, and the response resp (whose body is respBody), and returns
// what breaks the document, or nil.
func (v *Validator) Check(req *http.Request, body []byte, resp *http.Response, respBody []byte, answerOnly bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	req = req.Clone(req.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	var problems []string
	if ok, errs := v.v.ValidateHttpRequestSync(req); !ok && !answerOnly {
		problems = append(problems, "request: "+describe(errs))
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if ok, errs := v.v.ValidateHttpResponse(req, resp); !ok {
		problems = append(problems, fmt.Sprintf("response %d: %s", resp.StatusCode, describe(errs)))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s %s: %s\n  request body: %.300s\n  response body: %.300s", req.Method, req.URL.Path, strings.Join(problems, "; "), body, respBody)
}

// Recorder is an http.Handler that passes every request to a handler and
// checks it, and its answer, against a document.
type Recorder struct {
	v          *Validator
	next       http.Handler
	answerOnly bool

	mu       sync.Mutex
	checked  int
	failures []error
}

// Wrap returns a Recorder around next.
func (v *Validator) Wrap(next http.Handler) *Recorder { return &Recorder{v: v, next: next} }

// ResponsesOnly makes rec check answers only, for requests that break the
// document on purpose to see how they are answered. Call it before
// serving.
func (rec *Recorder) ResponsesOnly() { rec.answerOnly = true }

// ServeHTTP serves r with the wrapped handler and checks both.
func (rec *Recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	out := httptest.NewRecorder()
	rec.next.ServeHTTP(out, r)
	resp := out.Result()
	respBody := out.Body.Bytes()
	err = rec.v.Check(r, body, resp, respBody, rec.answerOnly)

	rec.mu.Lock()
	rec.checked++
	if err != nil {
		rec.failures = append(rec.failures, err)
	}
	rec.mu.Unlock()

	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(respBody)
}

// Result returns how many exchanges were checked and those that broke the
// document.
func (rec *Recorder) Result() (checked int, failures []error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.checked, append([]error(nil), rec.failures...)
}

func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  - %s: %s", e.Message, e.Reason)
		for _, s := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n      %s (at %s, schema %s)", s.Reason, s.FieldPath, s.KeywordLocation)
		}
	}
	return b.String()
}
