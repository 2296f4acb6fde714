package httpsender

import (
	"fmt"
	"net"
	"net/http"
	"testing"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// Errors for an answered request carry the response's status, which the
// outbox's attempt history keeps; errors without an answer carry none.
func TestErrorsCarryTheStatusCode(t *testing.T) {
	for _, code := range []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable, http.StatusConflict, http.StatusFound, http.StatusUnauthorized} {
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			if code == http.StatusFound {
				w.Header().Set("Location", "/elsewhere")
			}
			w.WriteHeader(code)
		})
		if _, err := send(t, newSender(t, srv.URL)); outbox.StatusCode(err) != code {
			t.Errorf("a %d answer: StatusCode(%v) = %d", code, err, outbox.StatusCode(err))
		}
	}

	url, _ := batchServer(t, func(w http.ResponseWriter, items []batchItemSeen) {
		fmt.Fprint(w, results(items, func(it batchItemSeen) string { return `{"id":"` + it.ID + `","status":422}` }))
	})
	res := sendBatch(t, newSender(t, url, WithBatchRoute("/v1/batch")), newEvent(t, "weight.created", `{}`))
	if got := outbox.StatusCode(res[0].Err); got != http.StatusUnprocessableEntity {
		t.Errorf("a batch result of 422: StatusCode(%v) = %d", res[0].Err, got)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := send(t, newSender(t, "http://"+addr)); err == nil || outbox.StatusCode(err) != 0 {
		t.Errorf("a refused connection: StatusCode(%v) = %d, want 0", err, outbox.StatusCode(err))
	}
}
