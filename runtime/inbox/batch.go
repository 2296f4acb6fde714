package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// batchRequest is the body of a batch request, in the format of
// runtime/httpsender.
type batchRequest struct {
	Events []batchEvent `json:"events"`
}

// batchEvent is one event of a batch: what a single request would carry in
// its headers, and its payload byte for byte.
type batchEvent struct {
	ID       string            `json:"id"`
	Type     string            `json:"type"`
	Path     string            `json:"path"`
	Attempt  int               `json:"attempt"`
	Metadata map[string]string `json:"metadata"`
	Payload  json.RawMessage   `json:"payload"`
}

// batchResult is one event's result: the status its single request would
// get, and that answer's receipt or problem.
type batchResult struct {
	ID       string       `json:"id"`
	Status   int          `json:"status"`
	RemoteID string       `json:"remote_id,omitempty"`
	Applied  *bool        `json:"applied,omitempty"`
	Replayed bool         `json:"replayed,omitempty"`
	Type     string       `json:"type,omitempty"`
	Title    string       `json:"title,omitempty"`
	Detail   string       `json:"detail,omitempty"`
	Errors   []FieldError `json:"errors,omitempty"`
}

// serveBatch takes a batch: each event gets the answer it would get alone,
// as a result of a 200 answer. What concerns the request as a whole
// (credentials, size, format) is answered for the whole.
func (h *Handler) serveBatch(ctx context.Context, w http.ResponseWriter, r *http.Request, subject string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.limits.BatchBody))
	if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
		problem("too-large", fmt.Sprintf("a batch may hold at most %d bytes; send fewer events per batch", h.cfg.limits.BatchBody)).write(w)
		return
	}
	var req batchRequest
	if err != nil || json.Unmarshal(body, &req) != nil || req.Events == nil {
		problem("not-a-batch", "").write(w)
		return
	}
	if len(req.Events) > h.cfg.limits.BatchEvents {
		problem("too-large", fmt.Sprintf("a batch may hold at most %d events; send fewer events per batch", h.cfg.limits.BatchEvents)).write(w)
		return
	}
	ds := make([]*delivery, len(req.Events))
	for i, ev := range req.Events {
		d := &delivery{rawKey: ev.ID, eventType: ev.Type, path: ev.Path, payload: ev.Payload, subject: subject}
		if int64(len(ev.Payload)) > h.cfg.limits.Body {
			d.outcome = &outcome{problem: problem("too-large", "")}
		} else {
			h.check(ctx, d)
		}
		ds[i] = d
	}
	h.run(ctx, ds)

	results := make([]batchResult, len(ds))
	for i, d := range ds {
		res := batchResult{ID: req.Events[i].ID, Status: d.outcome.status()}
		if p := d.outcome.problem; p != nil {
			res.Type, res.Title, res.Detail, res.Errors = p.Type, p.Title, p.Detail, p.Errors
		} else {
			res.RemoteID, res.Applied, res.Replayed = d.outcome.answer.BackendID, &d.outcome.answer.Applied, d.outcome.replayed
		}
		results[i] = res
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Results []batchResult `json:"results"`
	}{results})
}
