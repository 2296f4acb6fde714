package httpsender

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// TokenSource supplies the bearer token sent with every delivery.
//
// The sender calls Token before every request, from many goroutines at
// once, so an implementation must be safe for concurrent use and should
// cache its token rather than fetch one per call. Its errors end up in logs
// and in the outbox's record of the event's last error: they must never
// contain a token or another secret.
type TokenSource interface {
	// Token returns the current token. refresh is true after the backend answered 401 to the
	// previous token: the source should fetch a new one rather than return a cached token.
	Token(ctx context.Context, refresh bool) (string, error)
}

// StaticToken returns a source that always supplies token. A static token
// cannot be refreshed: once the backend answers 401 to it, sends fail as
// unavailable (without a second request) until the sender is rebuilt with a
// valid token.
func StaticToken(token string) TokenSource { return staticToken(token) }

type staticToken string

func (t staticToken) Token(_ context.Context, refresh bool) (string, error) {
	if refresh {
		return "", errors.New("a static token cannot be refreshed; supply a valid token, or a TokenSource that can fetch a new one")
	}
	return string(t), nil
}

// WithTokenSource makes every request carry "Authorization: Bearer <token>"
// with a token from ts. When the backend answers 401, the sender asks ts for
// a fresh token (refresh=true; concurrent sends that meet the same 401 share
// one refresh) and repeats the request once with the same Idempotency-Key. A
// 401 to the repeated request, or a failed refresh, fails the send as
// unavailable: delivery pauses without spending attempts, because rejected
// credentials are an outage, not a bad event. The option cannot be combined
// with an Authorization header set by [WithHeader] or [WithRouteHeader].
func WithTokenSource(ts TokenSource) Option {
	return func(cfg *config) {
		if ts == nil {
			cfg.errs = append(cfg.errs, errors.New("WithTokenSource(nil): the token source is nil; pass a TokenSource, e.g. httpsender.StaticToken(token)"))
			return
		}
		if st, ok := ts.(staticToken); ok {
			if err := checkToken(string(st)); err != nil {
				cfg.errs = append(cfg.errs, fmt.Errorf("WithTokenSource(StaticToken(...)): %w", err))
				return
			}
		}
		cfg.tokens = ts
	}
}

// checkToken reports why tok cannot be sent as a bearer token. The error
// never quotes the token.
func checkToken(tok string) error {
	switch {
	case tok == "":
		return errors.New("the token is empty; supply the backend's bearer token")
	case !validValue(tok):
		return errors.New("the token contains control characters; strip line breaks and other control characters from it")
	}
	return nil
}

// auth hands out tokens and serialises refreshes. gen counts finished
// refreshes: a send remembers the generation it fetched its token in and
// refreshes after a 401 only if no other send has refreshed since, so sends
// that meet the same expired token cause one refresh between them.
type auth struct {
	src TokenSource
	gen atomic.Uint64
	// sem is a lock that a waiter can give up on when its context ends; it
	// guards refreshes and the two fields below.
	sem       chan struct{}
	latest    string // token from the latest refresh
	latestErr error  // why the latest refresh failed
}

func newAuth(src TokenSource) *auth {
	return &auth{src: src, sem: make(chan struct{}, 1)}
}

// token returns the source's current token and the generation it belongs to.
func (a *auth) token(ctx context.Context) (string, uint64, error) {
	gen := a.gen.Load() // before asking: a refresh in between costs a spare refresh, not a missed one
	tok, err := a.src.Token(ctx, false)
	if err == nil {
		err = checkToken(tok)
	}
	if err != nil {
		return "", gen, err
	}
	return tok, gen, nil
}

// refresh returns a token to replace one of generation seen that the
// backend rejected: a fresh one from the source, or the result of a refresh
// another send made meanwhile.
func (a *auth) refresh(ctx context.Context, seen uint64) (string, error) {
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-a.sem }()
	if a.gen.Load() != seen {
		return a.latest, a.latestErr
	}
	tok, err := a.src.Token(ctx, true)
	if err == nil {
		err = checkToken(tok)
	}
	if err != nil && ctx.Err() != nil {
		return "", err // this send gave up; leave the refresh to the next one
	}
	a.latest, a.latestErr = tok, err
	a.gen.Add(1)
	return tok, err
}

// tokenError is the error for a token source that failed with err: the
// caller's ctx.Err() when ctx is done, and unavailable otherwise, because
// no event can be delivered without credentials.
func tokenError(ctx context.Context, path, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("POST %s: %w", path, ctx.Err())
	}
	return outbox.UnavailableError(fmt.Errorf("POST %s: %s: %w", path, what, err))
}

// noTokenSourceError is the error for a 401 to a sender without a token
// source; header is the rejected request's.
func noTokenSourceError(path string, header http.Header, rep reply) error {
	msg := "POST " + path + ": 401 Unauthorized: "
	if header.Get("Authorization") != "" {
		msg += "the backend rejects the Authorization header set with WithHeader or WithRouteHeader; fix its value, or use httpsender.WithTokenSource for a token that can be refreshed"
	} else {
		msg += "the backend requires credentials; configure httpsender.WithTokenSource"
	}
	return &responseError{code: http.StatusUnauthorized, msg: msg + problemNote(rep.Header, rep.body)}
}

// rejectedTokenError is the error for a 401 to a refreshed token.
func rejectedTokenError(path string, rep reply) error {
	return &responseError{code: http.StatusUnauthorized, msg: "POST " + path + ": 401 Unauthorized after refreshing the token: the backend rejects our credentials; check the token source" +
		problemNote(rep.Header, rep.body)}
}
