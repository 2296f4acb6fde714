package backend

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/outboxgen/outboxgen/examples/fitness/metrics/wire"
)

// Faults are the misbehaviours the backend is told to show. The zero value
// is a healthy backend.
type Faults struct {
	// SlowShare of requests are answered only after SlowBy, once the event
	// is stored: a client that gives up earlier retries, and the retry is
	// a duplicate the backend must absorb. Each event of a batch draws its
	// chance; the batch is answered SlowBy late if any of them drew it.
	SlowShare float64
	SlowBy    time.Duration
	// FailShare of requests fail with FailStatus (503 or 429, say) and a
	// Retry-After of RetryAfter, before anything is stored. Each event of a
	// batch draws its chance and fails with FailStatus in the results (a
	// result has no Retry-After); at 1, when every request fails, the batch
	// request fails as a whole, Retry-After and all.
	FailShare  float64
	FailStatus int
	RetryAfter time.Duration
	// InProgressShare of events are answered 409, as if an earlier request
	// with their key were still being processed, before anything is stored.
	InProgressShare float64
	// DropEntity, when set, is an entity id on whose events the backend
	// drops the connection after reading the request, without an answer
	// and without storing anything: a crash on that payload. A batch that
	// holds one is dropped as a whole.
	DropEntity string
}

// maxRead bounds what the fault injection reads of a request before the
// receiver does: the receiver's own limits are smaller.
const maxRead = 32 << 20

// Handler returns the backend's HTTP handler: the generated receiver
// (POST /v1/<metric> takes one event, POST /v1/batch several, in the batch
// format of runtime/httpsender), with the faults set by SetFaults injected
// into requests that carry the token, if one is required.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !s.authorized(r) {
			s.receiver.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRead))
		if err != nil {
			return // the client went away
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if r.URL.Path == wire.BatchRoute {
			s.serveBatch(w, r, body, s.currentFaults())
			return
		}
		s.serveOne(w, r, body, s.currentFaults())
	})
}

// injected is the answer to a request a fault refuses.
type injected struct {
	status     int
	title      string
	retryAfter time.Duration
}

// draw decides whether f refuses an event before the receiver sees it.
func (f Faults) draw() *injected {
	switch {
	case chance(f.FailShare):
		return &injected{status: f.FailStatus, title: "injected failure", retryAfter: f.RetryAfter}
	case chance(f.InProgressShare):
		return &injected{status: http.StatusConflict, title: "a request with this Idempotency-Key is still being processed (injected)", retryAfter: time.Second}
	}
	return nil
}

// write answers a single request with the refusal, as a problem document.
func (i *injected) write(w http.ResponseWriter) {
	if i.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(i.retryAfter.Seconds()))))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(i.status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": i.title, "status": i.status})
}

// serveOne injects faults around one event posted alone.
func (s *Server) serveOne(w http.ResponseWriter, r *http.Request, body []byte, f Faults) {
	if refused := f.draw(); refused != nil {
		refused.write(w)
		return
	}
	if f.DropEntity != "" && entityOf(body) == f.DropEntity {
		drop(w)
		return
	}
	if !chance(f.SlowShare) {
		s.receiver.ServeHTTP(w, r)
		return
	}
	answer := httptest.NewRecorder()
	s.receiver.ServeHTTP(answer, r)
	if slowDown(r, f) {
		copyAnswer(w, answer)
	}
}

// batchItem is what the fault injection reads of a batch's event.
type batchItem struct {
	ID      string `json:"id"`
	Payload struct {
		ID string `json:"id"`
	} `json:"payload"`
}

// serveBatch injects faults into each event of a batch: the events a fault
// refuses get its status as their result, the others go to the receiver in
// a batch of their own, byte for byte, and the results are merged in the
// order of the request.
func (s *Server) serveBatch(w http.ResponseWriter, r *http.Request, body []byte, f Faults) {
	if f.FailShare >= 1 {
		(&injected{status: f.FailStatus, title: "injected failure", retryAfter: f.RetryAfter}).write(w)
		return
	}
	var req struct{ Events []json.RawMessage }
	if json.Unmarshal(body, &req) != nil || req.Events == nil {
		s.receiver.ServeHTTP(w, r) // not a batch: the receiver says so
		return
	}
	results := make([]json.RawMessage, len(req.Events))
	var passed []json.RawMessage
	var passedAt []int
	slow := false
	for i, raw := range req.Events {
		var item batchItem
		_ = json.Unmarshal(raw, &item)
		if f.DropEntity != "" && item.Payload.ID == f.DropEntity {
			drop(w)
			return
		}
		if refused := f.draw(); refused != nil {
			results[i], _ = json.Marshal(map[string]any{"id": item.ID, "status": refused.status, "type": "about:blank", "title": refused.title})
			continue
		}
		slow = slow || chance(f.SlowShare)
		passed, passedAt = append(passed, raw), append(passedAt, i)
	}
	if len(passed) > 0 {
		inner, _ := json.Marshal(map[string]any{"events": passed})
		r.Body = io.NopCloser(bytes.NewReader(inner))
		r.ContentLength = int64(len(inner))
		answer := httptest.NewRecorder()
		s.receiver.ServeHTTP(answer, r)
		var res struct{ Results []json.RawMessage }
		if answer.Code != http.StatusOK || json.Unmarshal(answer.Body.Bytes(), &res) != nil || len(res.Results) != len(passed) {
			copyAnswer(w, answer) // about the request as a whole
			return
		}
		for j, i := range passedAt {
			results[i] = res.Results[j]
		}
	}
	if slow && !slowDown(r, f) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"results": results})
}

// entityOf is the entity id of an event's payload, if it has one.
func entityOf(payload []byte) string {
	var p struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(payload, &p)
	return p.ID
}

// slowDown waits out Faults.SlowBy before an answer that drew it, and
// reports false when the client gave up meanwhile.
func slowDown(r *http.Request, f Faults) bool {
	t := time.NewTimer(f.SlowBy)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// copyAnswer writes an answer the receiver gave to a recorder.
func copyAnswer(w http.ResponseWriter, answer *httptest.ResponseRecorder) {
	for k, vs := range answer.Header() {
		w.Header()[k] = vs
	}
	w.WriteHeader(answer.Code)
	_, _ = w.Write(answer.Body.Bytes())
}

// drop closes the request's connection without an answer, as a backend
// that crashed on it would.
func drop(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}

// chance reports true with probability p.
func chance(p float64) bool { return p > 0 && rand.Float64() < p }
