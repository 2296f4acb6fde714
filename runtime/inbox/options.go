package inbox

import (
	"log/slog"
	"time"
)

// Limits bound what a receiver reads. Zero fields take the defaults.
type Limits struct {
	// Body bounds a single request's body, and each payload of a batch
	// (default 64 KiB).
	Body int64
	// BatchBody bounds a batch request's body (default 8 MiB), and
	// BatchEvents the events in it (default 1000). httpsender sends at most
	// the processor's Config.SendBatch events at a time.
	BatchBody   int64
	BatchEvents int
}

// Default limits and timeout.
const (
	DefaultBodyLimit      = 64 << 10
	DefaultBatchBodyLimit = 8 << 20
	DefaultBatchEvents    = 1000
	// DefaultTimeout bounds the processing of one request, from its body
	// read to its commit.
	DefaultTimeout = 30 * time.Second
)

// Option configures a Handler; pass options to New.
type Option func(*config)

type config struct {
	auth      Authenticator
	anonymous bool
	authorize Authorizer
	limits    Limits
	timeout   time.Duration
	log       *slog.Logger
}

func defaults() config {
	return config{
		limits:  Limits{Body: DefaultBodyLimit, BatchBody: DefaultBatchBodyLimit, BatchEvents: DefaultBatchEvents},
		timeout: DefaultTimeout,
		log:     slog.Default(),
	}
}

// WithAuthenticator makes every request prove who sent it; requests a
// refuses are answered 401. New requires it, or WithoutAuthentication.
func WithAuthenticator(a Authenticator) Option { return func(c *config) { c.auth = a } }

// WithoutAuthentication lets requests in without credentials. It is for
// tests and for receivers behind something that authenticates for them;
// New refuses to build a handler that has neither it nor an
// Authenticator, so that no receiver is open by mistake.
func WithoutAuthentication() Option { return func(c *config) { c.anonymous = true } }

// WithAuthorizer makes every change pass a, which sees the request's
// subject and the payload's user id.
func WithAuthorizer(a Authorizer) Option { return func(c *config) { c.authorize = a } }

// WithLimits bounds what the handler reads; zero fields keep the defaults.
func WithLimits(l Limits) Option {
	return func(c *config) {
		if l.Body > 0 {
			c.limits.Body = l.Body
		}
		if l.BatchBody > 0 {
			c.limits.BatchBody = l.BatchBody
		}
		if l.BatchEvents > 0 {
			c.limits.BatchEvents = l.BatchEvents
		}
	}
}

// WithTimeout bounds the processing of one request, single or batch, from
// its body read to its commit (default DefaultTimeout). A request cut off
// commits nothing; the sender's repeat is processed afresh.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithLogger sets the logger for failures to apply or record changes (the
// default is slog.Default at the time New is called). It never logs a
// payload or a header value.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }
