package inbox

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
)

// Handler is the receiving end of an outbox: an http.Handler serving the
// route of every metric of its Contract and the batch route. Build it with
// New (a generated receiver package's New does). It is safe for concurrent
// use, and several handlers, in several processes, may share one store.
type Handler struct {
	cfg        config
	batchRoute string
	routes     map[string][]*metric // by path
	engine     engine
	inflight   inflight
}

// metric is what the handler knows of a Metric before any transaction.
type metric struct {
	name   string
	kinds  map[string]Kind // by event type
	decode func(eventType string, payload []byte) (Decoded, error)
}

// engine runs deliveries through a store's transactions.
type engine interface {
	process(ctx context.Context, ds []*delivery)
}

// New returns a handler that takes the changes of c's metrics, remembers
// their keys and versions in store, and applies each new change with its
// metric's Apply in the transaction that records its key. It needs an
// Authenticator (WithAuthenticator) or an explicit WithoutAuthentication.
func New[Tx any](store Store[Tx], c Contract[Tx], opts ...Option) (*Handler, error) {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.auth == nil && !cfg.anonymous:
		return nil, errors.New("inbox: no Authenticator: pass WithAuthenticator (e.g. with BearerToken), or WithoutAuthentication to take requests from anyone")
	case cfg.auth != nil && cfg.anonymous:
		return nil, errors.New("inbox: WithAuthenticator and WithoutAuthentication contradict each other")
	case store == nil:
		return nil, errors.New("inbox: no store")
	case !strings.HasPrefix(c.BatchRoute, "/"):
		return nil, fmt.Errorf("inbox: the batch route %q does not start with /", c.BatchRoute)
	}
	h := &Handler{cfg: cfg, batchRoute: c.BatchRoute, routes: map[string][]*metric{}, inflight: inflight{keys: map[string]struct{}{}}}
	e := &txEngine[Tx]{store: store, apply: map[string]func(context.Context, Tx, Change, any) error{}, log: cfg.log}
	for _, m := range c.Metrics {
		if m.Decode == nil || m.Apply == nil {
			return nil, fmt.Errorf("inbox: metric %q lacks Decode or Apply", m.Name)
		}
		if _, dup := e.apply[m.Name]; dup {
			return nil, fmt.Errorf("inbox: metric %q appears twice", m.Name)
		}
		if m.Route == c.BatchRoute {
			return nil, fmt.Errorf("inbox: metric %q is posted to the batch route %s", m.Name, m.Route)
		}
		e.apply[m.Name] = m.Apply
		h.routes[m.Route] = append(h.routes[m.Route], &metric{
			name:   m.Name,
			kinds:  map[string]Kind{m.Created: Created, m.Updated: Updated, m.Deleted: Deleted},
			decode: m.Decode,
		})
	}
	h.engine = e
	return h, nil
}

// ServeHTTP takes one event posted to its metric's route, or a batch
// posted to the batch route.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := h.route(r)
	_, single := h.routes[path]
	if !single && path != h.batchRoute {
		problem("not-found", "").write(w)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		problem("method-not-allowed", "").write(w)
		return
	}
	subject, p := h.authenticate(r)
	if p != nil {
		p.write(w)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		problem("unsupported-type", "").write(w)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.timeout)
	defer cancel()
	if single {
		h.serveOne(ctx, w, r, path, subject)
		return
	}
	h.serveBatch(ctx, w, r, subject)
}

// route is the route r is posted to: its path, or its path as sent, for a
// route with characters that travel escaped.
func (h *Handler) route(r *http.Request) string {
	if _, ok := h.routes[r.URL.Path]; ok || r.URL.Path == h.batchRoute {
		return r.URL.Path
	}
	return r.URL.EscapedPath()
}

// authenticate names the request's subject, or says why it cannot.
func (h *Handler) authenticate(r *http.Request) (string, *Problem) {
	if h.cfg.auth == nil {
		return "", nil
	}
	subject, err := h.cfg.auth.Authenticate(r)
	switch {
	case errors.Is(err, ErrUnauthenticated):
		return "", problem("unauthenticated", "")
	case err != nil:
		h.cfg.log.Error("inbox: the authenticator failed", "err", err)
		return "", problem("unavailable", "")
	}
	return subject, nil
}

// run processes deliveries that passed their checks, except those whose
// key another request of this process holds.
func (h *Handler) run(ctx context.Context, ds []*delivery) {
	var ready []*delivery
	for _, d := range ds {
		switch {
		case d.outcome != nil:
		case !h.inflight.acquire(d.key):
			d.outcome = &outcome{problem: problem("in-progress", "")}
		default:
			ready = append(ready, d)
			defer h.inflight.release(d.key)
		}
	}
	if len(ready) > 0 {
		h.engine.process(ctx, ready)
	}
}
