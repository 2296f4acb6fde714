package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// receipt is the body of a successful answer: the receiver's id for the
// entity, which the sender stores, and whether the change was applied.
type receipt struct {
	ID      string `json:"id"`
	Applied bool   `json:"applied"`
}

// serveOne takes one event posted to its metric's route.
func (h *Handler) serveOne(ctx context.Context, w http.ResponseWriter, r *http.Request, route, subject string) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		problem("missing-key", "").write(w)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.limits.Body))
	if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
		problem("too-large", "").write(w)
		return
	}
	if err != nil {
		// The client went away or sent a broken body: nobody reads this.
		problem("malformed", "").write(w)
		return
	}
	d := &delivery{rawKey: key, eventType: r.Header.Get("X-Outbox-Event-Type"), path: route, payload: body, subject: subject}
	h.check(ctx, d)
	h.run(ctx, []*delivery{d})
	d.outcome.write(w)
}

// write writes o as the answer to a single request. A stored answer given
// again says so in Idempotent-Replayed.
func (o *outcome) write(w http.ResponseWriter) {
	if o.problem != nil {
		o.problem.write(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if o.replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.WriteHeader(o.answer.Status)
	_ = json.NewEncoder(w).Encode(receipt{ID: o.answer.BackendID, Applied: o.answer.Applied})
}
