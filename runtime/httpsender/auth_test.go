package httpsender

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// rotatingSource supplies "t1" until it is refreshed, then "t2", "t3", and
// so on. A refresh fails with refreshErr when that is set.
type rotatingSource struct {
	mu         sync.Mutex
	refreshErr error
	gets       int // calls with refresh=false
	refreshes  int // successful refreshes
}

func (s *rotatingSource) Token(_ context.Context, refresh bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !refresh {
		s.gets++
	} else if s.refreshErr != nil {
		return "", s.refreshErr
	} else {
		s.refreshes++
	}
	return "t" + strconv.Itoa(s.refreshes+1), nil
}

func (s *rotatingSource) counts() (gets, refreshes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets, s.refreshes
}

// sourceFunc adapts a function to TokenSource.
type sourceFunc func(ctx context.Context, refresh bool) (string, error)

func (f sourceFunc) Token(ctx context.Context, refresh bool) (string, error) { return f(ctx, refresh) }

// authRequest is what an auth test server saw of one request.
type authRequest struct{ authorization, key, attempt string }

// authServer answers 201 to "Bearer <accept>" (to nothing when accept is
// empty) and status, with body, to anything else. It records every request.
func authServer(t *testing.T, accept string, status int, body string) (url string, seen func() []authRequest) {
	t.Helper()
	var mu sync.Mutex
	var reqs []authRequest
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqs = append(reqs, authRequest{r.Header.Get("Authorization"), r.Header.Get("Idempotency-Key"), r.Header.Get("X-Outbox-Attempt")})
		mu.Unlock()
		if accept != "" && r.Header.Get("Authorization") == "Bearer "+accept {
			w.WriteHeader(http.StatusCreated)
			return
		}
		http.Error(w, body, status)
	})
	return srv.URL, func() []authRequest {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(reqs)
	}
}

func TestExpiredTokenIsRefreshed(t *testing.T) {
	url, seen := authServer(t, "t2", http.StatusUnauthorized, "token expired")
	src := &rotatingSource{}
	ev := newEvent(t, "weight.created", `{"kg":71.5}`)
	ev.Attempts = 4
	if _, err := newSender(t, url, WithTokenSource(src)).Send(context.Background(), ev); err != nil {
		t.Fatalf("Send: %v", err)
	}
	reqs := seen()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2: %+v", len(reqs), reqs)
	}
	if reqs[0].authorization != "Bearer t1" || reqs[1].authorization != "Bearer t2" {
		t.Errorf("Authorization headers %q, %q; want Bearer t1, Bearer t2", reqs[0].authorization, reqs[1].authorization)
	}
	for i, r := range reqs {
		if r.key != ev.ID.String() || r.attempt != "4" {
			t.Errorf("request %d: Idempotency-Key %q, X-Outbox-Attempt %q; want %s and 4", i, r.key, r.attempt, ev.ID)
		}
	}
	if gets, refreshes := src.counts(); gets != 1 || refreshes != 1 {
		t.Errorf("token source: %d gets and %d refreshes, want 1 and 1", gets, refreshes)
	}
}

func TestPersistent401IsUnavailable(t *testing.T) {
	url, seen := authServer(t, "", http.StatusUnauthorized, "invalid audience")
	src := &rotatingSource{}
	s := newSender(t, url, WithTokenSource(src))
	for i := 1; i <= 2; i++ {
		_, err := send(t, s)
		if got := classOf(err); got != "unavailable" {
			t.Fatalf("send %d: got %s (%v), want unavailable", i, got, err)
		}
		want := "POST /v1/weight: 401 Unauthorized after refreshing the token: the backend rejects our credentials; check the token source"
		if err.Error() != want {
			t.Errorf("send %d: error %q, want %q", i, err, want)
		}
		if n := len(seen()); n != 2*i {
			t.Errorf("after send %d: %d requests, want %d", i, n, 2*i)
		}
	}
	if _, refreshes := src.counts(); refreshes != 2 {
		t.Errorf("%d refreshes, want one per send", refreshes)
	}
}

func TestForbiddenIsPermanent(t *testing.T) {
	url, seen := authServer(t, "", http.StatusForbidden, "not your record")
	src := &rotatingSource{}
	_, err := send(t, newSender(t, url, WithTokenSource(src)))
	if got := classOf(err); got != "permanent" {
		t.Fatalf("got %s (%v), want permanent", got, err)
	}
	// The body is not a problem document: nothing of it is kept.
	if want := "POST /v1/weight: 403 Forbidden"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if n := len(seen()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	if _, refreshes := src.counts(); refreshes != 0 {
		t.Errorf("%d refreshes after a 403, want 0", refreshes)
	}
}

func TestConcurrent401sShareOneRefresh(t *testing.T) {
	const sends = 20
	var requests, expired atomic.Int32
	allExpired := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.Header.Get("Authorization") == "Bearer t2" {
			w.WriteHeader(http.StatusCreated)
			return
		}
		// Hold every expired request until all sends have one in flight,
		// so that all of them meet the 401 before anyone refreshes.
		if expired.Add(1) == sends {
			close(allExpired)
		}
		select {
		case <-allExpired:
			w.WriteHeader(http.StatusUnauthorized)
		case <-r.Context().Done():
		}
	})
	src := &rotatingSource{}
	s := newSender(t, srv.URL, WithTokenSource(src))
	var wg sync.WaitGroup
	for range sends {
		ev := newEvent(t, "weight.created", `{}`)
		wg.Go(func() {
			if _, err := s.Send(context.Background(), ev); err != nil {
				t.Errorf("Send: %v", err)
			}
		})
	}
	wg.Wait()
	if gets, refreshes := src.counts(); gets != sends || refreshes != 1 {
		t.Errorf("token source: %d gets and %d refreshes, want %d and 1", gets, refreshes, sends)
	}
	if n := requests.Load(); n != 2*sends {
		t.Errorf("%d requests, want %d", n, 2*sends)
	}
}

func TestFailedRefreshIsUnavailable(t *testing.T) {
	url, seen := authServer(t, "", http.StatusUnauthorized, "")
	src := &rotatingSource{refreshErr: errors.New("identity provider answered 503")}
	_, err := send(t, newSender(t, url, WithTokenSource(src)))
	if got := classOf(err); got != "unavailable" {
		t.Fatalf("got %s (%v), want unavailable", got, err)
	}
	if !errors.Is(err, src.refreshErr) {
		t.Errorf("error %q does not wrap the token source's error", err)
	}
	want := "POST /v1/weight: 401 Unauthorized, and the token source failed to refresh the token: identity provider answered 503"
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if n := len(seen()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestStaticToken(t *testing.T) {
	const token = "s3cr3t-t0ken"
	url, seen := authServer(t, token, http.StatusUnauthorized, "")
	if _, err := send(t, newSender(t, url, WithTokenSource(StaticToken(token)))); err != nil {
		t.Fatalf("Send with the accepted token: %v", err)
	}
	if got := seen()[0].authorization; got != "Bearer "+token {
		t.Errorf("Authorization %q, want Bearer %s", got, token)
	}

	// A rejected static token cannot be refreshed: one request, then
	// unavailable.
	_, err := send(t, newSender(t, url, WithTokenSource(StaticToken("wrong-"+token))))
	if got := classOf(err); got != "unavailable" {
		t.Fatalf("got %s (%v), want unavailable", got, err)
	}
	if n := len(seen()); n != 2 {
		t.Errorf("%d requests in all, want 2", n)
	}
	if msg := err.Error(); strings.Contains(msg, token) || !strings.Contains(msg, "static token cannot be refreshed") {
		t.Errorf("error %q should say the static token cannot be refreshed, without quoting it", msg)
	}
}

func TestTokenSourceFailureIsUnavailableWithoutRequest(t *testing.T) {
	cases := map[string]struct {
		src  sourceFunc
		want string
	}{
		"error": {
			func(context.Context, bool) (string, error) { return "", errors.New("no credentials file") },
			"POST /v1/weight: the token source failed: no credentials file",
		},
		"empty token": {
			func(context.Context, bool) (string, error) { return "", nil },
			"POST /v1/weight: the token source failed: the token is empty; supply the backend's bearer token",
		},
		"control characters": {
			func(context.Context, bool) (string, error) { return "tok-SECRET\r\nX-Evil: 1", nil },
			"POST /v1/weight: the token source failed: the token contains control characters; strip line breaks and other control characters from it",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			url, seen := authServer(t, "", http.StatusUnauthorized, "")
			_, err := send(t, newSender(t, url, WithTokenSource(tc.src)))
			if got := classOf(err); got != "unavailable" {
				t.Fatalf("got %s (%v), want unavailable", got, err)
			}
			if err.Error() != tc.want {
				t.Errorf("error %q, want %q", err, tc.want)
			}
			if n := len(seen()); n != 0 {
				t.Errorf("%d requests without a token, want 0", n)
			}
		})
	}
}

func TestCancelDuringRefreshIsNotADeliveryError(t *testing.T) {
	url, _ := authServer(t, "", http.StatusUnauthorized, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := sourceFunc(func(ctx context.Context, refresh bool) (string, error) {
		if refresh {
			cancel() // the processor stops while the token is being refreshed
			return "", ctx.Err()
		}
		return "t1", nil
	})
	s := newSender(t, url, WithTokenSource(src))
	_, err := s.Send(ctx, newEvent(t, "weight.created", `{}`))
	if !errors.Is(err, context.Canceled) || classOf(err) != "unclassified" {
		t.Fatalf("err = %v (%s), want an unclassified context.Canceled", err, classOf(err))
	}
	if g := s.auth.gen.Load(); g != 0 {
		t.Errorf("an abandoned refresh advanced the generation to %d; the next send could not refresh", g)
	}
}

func TestRefreshWaiterHonoursContext(t *testing.T) {
	a := newAuth(&rotatingSource{})
	a.sem <- struct{}{} // another send is refreshing
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.refresh(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("refresh while another is in progress, ctx cancelled: %v, want context.Canceled", err)
	}
}

func TestUnauthorizedWithoutTokenSource(t *testing.T) {
	cases := map[string]struct {
		opts []Option
		want string
	}{
		"no credentials": {nil,
			"POST /v1/weight: 401 Unauthorized: the backend requires credentials; configure httpsender.WithTokenSource"},
		"header rejected": {[]Option{WithHeader("Authorization", "Basic czNjcmV0")},
			"POST /v1/weight: 401 Unauthorized: the backend rejects the Authorization header set with WithHeader or WithRouteHeader; fix its value, or use httpsender.WithTokenSource for a token that can be refreshed"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			url, seen := authServer(t, "", http.StatusUnauthorized, "log in")
			_, err := send(t, newSender(t, url, tc.opts...))
			if got := classOf(err); got != "unavailable" {
				t.Fatalf("got %s (%v), want unavailable", got, err)
			}
			if err.Error() != tc.want {
				t.Errorf("error %q, want %q", err, tc.want)
			}
			if n := len(seen()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestNoAuthorizationWithoutTokenSource(t *testing.T) {
	url, seen := authServer(t, "", http.StatusOK, "")
	if _, err := send(t, newSender(t, url)); err != nil {
		t.Fatal(err)
	}
	if got := seen()[0].authorization; got != "" {
		t.Errorf("Authorization %q sent without a token source", got)
	}
}
