package httpsender

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// Sender posts outbox events to an HTTP backend. It implements
// [outbox.Sender] and is safe for concurrent use.
type Sender struct {
	client        *http.Client
	routes        map[string]route
	batch         *route // the WithBatchRoute endpoint; nil without one
	timeout       time.Duration
	auth          *auth // nil without WithTokenSource
	remoteIDField string
	log           *slog.Logger
	warnRefused   sync.Once // the batch endpoint refused a batch as a whole
	// conflictDelivered makes a 409 mean delivered (WithConflictAsDelivered).
	conflictDelivered bool
}

// route is where events of one type go, or where batches go.
type route struct {
	path   string      // as configured; error messages name it
	url    string      // base URL + path
	header http.Header // WithHeader extras with the route's WithRouteHeader ones
	// own is true when the route has WithRouteHeader headers, which a
	// batch request shared with other types cannot carry.
	own bool
}

var (
	_ outbox.Sender        = (*Sender)(nil)
	_ outbox.BatchSender   = (*Sender)(nil)
	_ outbox.TimeoutSender = (*Sender)(nil)
	_ outbox.Pinger        = (*Sender)(nil)
)

// New returns a sender posting each event to baseURL + the route of its
// type. baseURL must be an absolute http or https URL without a query, e.g.
// "https://api.example.com" or "https://example.com/api"; routes maps each
// event type to a path starting with "/", e.g. "weight.created" →
// "/v1/weight". Events of a type without a route fail permanently.
func New(baseURL string, routes map[string]string, opts ...Option) (*Sender, error) {
	base, baseURLParsed, err := parseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	if len(routes) == 0 {
		return nil, errors.New(`httpsender: no routes; map each event type to a path, e.g. "weight.created": "/v1/weight"`)
	}
	s := &Sender{routes: make(map[string]route, len(routes))}
	for _, typ := range slices.Sorted(maps.Keys(routes)) {
		path := routes[typ]
		switch {
		case typ == "":
			return nil, errors.New("httpsender: a route has an empty event type; key routes by event type, e.g. \"weight.created\"")
		case !validValue(typ):
			return nil, fmt.Errorf("httpsender: event type %q contains control characters; event types are sent as a header", typ)
		case !strings.HasPrefix(path, "/"):
			return nil, fmt.Errorf("httpsender: route %q for event type %q must start with \"/\", e.g. \"/v1/weight\"", path, typ)
		}
		if _, err := url.Parse(base + path); err != nil {
			return nil, fmt.Errorf("httpsender: route %q for event type %q does not make a valid URL (%v); fix the path", path, typ, urlErrCause(err))
		}
		s.routes[typ] = route{path: path, url: base + path}
	}

	cfg := config{
		timeout: DefaultTimeout, header: http.Header{}, routeHeader: map[string]http.Header{},
		remoteIDField: DefaultRemoteIDField,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	if cfg.clientSet && cfg.client == nil {
		cfg.errs = append(cfg.errs, errors.New("WithClient(nil): the client is nil; omit the option to use the sender's own client"))
	}
	if cfg.loggerSet && cfg.logger == nil {
		cfg.errs = append(cfg.errs, errors.New("WithLogger(nil): the logger is nil; omit the option to log through slog.Default()"))
	}
	cfg.checkTLS()
	s.setRouteHeaders(&cfg)
	s.setBatchRoute(&cfg, base)
	if len(cfg.errs) > 0 {
		return nil, fmt.Errorf("httpsender: %w", errors.Join(cfg.errs...))
	}
	if cfg.client != nil {
		c := *cfg.client
		c.CheckRedirect = noRedirects
		s.client = &c
	} else {
		s.client = defaultClient(senderTLS(cfg.tlsConfig))
	}
	if cfg.tokens != nil {
		s.auth = newAuth(cfg.tokens)
	}
	s.timeout, s.remoteIDField, s.conflictDelivered = cfg.timeout, cfg.remoteIDField, cfg.conflictDone
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	s.log = cfg.logger
	warnInsecure(cfg.logger, baseURLParsed, cfg.tlsConfig)
	return s, nil
}

// setRouteHeaders gives each route its headers, and adds to cfg.errs the
// headers that have no route or clash with the token source.
func (s *Sender) setRouteHeaders(cfg *config) {
	if cfg.tokens != nil && cfg.header.Get("Authorization") != "" {
		cfg.errs = append(cfg.errs, errors.New(`WithHeader("Authorization") and WithTokenSource both set the Authorization header; drop one`))
	}
	for _, typ := range slices.Sorted(maps.Keys(cfg.routeHeader)) {
		h := cfg.routeHeader[typ]
		for _, key := range slices.Sorted(maps.Keys(h)) {
			switch _, ok := s.routes[typ]; {
			case !ok:
				cfg.errs = append(cfg.errs, fmt.Errorf("WithRouteHeader(%q, %q): there is no route for event type %q; add one to the routes or fix the event type", typ, key, typ))
			case cfg.tokens != nil && key == "Authorization":
				cfg.errs = append(cfg.errs, fmt.Errorf(`WithRouteHeader(%q, "Authorization") and WithTokenSource both set the Authorization header; drop one`, typ))
			}
		}
	}
	for typ, rt := range s.routes {
		rt.header = cfg.header.Clone()
		for k, vs := range cfg.routeHeader[typ] {
			rt.header[k] = slices.Clone(vs)
		}
		rt.own = len(cfg.routeHeader[typ]) > 0
		s.routes[typ] = rt
	}
}

// setBatchRoute sets up the WithBatchRoute endpoint, if there is one, or
// adds to cfg.errs why its path cannot be used.
func (s *Sender) setBatchRoute(cfg *config, base string) {
	if !cfg.batchSet {
		return
	}
	path := cfg.batchPath
	if _, err := url.Parse(base + path); err != nil {
		cfg.errs = append(cfg.errs, fmt.Errorf("WithBatchRoute(%q): the path does not make a valid URL (%v); fix the path", path, urlErrCause(err)))
		return
	}
	// An event route's endpoint expects one event: it would reject a batch
	// as a whole, and batches would never get through.
	for _, typ := range slices.Sorted(maps.Keys(s.routes)) {
		if s.routes[typ].path == path {
			cfg.errs = append(cfg.errs, fmt.Errorf(`WithBatchRoute(%q): the path is the route of event type %q; give the backend's batch endpoint, e.g. "/v1/batch"`, path, typ))
			return
		}
	}
	s.batch = &route{path: path, url: base + path, header: cfg.header.Clone()}
}

// parseBaseURL checks baseURL and returns it without trailing slashes, and
// parsed.
func parseBaseURL(baseURL string) (string, *url.URL, error) {
	const example = `use an absolute URL such as "https://api.example.com"`
	u, err := url.Parse(baseURL)
	if err != nil {
		// The error would quote the URL, which may hold a password.
		return "", nil, fmt.Errorf("httpsender: base URL does not parse (%v); %s", urlErrCause(err), example)
	}
	switch {
	case u.Scheme == "":
		return "", nil, fmt.Errorf("httpsender: base URL %q has no scheme; start it with https:// or http://", u.Redacted())
	case u.Scheme != "http" && u.Scheme != "https":
		return "", nil, fmt.Errorf("httpsender: base URL %q has scheme %q; only http and https are supported", u.Redacted(), u.Scheme)
	case u.Host == "":
		return "", nil, fmt.Errorf("httpsender: base URL %q has no host; %s", u.Redacted(), example)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", nil, fmt.Errorf("httpsender: base URL %q has a query or fragment; give the scheme, host and optional path prefix only", u.Redacted())
	}
	return strings.TrimRight(u.String(), "/"), u, nil
}

// urlErrCause strips the URL from a url.Error.
func urlErrCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// defaultClient is a client of the sender's own, so that its connection
// pool is tuned for many small POSTs to one host and shared with nobody.
func defaultClient(tlsConfig *tls.Config) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			TLSClientConfig:       tlsConfig,
			TLSHandshakeTimeout:   10 * time.Second,
			MaxIdleConns:          outbox.DefaultConcurrency,
			MaxIdleConnsPerHost:   outbox.DefaultConcurrency,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: noRedirects,
	}
}

// noRedirects hands a 3xx back to Send, which treats it as permanent.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Ping sends OPTIONS to the route of ev's type, with the sender's headers
// and token, and returns nil when an answer other than a 5xx comes: the
// backend is up and serving (a 404 or a 405 says so as well as a 204). It
// implements [outbox.Pinger]: a processor pings before sending again an
// event whose request went unanswered, to tell an event that crashes the
// backend from a backend that answers nobody. OPTIONS is safe: it changes
// nothing on the server.
func (s *Sender) Ping(ctx context.Context, ev *outbox.Event) error {
	rt, err := s.routeOf(ev)
	if err != nil {
		return err
	}
	req := request{method: http.MethodOptions, path: rt.path, url: rt.url, header: http.Header{}, limit: maxBodyBytes}
	setCommonHeaders(req.header, rt)
	req.header.Del("Content-Type")
	rep, err := s.exchange(ctx, req)
	if err != nil {
		return err
	}
	if rep.StatusCode >= 500 {
		return fmt.Errorf("OPTIONS %s: %s", rt.path, statusText(rep.StatusCode))
	}
	return nil
}

// SendTimeout is the longest one request may take (see [WithTimeout]); it
// implements [outbox.TimeoutSender], so that a processor's lease is
// checked against it.
func (s *Sender) SendTimeout() time.Duration { return s.timeout }

// CloseIdleConnections closes the idle keep-alive connections of the
// sender's client (of the WithClient client's Transport, if one was given).
// Call it when the sender is no longer used.
func (s *Sender) CloseIdleConnections() { s.client.CloseIdleConnections() }

// Send posts ev to the route of its type and classifies the outcome as the
// package documentation describes. A nil error means the backend has the
// event.
func (s *Sender) Send(ctx context.Context, ev *outbox.Event) (outbox.Receipt, error) {
	rt, err := s.routeOf(ev)
	if err != nil {
		return outbox.Receipt{}, err
	}
	// Sized for every header it will hold, so that it does not grow.
	h := make(http.Header, len(ev.Metadata)+len(rt.header)+eventHeaders)
	req := request{path: rt.path, url: rt.url, header: h, body: ev.Payload, limit: maxBodyBytes}
	setHeaders(req.header, rt, ev)
	rep, err := s.exchange(ctx, req)
	if err != nil {
		return outbox.Receipt{}, err
	}
	return s.classify(rt.path, rep, time.Now())
}

// routeOf returns the route of ev's type, or the permanent error of an
// event that cannot be sent.
func (s *Sender) routeOf(ev *outbox.Event) (route, error) {
	if ev == nil {
		return route{}, outbox.PermanentError(errors.New("httpsender: nil event"))
	}
	rt, ok := s.routes[ev.Type]
	if !ok {
		return route{}, outbox.PermanentError(fmt.Errorf(
			"httpsender: no route for event type %q; add one to the routes passed to httpsender.New", ev.Type))
	}
	return rt, nil
}

// request is one POST the sender makes, to an event's route or to the
// batch route.
type request struct {
	method string      // POST unless set
	path   string      // as configured; error messages name it
	url    string      // base URL + path
	header http.Header // every header but Authorization; not modified
	body   []byte
	limit  int64 // how much of the response body to read
}

// reply is a response whose body has been read, up to the request's limit,
// and closed.
type reply struct {
	*http.Response
	body []byte
	// complete is false when the body was longer than the limit and body
	// holds only its start.
	complete bool
}

// exchange makes req, with a bearer token when the sender has a token
// source. A 401 makes it refresh the token and make req once more, so the
// backend sees the same request (and the same idempotency keys) twice at
// most. It returns the last reply, which is never a 401, or a classified
// error: no response, a failed token source, or a 401 that persists. When
// ctx is done it returns the wrapped ctx.Err(), unclassified.
func (s *Sender) exchange(ctx context.Context, req request) (reply, error) {
	if s.auth == nil {
		rep, err := s.post(ctx, req, "")
		if err == nil && rep.StatusCode == http.StatusUnauthorized {
			return reply{}, outbox.UnavailableError(noTokenSourceError(req.path, req.header, rep))
		}
		return rep, err
	}

	tok, gen, err := s.auth.token(ctx)
	if err != nil {
		return reply{}, tokenError(ctx, req.path, "the token source failed", err)
	}
	rep, err := s.post(ctx, req, tok)
	if err != nil || rep.StatusCode != http.StatusUnauthorized {
		return rep, err
	}
	if tok, err = s.auth.refresh(ctx, gen); err != nil {
		return reply{}, tokenError(ctx, req.path, "401 Unauthorized, and the token source failed to refresh the token", err)
	}
	if rep, err = s.post(ctx, req, tok); err != nil {
		return reply{}, err
	}
	if rep.StatusCode == http.StatusUnauthorized {
		return reply{}, outbox.UnavailableError(rejectedTokenError(req.path, rep))
	}
	return rep, nil
}

// post makes req once, with token as the bearer token unless it is empty,
// and returns the reply. A request that gets no response fails with a
// classified error, or with the caller's ctx.Err() when ctx is done.
func (s *Sender) post(ctx context.Context, req request, token string) (reply, error) {
	reqCtx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	// Whether the request was written whole tells a backend out of reach
	// (nothing to hold against the event) from one that got the request and
	// never answered (it may have crashed on this very event). net/http
	// tries again on a fresh connection when a kept-alive one dies after
	// the request was written; if the backend crashed on it, that dial is
	// refused, and the request was still delivered once: any try counts.
	var written atomic.Bool
	traced := httptrace.WithClientTrace(reqCtx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				written.Store(true)
			}
		},
	})
	method := cmp.Or(req.method, http.MethodPost)
	hreq, err := http.NewRequestWithContext(traced, method, req.url, bytes.NewReader(req.body))
	if err != nil { // New checked the URL; this is not expected.
		return reply{}, outbox.PermanentError(fmt.Errorf("%s %s: %w", method, req.path, urlErrCause(err)))
	}
	// The request owns req.header; only a token needs a copy, since a
	// 401 makes the same request again with another.
	hreq.Header = req.header
	if token != "" {
		hreq.Header = req.header.Clone()
		hreq.Header.Set("Authorization", "Bearer "+token)
	}

	resp, err := s.client.Do(hreq)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return reply{}, fmt.Errorf("%s %s: %w", method, req.path, ctx.Err())
		case tlsAlert(err):
			// TLS 1.3 lets the client write before the server has checked
			// its certificate: the server's refusal arrives as an alert,
			// and the backend never saw the request.
			return reply{}, outbox.UnavailableError(fmt.Errorf("%s %s: the TLS handshake failed: %w", method, req.path, urlErrCause(err)))
		case written.Load() && reqCtx.Err() != nil:
			return reply{}, outbox.UnansweredError(fmt.Errorf("%s %s: the request was sent, and no response came within %s: %w", method, req.path, s.timeout, urlErrCause(err)))
		case written.Load() && dialFailed(err):
			return reply{}, outbox.DroppedError(fmt.Errorf("%s %s: the request was sent on a kept-alive connection that ended without a response, and sending it again failed: %w", method, req.path, urlErrCause(err)))
		case written.Load():
			return reply{}, outbox.DroppedError(fmt.Errorf("%s %s: the request was sent, and the connection ended without a response: %w", method, req.path, urlErrCause(err)))
		case reqCtx.Err() != nil:
			return reply{}, outbox.UnavailableError(fmt.Errorf("%s %s: could not send the request within %s: %w", method, req.path, s.timeout, urlErrCause(err)))
		default:
			return reply{}, outbox.UnavailableError(fmt.Errorf("%s %s: %w", method, req.path, urlErrCause(err)))
		}
	}
	body, complete := readBody(resp.Body, req.limit)
	return reply{Response: resp, body: body, complete: complete}, nil
}

// dialFailed reports whether err is a failure to connect.
func dialFailed(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// tlsAlert reports whether err is a TLS alert from the server, such as a
// refused client certificate.
func tlsAlert(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "remote error"
}

// eventHeaders is how many headers setHeaders and setCommonHeaders add
// besides the metadata and the route's own.
const eventHeaders = 5

// setHeaders fills the headers of ev's request to rt.
func setHeaders(h http.Header, rt route, ev *outbox.Event) {
	for _, k := range slices.Sorted(maps.Keys(ev.Metadata)) {
		if v := ev.Metadata[k]; sendableMeta(k, v) {
			h.Set("X-Outbox-Meta-"+k, v)
		}
	}
	setCommonHeaders(h, rt)
	h.Set("Idempotency-Key", ev.ID.String())
	h.Set("X-Outbox-Event-Type", ev.Type)
	h.Set("X-Outbox-Attempt", strconv.Itoa(ev.Attempts))
}

// setCommonHeaders sets the headers every request to rt carries, an
// event's or a batch's.
func setCommonHeaders(h http.Header, rt route) {
	for k, vs := range rt.header {
		h[k] = slices.Clone(vs)
	}
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", "outboxgen")
	}
	h.Set("Content-Type", "application/json")
}

// sendableMeta reports whether a metadata entry is passed on: as a header
// it needs a valid header name and value, and a batch item carries the
// same entries so that a backend sees the same metadata either way.
func sendableMeta(key, value string) bool { return validToken(key) && validValue(value) }

// Response bodies are read up to maxBodyBytes (maxBatchBodyBytes for a
// batch, whose body holds a result per event) for the remote id, the
// results or the error excerpt, then drained up to maxDrainBytes more so
// the connection can be reused; a longer body costs a new connection, not
// unbounded reading.
const (
	maxBodyBytes      = 64 << 10
	maxBatchBodyBytes = 1 << 20
	maxDrainBytes     = 64 << 10
)

// readBody returns up to limit bytes from the start of body, whether that
// is all of it, and closes it. A read error just ends the data: the status
// code already says what happened.
func readBody(body io.ReadCloser, limit int64) (data []byte, complete bool) {
	defer body.Close()
	data, _ = io.ReadAll(io.LimitReader(body, limit+1))
	if int64(len(data)) > limit {
		data = data[:limit]
		_, _ = io.CopyN(io.Discard, body, maxDrainBytes)
		return data, false
	}
	return data, true
}
