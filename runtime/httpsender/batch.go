package httpsender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// batchRemoteIDField holds the remote id in a batch result while the
// remote id field is "id" (the default): in a batch result, "id" names the
// event.
const batchRemoteIDField = "remote_id"

// SendBatch delivers evs and returns one result per event, in the order of
// evs; it implements [outbox.BatchSender]. With [WithBatchRoute] it posts
// the events in one request to the batch route, as "Batches" in the package
// documentation describes, except for events it cannot batch, which it
// sends with Send meanwhile: events whose type has [WithRouteHeader]
// headers (a request shared with other types cannot carry them) and events
// whose payload is not valid JSON (it cannot be embedded in the batch).
// Without WithBatchRoute it sends every event with Send, all at once. An
// event whose type has no route fails permanently without being sent, and
// the others still go.
//
// SendBatch returns an error instead of results when every event was in
// the batch request and that request failed as a whole (no response, a
// status that asks to try again later, a 401 that persists, or ctx done);
// when some events were sent on their own, that error is each batched
// event's result instead, so the others keep theirs. A batch the endpoint
// refuses for any other reason is sent one event at a time.
func (s *Sender) SendBatch(ctx context.Context, evs []*outbox.Event) ([]outbox.SendResult, error) {
	results := make([]outbox.SendResult, len(evs))
	var batched, alone []int // indexes into evs
	for i, ev := range evs {
		rt, err := s.routeOf(ev)
		switch {
		case err != nil:
			results[i].Err = err
		case s.batch == nil || rt.own || !json.Valid(ev.Payload):
			alone = append(alone, i)
		default:
			batched = append(batched, i)
		}
	}

	// The caller bounds len(evs), so sending them all at once is bounded too.
	var wg sync.WaitGroup
	for _, i := range alone {
		wg.Go(func() { results[i].Receipt, results[i].Err = s.Send(ctx, evs[i]) })
	}
	var err error
	if len(batched) > 0 {
		err = s.postBatch(ctx, evs, batched, results)
	}
	if refused := (*refusedError)(nil); errors.As(err, &refused) {
		// Each event gets its own verdict from its own route instead: a
		// batch the endpoint will never take must neither kill its events
		// nor hold them back.
		s.warnRefused.Do(func() {
			s.log.Warn("httpsender: the batch endpoint refused a batch as a whole; its events are sent one by one while it does", "err", refused.err)
		})
		for _, i := range batched {
			wg.Go(func() { results[i].Receipt, results[i].Err = s.Send(ctx, evs[i]) })
		}
		err = nil
	}
	wg.Wait()
	switch {
	case err == nil:
		return results, nil
	case len(batched) == len(evs):
		return nil, err
	}
	for _, i := range batched {
		results[i] = outbox.SendResult{Err: err}
	}
	return results, nil
}

// postBatch posts the events of evs at idx to the batch route and fills
// their results. An error is the outcome of the whole request: it applies
// to every one of those events, and results is left alone.
func (s *Sender) postBatch(ctx context.Context, evs []*outbox.Event, idx []int, results []outbox.SendResult) error {
	req := request{path: s.batch.path, url: s.batch.url, header: http.Header{}, body: s.batchBody(evs, idx), limit: maxBatchBodyBytes}
	setCommonHeaders(req.header, *s.batch)
	// Every event in it carries its own key, so the request is safe to
	// repeat: an empty Idempotency-Key tells net/http so (it then retries
	// the request on a fresh connection when a kept-alive one turns out
	// closed) and is not sent.
	req.header["Idempotency-Key"] = nil
	rep, err := s.exchange(ctx, req)
	if err != nil {
		return err
	}
	if err := s.batchStatusError(rep, time.Now()); err != nil {
		return err
	}
	byID, err := s.parseResults(rep)
	for _, i := range idx {
		ev := evs[i]
		switch res, ok := byID[ev.ID]; {
		case err != nil:
			results[i].Err = outbox.TransientError(err, 0)
		case !ok:
			results[i].Err = outbox.TransientError(fmt.Errorf(
				"POST %s: %s, but the response has no result for this event; it will be retried under the same idempotency key",
				s.batch.path, statusText(rep.StatusCode)), 0)
		default:
			results[i].Receipt, results[i].Err = s.classifyResult(s.routes[ev.Type].path, rep.StatusCode, res)
		}
	}
	return nil
}

// batchItem is an event in a batch request, but for its payload, which
// batchBody splices in byte for byte.
type batchItem struct {
	ID       uuid.UUID         `json:"id"`
	Type     string            `json:"type"`
	Path     string            `json:"path"`
	Attempt  int               `json:"attempt"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// batchBody is the body of the batch request for the events of evs at idx,
// whose payloads are valid JSON.
func (s *Sender) batchBody(evs []*outbox.Event, idx []int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"events":[`)
	for n, i := range idx {
		ev := evs[i]
		item := batchItem{ID: ev.ID, Type: ev.Type, Path: s.routes[ev.Type].path, Attempt: ev.Attempts}
		for k, v := range ev.Metadata {
			if sendableMeta(k, v) {
				if item.Metadata == nil {
					item.Metadata = map[string]string{}
				}
				item.Metadata[k] = v
			}
		}
		head, err := json.Marshal(item)
		if err != nil { // strings, an int and a UUID always marshal
			panic("httpsender: marshal batch item: " + err.Error())
		}
		if n > 0 {
			b.WriteByte(',')
		}
		// Spliced rather than marshalled as a json.RawMessage, which would
		// be compacted and HTML-escaped: the backend gets the payload's
		// bytes as Send would post them.
		b.Write(head[:len(head)-1])
		b.WriteString(`,"payload":`)
		b.Write(ev.Payload)
		b.WriteByte('}')
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// refusedError is a batch request refused as a whole with a status that
// says nothing about its events (no such endpoint, too large, a 4xx): the
// events are then sent one by one.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// batchStatusError classifies a response to a batch request whose status
// is not 2xx, or returns nil. Only 401, handled by exchange, and statuses
// that say "try again later" are classified as for a single event. The
// events' own verdicts are in a 2xx response's results, so any other
// refusal is about the batch endpoint (missing, misconfigured, or unable to
// take a batch this size) and is a refusedError.
func (s *Sender) batchStatusError(rep reply, now time.Time) error {
	path, code := s.batch.path, rep.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusNotFound, code == http.StatusMethodNotAllowed, code == http.StatusNotImplemented:
		return &refusedError{fmt.Errorf(
			"POST %s: %s: the backend has no batch endpoint there; check httpsender.WithBatchRoute, or drop it to post events one by one%s",
			path, statusText(code), problemNote(rep.Header, rep.body))}
	case s.verdict(code) == retryable:
		return outbox.TransientError(statusError(path, code, rep.Header, rep.body), parseRetryAfter(rep.Header.Get("Retry-After"), now))
	case code == http.StatusRequestEntityTooLarge:
		return &refusedError{fmt.Errorf(
			"POST %s: %s: the backend refuses a batch this large; lower the processor's Config.SendBatch%s",
			path, statusText(code), problemNote(rep.Header, rep.body))}
	case code >= 300 && code < 400:
		return &refusedError{redirectError(path, rep.Response)}
	}
	return &refusedError{fmt.Errorf(
		"POST %s: %s: the backend refuses the batch request as a whole; check that httpsender.WithBatchRoute names the backend's batch endpoint and that it accepts this package's batch format%s",
		path, statusText(code), problemNote(rep.Header, rep.body))}
}

// parseResults returns the results of a 2xx batch response by event id, or
// an error saying why the body holds none. Results that are not objects
// with a UUID "id" are skipped, and only the first result for an id counts.
func (s *Sender) parseResults(rep reply) (map[uuid.UUID]batchResult, error) {
	prefix := "POST " + s.batch.path + ": " + statusText(rep.StatusCode)
	const retried = "; its events will be retried under the same idempotency keys"
	if !rep.complete {
		return nil, fmt.Errorf("%s, but the response body is larger than %d KiB%s", prefix, maxBatchBodyBytes>>10, retried)
	}
	var doc struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(rep.body, &doc); err != nil || doc.Results == nil {
		return nil, fmt.Errorf(`%s, but the response body is not {"results":[...]}%s`, prefix, retried)
	}
	byID := make(map[uuid.UUID]batchResult, len(doc.Results))
	for _, raw := range doc.Results {
		res, ok := readBatchResult(raw, s.resultRemoteIDField())
		if !ok {
			continue
		}
		id, ok := res.eventID()
		if !ok {
			continue
		}
		if _, seen := byID[id]; !seen {
			byID[id] = res
		}
	}
	return byID, nil
}

// resultRemoteIDField is the member of a batch result that holds the remote
// id: in a batch result, "id" names the event.
func (s *Sender) resultRemoteIDField() string {
	if s.remoteIDField == "id" {
		return batchRemoteIDField
	}
	return s.remoteIDField
}

// classifyResult turns one event's result in a batch response (answered
// with status code) into a receipt or a classified error. The event's
// status means what it would mean as the status of a response to the event
// alone (see Sender.verdict), but a result carries no Retry-After. Of a
// failed result's other fields only a problem document's "type" and
// "title" are kept: an "error" text may echo the payload.
func (s *Sender) classifyResult(eventPath string, code int, res batchResult) (outbox.Receipt, error) {
	label := s.batch.path + " (event for " + eventPath + ")"
	status, ok := res.statusCode()
	if !ok || status < 100 || status > 599 {
		return outbox.Receipt{}, outbox.TransientError(fmt.Errorf(
			"POST %s: %s, but the result for this event has no valid status (an HTTP status code such as 201); it will be retried under the same idempotency key",
			s.batch.path, statusText(code)), 0)
	}
	failure := func() error {
		return &responseError{code: status, msg: "POST " + label + ": " + statusText(status) + problemFields(res.problem())}
	}
	switch s.verdict(status) {
	case delivered:
		return outbox.Receipt{RemoteID: remoteIDIn(res.remoteID)}, nil
	case inProgress:
		return outbox.Receipt{}, outbox.InProgressError(failure(), 0)
	case retryable:
		return outbox.Receipt{}, outbox.TransientError(failure(), 0)
	case unauthorized:
		return outbox.Receipt{}, outbox.UnavailableError(&responseError{code: status, msg: "POST " + label + ": " + statusText(status) +
			": the backend refuses our credentials for this event; check the token source or the backend's access rules" + problemFields(res.problem())})
	default: // redirected (a result cannot redirect) and rejected
		return outbox.Receipt{}, outbox.PermanentError(failure())
	}
}
