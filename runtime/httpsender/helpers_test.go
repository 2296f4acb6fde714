package httpsender

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

var testRoutes = map[string]string{
	"weight.created": "/v1/weight",
	"meal.created":   "/v1/meals",
}

// newServer starts h and closes it when the test ends.
func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// newSender returns a sender for url with testRoutes whose idle connections
// are closed when the test ends (before any server started earlier closes).
func newSender(t *testing.T, url string, opts ...Option) *Sender {
	t.Helper()
	s, err := New(url, testRoutes, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(s.CloseIdleConnections)
	return s
}

// newEvent returns a prepared event of type typ on its first attempt.
func newEvent(t *testing.T, typ, payload string) *outbox.Event {
	t.Helper()
	ev, err := outbox.Prepare(outbox.Event{
		Type: typ, Aggregate: "weight", AggregateID: "w1", Payload: []byte(payload),
	}, 0)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	ev.Attempts = 1
	return &ev
}

// classOf names the outcome of a Send: "delivered", a class, or
// "unclassified".
func classOf(err error) string {
	if err == nil {
		return "delivered"
	}
	var de *outbox.DeliveryError
	if !errors.As(err, &de) {
		return "unclassified"
	}
	return de.Class.String()
}

// send posts a weight.created event with a small payload.
func send(t *testing.T, s *Sender) (outbox.Receipt, error) {
	t.Helper()
	return s.Send(context.Background(), newEvent(t, "weight.created", `{"kg":71.5}`))
}
