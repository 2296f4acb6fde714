package openapitest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/outboxgen/outboxgen/internal/openapitest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const doc = `openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /x:
    post:
      parameters:
        - {name: Idempotency-Key, in: header, required: true, schema: {type: string, format: uuid}}
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, additionalProperties: false, required: [n], properties: {n: {type: integer, maximum: 5}}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: object, required: [id], properties: {id: {type: string}}}
`

// The recorder catches requests and answers that break the document, and
// lets through those that follow it: the contract tests rely on it.
func TestRecorderCatchesBreaches(t *testing.T) {
	v := openapitest.Document(t, []byte(doc))
	answer := `{"id":"a"}`
	rec := v.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	}))
	srv := httptest.NewServer(rec)
	defer srv.Close()
	send := func(key, body string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/x", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	const key = "0196a3c2-5a1e-7c3b-9d2e-4f6a8b0c1d2e"
	for _, c := range []struct {
		name, key, body, answer string
		breaches                int
	}{
		{"good", key, `{"n":1}`, `{"id":"a"}`, 0},
		{"no key", "", `{"n":1}`, `{"id":"a"}`, 1},
		{"over the maximum", key, `{"n":6}`, `{"id":"a"}`, 1},
		{"an unknown field", key, `{"n":1,"m":2}`, `{"id":"a"}`, 1},
		{"a wrong answer", key, `{"n":1}`, `{"id":1}`, 1},
	} {
		answer = c.answer
		_, before := rec.Result()
		send(c.key, c.body)
		_, after := rec.Result()
		if got := len(after) - len(before); got != c.breaches {
			t.Errorf("%s: %d breaches found, want %d: %v", c.name, got, c.breaches, after[len(before):])
		}
	}
	http.DefaultClient.CloseIdleConnections()
}
