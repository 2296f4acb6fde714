package console

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Options configure a console.
type Options struct {
	// Store is the outbox shown. Required.
	Store Store
	// Auth decides who may use the console. Required: Anonymous() lets
	// everyone in, for a handler that only its machine can reach.
	Auth Authenticator
	// AllowActions enables retry, discard, bulk retry and pause/resume.
	// Without it the console is read-only and refuses them.
	AllowActions bool
	// Prefix is the path the handler is mounted at, e.g. "/outbox"; ""
	// for the root. Links and forms are made under it.
	Prefix string
	// Name describes the database in the page's header, e.g. "PostgreSQL
	// database app on db:5432 as user ops". Never put a password in it.
	Name string
	// Logger receives the audit log (payloads revealed, actions taken,
	// sign-ins refused). Default slog.Default().
	Logger *slog.Logger
	// Refresh is how often the overview updates itself. Default 5 s.
	Refresh time.Duration
	// Pauser, History and Bulk are optional: nil uses the Store's own
	// operator pauses, attempt history and bulk retries.
	Pauser  Pauser
	History AttemptHistory
	Bulk    BulkRetrier
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// console serves the pages.
type console struct {
	opts    Options
	log     *slog.Logger
	csrfKey []byte
	pages   *pages
}

// New returns the console's handler. It serves every path under
// opts.Prefix; mount it there, e.g. mux.Handle("/outbox/", h).
func New(opts Options) (http.Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("console: Options.Store is required")
	}
	if opts.Auth == nil {
		return nil, errors.New("console: Options.Auth is required; console.Anonymous() lets everyone in")
	}
	opts.Prefix = strings.TrimSuffix(opts.Prefix, "/")
	if opts.Prefix != "" && !strings.HasPrefix(opts.Prefix, "/") {
		return nil, fmt.Errorf("console: Prefix %q must start with /", opts.Prefix)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Pauser == nil {
		opts.Pauser = storeSeams{opts.Store}
	}
	if opts.History == nil {
		opts.History = storeSeams{opts.Store}
	}
	if opts.Bulk == nil {
		opts.Bulk = storeSeams{opts.Store}
	}
	pg, err := loadPages()
	if err != nil {
		return nil, err
	}
	c := &console{opts: opts, log: opts.Logger, csrfKey: make([]byte, 32), pages: pg}
	rand.Read(c.csrfKey)
	return c.routes(), nil
}

// routes builds the handler: security headers on everything, then
// authentication (but for the sign-in form and the static files), then
// cross-origin protection, then the pages.
func (c *console) routes() http.Handler {
	p := c.opts.Prefix
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+p+"/{$}", c.overview)
	mux.HandleFunc("GET "+p+"/live", c.overviewLive)
	mux.HandleFunc("GET "+p+"/events", c.events)
	mux.HandleFunc("GET "+p+"/events/{id}", c.event)
	mux.HandleFunc("POST "+p+"/events/{id}/reveal", c.reveal)
	mux.HandleFunc("GET "+p+"/events/{id}/{action}", c.confirmEventAction)
	mux.HandleFunc("POST "+p+"/events/{id}/{action}", c.eventAction)
	mux.HandleFunc("GET "+p+"/retry", c.confirmBulkRetry)
	mux.HandleFunc("POST "+p+"/retry", c.bulkRetry)
	mux.HandleFunc("GET "+p+"/pause", c.confirmPause)
	mux.HandleFunc("POST "+p+"/pause", c.pause)
	mux.HandleFunc("POST "+p+"/resume", c.resume)
	if p != "" {
		mux.Handle("GET "+p, http.RedirectHandler(p+"/", http.StatusMovedPermanently))
	}
	cop := http.NewCrossOriginProtection()
	protected := cop.Handler(mux)
	signIn := cop.Handler(http.HandlerFunc(c.signIn))
	static := http.StripPrefix(p+"/static/", staticFiles())
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == p+"/sign-in":
			signIn.ServeHTTP(w, r)
			return
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, p+"/static/"):
			static.ServeHTTP(w, r) // the stylesheet and script: no data, and the sign-in page needs them
			return
		}
		who, ok := c.opts.Auth.Authenticate(r)
		if !ok {
			c.challenge(w, r)
			return
		}
		protected.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, who)))
	})
	return securityHeaders(h)
}

type userKey struct{}

// user is who sent r, as Auth named them.
func user(r *http.Request) string {
	who, _ := r.Context().Value(userKey{}).(string)
	return who
}
