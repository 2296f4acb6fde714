package httpsender

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// batchOf500 is a batch of 500 weight events and the body of a response
// that delivers each of them.
func batchOf500(b *testing.B) (evs []*outbox.Event, idx []int, resp []byte) {
	b.Helper()
	var body bytes.Buffer
	body.WriteString(`{"results":[`)
	for i := range 500 {
		ev, err := outbox.Prepare(outbox.Event{
			Type: "weight.created", Aggregate: "weight", AggregateID: fmt.Sprint(i),
			Payload: []byte(`{"id":"0193a3c0-0000-7000-8000-000000000000","user_id":"ada","kg":70.5,"recorded_at":"2026-12-01T08:00:00Z","version":1}`),
		}, 0)
		if err != nil {
			b.Fatal(err)
		}
		ev.Attempts = 1
		evs, idx = append(evs, &ev), append(idx, i)
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"id":%q,"status":201,"remote_id":"r%d"}`, ev.ID, i)
	}
	body.WriteString(`]}`)
	return evs, idx, body.Bytes()
}

func BenchmarkBatchBody(b *testing.B) {
	s, err := New("http://127.0.0.1", testRoutes, WithBatchRoute("/v1/batch"))
	if err != nil {
		b.Fatal(err)
	}
	evs, idx, _ := batchOf500(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.batchBody(evs, idx)
	}
}

func BenchmarkBatchResults(b *testing.B) {
	s, err := New("http://127.0.0.1", testRoutes, WithBatchRoute("/v1/batch"))
	if err != nil {
		b.Fatal(err)
	}
	evs, _, body := batchOf500(b)
	rep := reply{Response: &http.Response{StatusCode: 200}, body: body, complete: true}
	b.ReportAllocs()
	for b.Loop() {
		byID, err := s.parseResults(rep)
		if err != nil {
			b.Fatal(err)
		}
		for _, ev := range evs {
			if _, err := s.classifyResult("/v1/weight", 200, byID[ev.ID]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkSend measures one event's request, from headers to outcome,
// against a backend in the same process.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"r-1234","user_id":"ada","kg":70.5,"recorded_at":"2026-12-01T08:00:00Z"}`))
	}))
	defer srv.Close()
	s, err := New(srv.URL, testRoutes)
	if err != nil {
		b.Fatal(err)
	}
	defer s.CloseIdleConnections()
	evs, _, _ := batchOf500(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Send(b.Context(), evs[0]); err != nil {
			b.Fatal(err)
		}
	}
}
