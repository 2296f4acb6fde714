package inbox

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/google/uuid"
)

// delivery is one event as received, alone or in a batch, on its way to
// an outcome.
type delivery struct {
	rawKey    string // the Idempotency-Key (or batch item id) as sent
	key       string // the same, as a canonical UUID
	eventType string
	path      string // the route it was posted (or would be posted) to
	payload   []byte
	subject   string

	metric  *metric
	kind    Kind
	decoded Decoded
	outcome *outcome // set once decided
}

// outcome is the answer a delivery gets.
type outcome struct {
	answer   Answer
	replayed bool     // answer is a stored one, given again
	problem  *Problem // set for an error answer
}

// check decides what can be decided of d before any transaction: its key,
// route, event type and payload, and whether its subject may send it. It
// leaves d without an outcome if it should be processed.
func (h *Handler) check(ctx context.Context, d *delivery) {
	fail := func(p *Problem) { d.outcome = &outcome{problem: p} }
	if d.rawKey == "" {
		fail(problem("missing-key", ""))
		return
	}
	id, err := uuid.Parse(d.rawKey)
	if err != nil {
		fail(problem("invalid-key", "the key must be the UUID of the sender's event"))
		return
	}
	d.key = id.String()
	metrics, ok := h.routes[d.path]
	if !ok {
		fail(problem("not-found", ""))
		return
	}
	for _, m := range metrics {
		if k, ok := m.kinds[d.eventType]; ok {
			d.metric, d.kind = m, k
		}
	}
	if d.metric == nil {
		fail(problem("wrong-event-type", ""))
		return
	}
	d.decoded, err = d.metric.decode(d.eventType, d.payload)
	if invalid := (*InvalidPayload)(nil); errors.As(err, &invalid) {
		p := problem("invalid-payload", fieldDetail(invalid.Errors))
		p.Errors = invalid.Errors
		fail(p)
		return
	}
	if err != nil {
		fail(problem("malformed", ""))
		return
	}
	if h.cfg.authorize == nil {
		return
	}
	err = h.cfg.authorize(ctx, Access{
		Subject: d.subject, Metric: d.metric.name, EventType: d.eventType,
		UserID: d.decoded.UserID, EntityID: d.decoded.EntityID,
	})
	switch {
	case errors.Is(err, ErrForbidden):
		fail(problem("forbidden", ""))
	case err != nil:
		h.cfg.log.Error("inbox: the authorizer failed", "metric", d.metric.name, "key", d.key, "err", err)
		fail(problem("failed", "the authorizer failed"))
	}
}

// fingerprint identifies the request that carried d's key: a repeat has
// the same event type and payload, byte for byte, whether it comes alone
// or in a batch.
func (d *delivery) fingerprint() []byte {
	h := sha256.New()
	h.Write([]byte(d.eventType))
	h.Write([]byte{'\n'})
	h.Write(d.payload)
	return h.Sum(nil)
}

// entity is d's entity at the version d brings; backendID is the id it
// gets if it is new.
func (d *delivery) entity(backendID string) Entity {
	return Entity{
		Metric: d.metric.name, ID: d.decoded.EntityID, UserID: d.decoded.UserID,
		Version: d.decoded.Version, Deleted: d.kind == Deleted, BackendID: backendID,
	}
}

// change is d as its metric's Apply gets it, once its entity advanced.
func (d *delivery) change(a Advanced) Change {
	return Change{
		Key: d.key, EventType: d.eventType, Kind: d.kind, Metric: d.metric.name,
		EntityID: d.decoded.EntityID, UserID: d.decoded.UserID, Version: d.decoded.Version,
		BackendID: a.BackendID, First: a.First, DeletedAt: d.decoded.DeletedAt, Subject: d.subject,
	}
}

// fail gives d the outcome of err, which kept its change from being
// applied or recorded: a Problem the application returned, or a failure,
// logged here (without the payload) and answered 500 so that the sender
// tries again.
func (d *delivery) fail(err error, log *slog.Logger) {
	if p := (*Problem)(nil); errors.As(err, &p) && p.Status >= 400 && p.Status < 500 {
		d.outcome = &outcome{problem: p}
		return
	}
	level := slog.LevelError
	if errors.Is(err, context.Canceled) {
		// The sender hung up first: it will send again, nothing is wrong here.
		level = slog.LevelInfo
	}
	log.Log(context.Background(), level, "inbox: a change was not applied", "metric", d.metric.name, "event_type", d.eventType, "key", d.key, "err", err)
	d.outcome = &outcome{problem: problem("failed", "")}
}

// status is the HTTP status of o.
func (o *outcome) status() int {
	if o.problem != nil {
		return o.problem.Status
	}
	return o.answer.Status
}

// answerOf is the answer to a change that advanced (applied) or did not.
func answerOf(d *delivery, a Advanced, applied bool) Answer {
	status := http.StatusOK
	if applied && a.First && d.kind != Deleted {
		status = http.StatusCreated
	}
	return Answer{Status: status, BackendID: a.BackendID, Applied: applied}
}

// describe names d in errors.
func (d *delivery) describe() string { return fmt.Sprintf("%s %s", d.eventType, d.key) }
