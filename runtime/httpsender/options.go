package httpsender

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Defaults used when no option says otherwise.
const (
	// DefaultTimeout bounds each request, from sending it to reading the
	// response body.
	DefaultTimeout = 15 * time.Second
	// DefaultRemoteIDField is the JSON field of a delivered response body
	// that holds the backend's id for the entity.
	DefaultRemoteIDField = "id"
)

// Option configures a [Sender]; pass options to [New].
type Option func(*config)

type config struct {
	client        *http.Client
	clientSet     bool
	timeout       time.Duration
	header        http.Header
	routeHeader   map[string]http.Header // by event type
	remoteIDField string
	batchPath     string
	batchSet      bool
	tokens        TokenSource
	tlsConfig     *tls.Config
	tlsSet        bool
	logger        *slog.Logger
	loggerSet     bool
	conflictDone  bool
	errs          []error
}

// WithClient makes the sender use c instead of its own client. The sender
// copies c and never follows redirects (a redirected POST may turn into a
// GET without a body), so c's CheckRedirect is ignored; its Transport,
// Jar and Timeout are used as they are. Without this option the sender has a
// client of its own with a keep-alive Transport (as many idle connections
// per host as outbox.DefaultConcurrency) and bounded dial and TLS handshake times.
func WithClient(c *http.Client) Option {
	return func(cfg *config) {
		cfg.client, cfg.clientSet = c, true
	}
}

// WithTimeout bounds each request, from sending it to reading the response
// body, a batch request included; the default is [DefaultTimeout]. A
// request that gets no response headers in time fails as unavailable. A send that meets a 401 with a
// [TokenSource] makes a second request with a timeout of its own, so a
// processor's lease should exceed twice the timeout plus the time the token
// source may take.
func WithTimeout(d time.Duration) Option {
	return func(cfg *config) {
		if d <= 0 {
			cfg.errs = append(cfg.errs, fmt.Errorf("WithTimeout(%s): the timeout must be positive; omit the option for the default of %s", d, DefaultTimeout))
			return
		}
		cfg.timeout = d
	}
}

// WithHeader adds a header to every request, e.g. an API key. It may replace
// User-Agent but not the headers the sender's contract relies on
// (Content-Type, Idempotency-Key, X-Outbox-*); a later WithHeader with the
// same key wins. For bearer tokens prefer [WithTokenSource], which can
// refresh an expired token.
func WithHeader(key, value string) Option {
	return func(cfg *config) {
		if err := checkHeader(key, value); err != nil {
			cfg.errs = append(cfg.errs, fmt.Errorf("WithHeader(%q): %w", key, err))
			return
		}
		cfg.header.Set(key, value)
	}
}

// WithRouteHeader adds a header to the requests of one event type, e.g. a
// tenant or an API version that only one route needs. The same rules as for
// [WithHeader] apply; for that event type it wins over a WithHeader with the
// same key. eventType must have a route, or [New] fails.
func WithRouteHeader(eventType, key, value string) Option {
	return func(cfg *config) {
		if err := checkHeader(key, value); err != nil {
			cfg.errs = append(cfg.errs, fmt.Errorf("WithRouteHeader(%q, %q): %w", eventType, key, err))
			return
		}
		if cfg.routeHeader[eventType] == nil {
			cfg.routeHeader[eventType] = http.Header{}
		}
		cfg.routeHeader[eventType].Set(key, value)
	}
}

// checkHeader says what is wrong with a header an option adds. The error
// never quotes the value, which may be a secret.
func checkHeader(key, value string) error {
	switch {
	case !validToken(key):
		return errors.New("not a valid header name; use letters, digits and - only")
	case !validValue(value):
		return errors.New("the value contains control characters; remove them")
	case reservedHeader(http.CanonicalHeaderKey(key)):
		return errors.New("the sender sets this header itself; drop the option")
	}
	return nil
}

// WithLogger sets the logger for the sender's warnings; the default is
// [slog.Default] at the time [New] is called. The sender never logs a
// payload, a header value or a token.
func WithLogger(l *slog.Logger) Option {
	return func(cfg *config) {
		cfg.logger, cfg.loggerSet = l, true
	}
}

// WithConflictAsDelivered makes a 409 Conflict mean "the backend already
// has this event": the event is delivered, and the remote id is read from
// the 409's body. Use it only for a backend that answers a repeated
// idempotency key that way. Without it a 409 means what the IETF
// Idempotency-Key draft says: a request with this key is still being
// processed, so the event is tried again soon without spending an attempt.
// Beware: with this option a backend that answers 409 for another reason
// (a version conflict, a unique constraint) gets the event marked
// delivered, and the entry synced, although it did not take the change.
func WithConflictAsDelivered() Option {
	return func(cfg *config) { cfg.conflictDone = true }
}

// WithRemoteIDField names the JSON field of a delivered (2xx)
// response body that holds the backend's id for the entity; the default is
// [DefaultRemoteIDField]. A delivered result in a batch response holds it in
// the same field, except that "id" names the event there: while the field
// is "id", a batch result holds the remote id in "remote_id".
func WithRemoteIDField(name string) Option {
	return func(cfg *config) {
		if name == "" {
			cfg.errs = append(cfg.errs, fmt.Errorf("WithRemoteIDField(\"\"): the field name is empty; omit the option for the default %q", DefaultRemoteIDField))
			return
		}
		cfg.remoteIDField = name
	}
}

// WithBatchRoute names the backend's batch endpoint: path, under the base
// URL, accepts several events in one request (see "Batches" in the package
// documentation), and [Sender.SendBatch] posts to it. path starts with "/",
// e.g. "/v1/batch", and is not the route of an event type. Without this
// option SendBatch posts each event to its own route, as Send does.
func WithBatchRoute(path string) Option {
	return func(cfg *config) {
		switch {
		case path == "":
			cfg.errs = append(cfg.errs, errors.New(`WithBatchRoute(""): the path is empty; give the backend's batch endpoint, e.g. "/v1/batch", or omit the option to post events one by one`))
			return
		case !strings.HasPrefix(path, "/"):
			cfg.errs = append(cfg.errs, fmt.Errorf(`WithBatchRoute(%q): the path must start with "/", e.g. "/v1/batch"`, path))
			return
		}
		cfg.batchPath, cfg.batchSet = path, true
	}
}

// reservedHeader reports whether the sender owns the canonical header key.
func reservedHeader(canon string) bool {
	switch canon {
	case "Content-Type", "Content-Length", "Transfer-Encoding", "Host", "Idempotency-Key":
		return true
	}
	return strings.HasPrefix(canon, "X-Outbox-")
}

// validToken reports whether s is a valid header name (an RFC 9110 token).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validValue reports whether s can be sent as a header value: no control
// characters other than horizontal tab.
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
