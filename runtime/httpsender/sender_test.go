package httpsender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

func TestStatusClassification(t *testing.T) {
	cases := []struct {
		code int
		want string
	}{
		{200, "delivered"}, {201, "delivered"}, {204, "delivered"}, {409, "in progress"},
		{400, "permanent"}, {401, "unavailable"}, {403, "permanent"}, {404, "permanent"},
		{408, "transient"}, {410, "permanent"}, {422, "permanent"}, {425, "transient"},
		{429, "transient"}, {500, "transient"}, {502, "transient"}, {503, "transient"},
		{504, "transient"}, {301, "permanent"}, {302, "permanent"}, {307, "permanent"},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			var followed atomic.Int32
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/elsewhere" {
					followed.Add(1)
					return
				}
				if tc.code >= 300 && tc.code < 400 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tc.code)
			})
			_, err := send(t, newSender(t, srv.URL))
			if got := classOf(err); got != tc.want {
				t.Fatalf("status %d: got %s (%v), want %s", tc.code, got, err, tc.want)
			}
			if err == nil {
				return
			}
			if want := "POST /v1/weight: " + strconv.Itoa(tc.code) + " " + http.StatusText(tc.code); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
			if tc.code >= 300 && tc.code < 400 {
				if !strings.Contains(err.Error(), "unexpected redirect to "+srv.URL+"/elsewhere") {
					t.Errorf("redirect error %q does not name the target", err)
				}
				if n := followed.Load(); n != 0 {
					t.Errorf("redirect was followed %d times", n)
				}
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	cases := []struct {
		name     string
		code     int
		header   string
		min, max time.Duration
	}{
		{"seconds on 503", 503, "120", 120 * time.Second, 120 * time.Second},
		{"seconds on 429", 429, "7", 7 * time.Second, 7 * time.Second},
		{"date on 503", 503, time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat), 85 * time.Second, 90 * time.Second},
		{"date on 429", 429, time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), 59 * time.Minute, time.Hour},
		{"garbage", 503, "soon", 0, 0},
		{"negative", 429, "-5", 0, 0},
		{"past date", 503, "Mon, 02 Jan 2006 15:04:05 GMT", 0, 0},
		{"absurd", 503, "99999999999999999999999", 24 * time.Hour, 24 * time.Hour},
		{"absent", 503, "", 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(tc.code)
			})
			_, err := send(t, newSender(t, srv.URL))
			class, after := outbox.Classify(err)
			if class != outbox.Transient || err == nil {
				t.Fatalf("got %v (%v), want a transient error", class, err)
			}
			if after < tc.min || after > tc.max {
				t.Errorf("RetryAfter = %v, want between %v and %v", after, tc.min, tc.max)
			}
		})
	}
}

func TestRequest(t *testing.T) {
	type seen struct {
		method, path string
		header       http.Header
		body         []byte
	}
	got := make(chan seen, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, r.Header.Clone(), body}
		w.WriteHeader(http.StatusNoContent)
	})
	s := newSender(t, srv.URL+"/", WithHeader("Authorization", "Bearer t0ken"), WithHeader("user-agent", "app/1.2"))

	payload := "{ \"kg\" : 71.5,\n \"note\": \"caf\u00e9\" }" // odd spacing must survive
	ev := newEvent(t, "meal.created", payload)
	ev.Attempts = 3
	ev.Metadata = map[string]string{"tenant": "acme", "Trace-Id": "abc-123", "bad key": "x", "multi": "a\nb"}
	if _, err := s.Send(context.Background(), ev); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := <-got
	if r.method != http.MethodPost || r.path != "/v1/meals" {
		t.Errorf("request %s %s, want POST /v1/meals", r.method, r.path)
	}
	if !bytes.Equal(r.body, []byte(payload)) {
		t.Errorf("body %q, want %q", r.body, payload)
	}
	want := map[string]string{
		"Content-Type":           "application/json",
		"Idempotency-Key":        ev.ID.String(),
		"User-Agent":             "app/1.2",
		"Authorization":          "Bearer t0ken",
		"X-Outbox-Event-Type":    "meal.created",
		"X-Outbox-Attempt":       "3",
		"X-Outbox-Meta-Tenant":   "acme",
		"X-Outbox-Meta-Trace-Id": "abc-123",
	}
	for k, v := range want {
		if g := r.header.Get(k); g != v {
			t.Errorf("header %s = %q, want %q", k, g, v)
		}
	}
	for k := range r.header {
		if strings.HasPrefix(k, "X-Outbox-Meta-") && k != "X-Outbox-Meta-Tenant" && k != "X-Outbox-Meta-Trace-Id" {
			t.Errorf("unexpected metadata header %s: %q", k, r.header[k])
		}
	}
}

func TestDefaultUserAgent(t *testing.T) {
	ua := make(chan string, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { ua <- r.UserAgent() })
	if _, err := send(t, newSender(t, srv.URL)); err != nil {
		t.Fatal(err)
	}
	if got := <-ua; got != "outboxgen" {
		t.Errorf("User-Agent %q, want outboxgen", got)
	}
}

func TestRoutePerType(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
	})
	s := newSender(t, srv.URL+"/api")
	for _, typ := range []string{"weight.created", "meal.created", "weight.created"} {
		if _, err := s.Send(context.Background(), newEvent(t, typ, `{}`)); err != nil {
			t.Fatalf("Send %s: %v", typ, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(paths, " "); got != "/api/v1/weight /api/v1/meals /api/v1/weight" {
		t.Errorf("paths %q", got)
	}
}

func TestUnknownTypeIsPermanentWithoutRequest(t *testing.T) {
	var requests atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { requests.Add(1) })
	_, err := newSender(t, srv.URL).Send(context.Background(), newEvent(t, "sleep.logged", `{}`))
	if got := classOf(err); got != "permanent" {
		t.Fatalf("got %s (%v), want permanent", got, err)
	}
	if msg := err.Error(); !strings.Contains(msg, `"sleep.logged"`) || !strings.Contains(msg, "add") {
		t.Errorf("error %q should name the type and say to add a route", msg)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests made for an unrouted type", n)
	}
}

func TestRemoteID(t *testing.T) {
	cases := []struct {
		name, body string
		code       int
		opts       []Option
		want       string
	}{
		{"string", `{"id":"abc"}`, 201, nil, "abc"},
		{"number", `{"id": 42}`, 201, nil, "42"},
		{"big number", `{"id": 12345678901234567890}`, 201, nil, "12345678901234567890"},
		{"missing", `{"name":"x"}`, 201, nil, ""},
		{"null", `{"id":null}`, 201, nil, ""},
		{"not an object", `["abc"]`, 200, nil, ""},
		{"not json", `created`, 200, nil, ""},
		{"empty", ``, 201, nil, ""},
		{"conflict as delivered", `{"id":"existing"}`, 409, []Option{WithConflictAsDelivered()}, "existing"},
		{"custom field", `{"id":"no","uuid":"yes"}`, 201, []Option{WithRemoteIDField("uuid")}, "yes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.code)
				io.WriteString(w, tc.body)
			})
			rc, err := send(t, newSender(t, srv.URL, tc.opts...))
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if rc.RemoteID != tc.want {
				t.Errorf("RemoteID %q, want %q", rc.RemoteID, tc.want)
			}
		})
	}
}

func TestConnectionRefusedIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = send(t, newSender(t, "http://"+addr))
	if got := classOf(err); got != "unavailable" {
		t.Fatalf("got %s (%v), want unavailable", got, err)
	}
	if !strings.HasPrefix(err.Error(), "POST /v1/weight: ") {
		t.Errorf("error %q should name the route", err)
	}
}

// hangingServer answers nothing until the test ends or the client goes away.
// Its handler calls onRequest, if set, when a request arrives.
func hangingServer(t *testing.T, onRequest func()) *httptest.Server {
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if onRequest != nil {
			onRequest()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	return srv
}

// A request that was sent and never answered is unanswered, not
// unavailable: the backend may be choking on this very event.
func TestTimeoutAfterTheRequestIsUnanswered(t *testing.T) {
	srv := hangingServer(t, nil)
	_, err := send(t, newSender(t, srv.URL, WithTimeout(50*time.Millisecond)))
	if got := classOf(err); got != "unanswered" {
		t.Fatalf("got %s (%v), want unanswered", got, err)
	}
	if !strings.Contains(err.Error(), "the request was sent, and no response came within 50ms") {
		t.Errorf("error %q should say the timeout fired after the request was sent", err)
	}
}

// A backend that reads the request and drops the connection without an
// answer (a crash on this payload, a proxy closing) is unanswered.
func TestDroppedConnectionIsUnanswered(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close()
	})
	_, err := send(t, newSender(t, srv.URL))
	if got := classOf(err); got != "unanswered" {
		t.Fatalf("got %s (%v), want unanswered", got, err)
	}
	if !strings.Contains(err.Error(), "the connection ended without a response") {
		t.Errorf("error %q should say the connection ended", err)
	}
}

func TestCallerCancelIsNotADeliveryError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := hangingServer(t, cancel) // cancel once the request is in flight
	_, err := newSender(t, srv.URL).Send(ctx, newEvent(t, "weight.created", `{}`))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	var de *outbox.DeliveryError
	if errors.As(err, &de) {
		t.Errorf("cancelled send classified as %v", de.Class)
	}
}

func TestCallerDeadlinePassed(t *testing.T) {
	var requests atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { requests.Add(1) })
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err := newSender(t, srv.URL).Send(ctx, newEvent(t, "weight.created", `{}`))
	if !errors.Is(err, context.DeadlineExceeded) || classOf(err) != "unclassified" {
		t.Fatalf("err = %v (%s), want an unclassified context.DeadlineExceeded", err, classOf(err))
	}
}

func TestKeepAlive(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":"%s"}`, strings.Repeat("x", 1000))
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	s := newSender(t, srv.URL)
	for i := range 20 {
		if _, err := send(t, s); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if n := conns.Load(); n > 2 {
		t.Errorf("20 sequential sends used %d connections, want at most 2", n)
	}
}

// From a problem document (RFC 9457), an error keeps the type and the
// title, sanitised and bounded, and nothing else.
func TestErrorQuotesAProblemsTypeAndTitle(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprintf(w, `{"type":"https://example.com/probs/range","title":"Out\u0000 of\n range %s","detail":"kg 700 is above 500","kg":700}`, strings.Repeat("M", 1000))
	})
	_, err := send(t, newSender(t, srv.URL))
	if got := classOf(err); got != "permanent" {
		t.Fatalf("got %s (%v), want permanent", got, err)
	}
	want := `POST /v1/weight: 422 Unprocessable Entity (type "https://example.com/probs/range", title "Out of range MMM`
	if !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "700") || strings.Count(err.Error(), "M") > 200 {
		t.Errorf("error %q: want it to start with %q, bounded, without the detail", err, want)
	}
}

// A backend that echoes what it received in its error reply gets none of
// it into the error, whatever the reply's content type.
func TestErrorNeverQuotesAnEcho(t *testing.T) {
	const secret = "hunter2-d0b"
	for _, contentType := range []string{"text/plain", "application/json", "application/problem+json"} {
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":"cannot store %s","received":%s}`, body, body)
		})
		_, err := newSender(t, srv.URL).Send(context.Background(), newEvent(t, "weight.created", `{"secret":"`+secret+`"}`))
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error %v contains the payload", contentType, err)
		}
		if want := "POST /v1/weight: 400 Bad Request"; err.Error() != want {
			t.Errorf("%s: error %q, want %q", contentType, err, want)
		}
	}
}

func TestConcurrentSends(t *testing.T) {
	var n atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%d}`, n.Add(1))
	})
	s := newSender(t, srv.URL)
	var wg sync.WaitGroup
	for range 16 {
		ev := newEvent(t, "weight.created", `{}`)
		wg.Go(func() {
			if rc, err := s.Send(context.Background(), ev); err != nil || rc.RemoteID == "" {
				t.Errorf("Send: %q, %v", rc.RemoteID, err)
			}
		})
	}
	wg.Wait()
}

func TestWithClient(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/elsewhere" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}
	})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	// The client would follow redirects; the sender must not.
	_, err := send(t, newSender(t, srv.URL, WithClient(&http.Client{Transport: tr})))
	if got := classOf(err); got != "permanent" {
		t.Fatalf("got %s (%v), want permanent", got, err)
	}
}

// No error, whatever the status and whoever answers it, quotes the payload
// or the token.
func TestErrorsNeverQuotePayloadOrToken(t *testing.T) {
	const marker, token = "MARKER-7f3a9c", "tok-SECRET-51e"
	cases := []struct {
		code int
		opts []Option
	}{
		{http.StatusInternalServerError, nil},
		{http.StatusServiceUnavailable, []Option{WithTokenSource(StaticToken(token))}},
		{http.StatusBadRequest, nil},
		{http.StatusUnprocessableEntity, []Option{WithTokenSource(StaticToken(token))}},
		{http.StatusForbidden, []Option{WithTokenSource(StaticToken(token))}},
		{http.StatusUnauthorized, nil},
		{http.StatusUnauthorized, []Option{WithTokenSource(StaticToken(token))}},
		{http.StatusUnauthorized, []Option{WithTokenSource(&rotatingSource{})}},
		{http.StatusFound, nil},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d with %d options", tc.code, len(tc.opts)), func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if !bytes.Contains(body, []byte(marker)) {
					t.Errorf("request body %q lacks the marker", body)
				}
				w.Header().Set("Location", "/elsewhere")
				http.Error(w, "request rejected; see the server logs", tc.code)
			})
			ev := newEvent(t, "weight.created", `{"note":"`+marker+`"}`)
			_, err := newSender(t, srv.URL, tc.opts...).Send(context.Background(), ev)
			if err == nil {
				t.Fatal("no error")
			}
			if msg := err.Error(); strings.Contains(msg, marker) || strings.Contains(msg, token) {
				t.Errorf("error %q quotes the payload or the token", msg)
			}
			if !strings.HasPrefix(err.Error(), "POST /v1/weight: "+strconv.Itoa(tc.code)+" "+http.StatusText(tc.code)) {
				t.Errorf("error %q does not start with the route and the status line", err)
			}
		})
	}
}

// Ping asks the event's route for any answer with OPTIONS: one that is not
// a 5xx shows the backend up; a 5xx (a gateway's), or none, does not.
func TestPing(t *testing.T) {
	var seen atomic.Pointer[http.Request]
	status := atomic.Int32{}
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r)
		w.WriteHeader(int(status.Load()))
	})
	s := newSender(t, srv.URL, WithTokenSource(StaticToken("t0k")))
	ev := newEvent(t, "weight.created", `{"kg":70}`)
	for _, code := range []int{http.StatusNoContent, http.StatusMethodNotAllowed, http.StatusNotFound} {
		status.Store(int32(code))
		if err := s.Ping(context.Background(), ev); err != nil {
			t.Errorf("ping answered %d: %v, want nil", code, err)
		}
	}
	r := seen.Load()
	if r.Method != http.MethodOptions || r.URL.Path != "/v1/weight" || r.Header.Get("Authorization") != "Bearer t0k" || r.ContentLength > 0 {
		t.Errorf("ping request %s %s, authorization %q, %d bytes", r.Method, r.URL.Path, r.Header.Get("Authorization"), r.ContentLength)
	}
	status.Store(http.StatusBadGateway)
	if err := s.Ping(context.Background(), ev); err == nil || !strings.Contains(err.Error(), "OPTIONS /v1/weight: 502 Bad Gateway") {
		t.Errorf("ping answered 502: %v, want an error", err)
	}
	hanging := hangingServer(t, nil)
	if err := newSender(t, hanging.URL, WithTimeout(50*time.Millisecond)).Ping(context.Background(), ev); classOf(err) != "unanswered" {
		t.Errorf("ping unanswered: %v", err)
	}
}

// A backend that reads a request on a kept-alive connection and dies on it
// (its listener gone too) leaves the request unanswered, not unavailable,
// although net/http's retry of it on a fresh connection is refused: the
// backend did get it, and may have crashed on this very event.
func TestCrashOnAKeptAliveConnectionIsUnanswered(t *testing.T) {
	var posts atomic.Int64
	var srv *httptest.Server
	srv = newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		posts.Add(1)
		if r.Header.Get("X-Outbox-Meta-Poison") == "" {
			w.WriteHeader(http.StatusCreated)
			return
		}
		srv.Listener.Close() // the backend process dies on this payload…
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close() // …taking the connection with it
		}
	})
	s := newSender(t, srv.URL)
	if _, err := send(t, s); err != nil {
		t.Fatal(err) // the connection is now kept alive
	}
	poison := newEvent(t, "weight.created", `{}`)
	poison.Metadata = map[string]string{"poison": "yes"}
	_, err := s.Send(context.Background(), poison)
	var de *outbox.DeliveryError
	if classOf(err) != "unanswered" || !errors.As(err, &de) || !de.Dropped || posts.Load() != 2 {
		t.Fatalf("after %d requests: %s (%v); want the poison's dropped connection unanswered", posts.Load(), classOf(err), err)
	}
}
