package console_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/console"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testUser     = "ops"
	testPassword = "s3cret-Pa55word"
)

// fixture is a console over a seeded SQLite outbox, and its log.
type fixture struct {
	*seeded
	h   http.Handler
	log *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newFixture(t *testing.T, opts console.Options) *fixture {
	t.Helper()
	store, enqueue := openSQLite(t)
	f := &fixture{seeded: seed(t, store, enqueue), log: &syncBuffer{}}
	opts.Store = store
	if opts.Auth == nil {
		opts.Auth = console.BasicAuth(testUser, testPassword)
	}
	opts.Logger = slog.New(slog.NewTextHandler(f.log, nil))
	opts.Name = "SQLite file outbox.db"
	h, err := console.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

// do sends a request signed in as testUser and returns the answer.
func (f *fixture) do(t *testing.T, method, path string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	r := f.request(method, path, form)
	r.SetBasicAuth(testUser, testPassword)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

func (f *fixture) request(method, path string, form url.Values) *http.Request {
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	return r
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the anti-forgery token of the page at path.
func (f *fixture) csrf(t *testing.T, path string) string {
	t.Helper()
	w := f.do(t, "GET", path, nil)
	m := csrfRE.FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("GET %s: no anti-forgery token in the page (status %d)", path, w.Code)
	}
	return m[1]
}

func wantCode(t *testing.T, w *httptest.ResponseRecorder, code int) {
	t.Helper()
	if w.Code != code {
		t.Fatalf("status %d, want %d; body:\n%s", w.Code, code, w.Body.String())
	}
}

func TestNewRefusesMissingOptions(t *testing.T) {
	store, _ := openSQLite(t)
	if _, err := console.New(console.Options{Store: store}); err == nil {
		t.Error("New without Auth: no error")
	}
	if _, err := console.New(console.Options{Auth: console.Anonymous()}); err == nil {
		t.Error("New without Store: no error")
	}
}

func TestBasicAuthRefusesWrongOrMissingCredentials(t *testing.T) {
	f := newFixture(t, console.Options{})
	for name, r := range map[string]*http.Request{
		"none":           f.request("GET", "/", nil),
		"wrong password": f.request("GET", "/events", nil),
		"wrong user":     f.request("GET", "/live", nil),
	} {
		switch name {
		case "wrong password":
			r.SetBasicAuth(testUser, "guess")
		case "wrong user":
			r.SetBasicAuth("root", testPassword)
		}
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s: status %d, WWW-Authenticate %q; want 401 and a basic challenge", name, w.Code, w.Header().Get("WWW-Authenticate"))
		}
		if strings.Contains(w.Body.String(), "ada") {
			t.Errorf("%s: the refusal shows outbox data", name)
		}
	}
	wantCode(t, f.do(t, "GET", "/", nil), http.StatusOK)
}

func TestBearerTokenSignIn(t *testing.T) {
	const token = "tok-0123456789abcdef"
	f := newFixture(t, console.Options{Auth: console.BearerToken(token)})
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, f.request("GET", "/events?status=dead", nil))
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `name="token"`) || strings.Contains(w.Body.String(), "w-dead") {
		t.Fatalf("without a token: status %d, want 401 and the sign-in form without data:\n%s", w.Code, w.Body)
	}

	r := f.request("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w = httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	wantCode(t, w, http.StatusOK)

	w = httptest.NewRecorder()
	f.h.ServeHTTP(w, f.request("POST", "/sign-in", url.Values{"token": {"wrong"}, "next": {"/events"}}))
	wantCode(t, w, http.StatusUnauthorized)
	if len(w.Result().Cookies()) != 0 {
		t.Fatal("a wrong token got a cookie")
	}

	w = httptest.NewRecorder()
	f.h.ServeHTTP(w, f.request("POST", "/sign-in", url.Values{"token": {token}, "next": {"//evil.example/x"}}))
	wantCode(t, w, http.StatusSeeOther)
	if loc := w.Header().Get("Location"); loc != "/" {
		t.Errorf("sign-in redirected to %q, want / (not another site)", loc)
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode || strings.Contains(cookies[0].Value, token) {
		t.Fatalf("session cookie %+v: want one HttpOnly, SameSite=Strict cookie that is not the token", cookies)
	}
	r = f.request("GET", "/events?status=dead", nil)
	r.AddCookie(cookies[0])
	w = httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	wantCode(t, w, http.StatusOK)
	if strings.Contains(f.log.String(), token) {
		t.Error("the log holds the token")
	}
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, console.Options{})
	w := f.do(t, "GET", "/", nil)
	for name, want := range map[string]string{
		"Content-Security-Policy": "script-src 'self'",
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "no-store",
	} {
		if got := w.Header().Get(name); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want it to contain %q", name, got, want)
		}
	}
	if strings.Contains(w.Body.String(), "<script>") || strings.Contains(w.Body.String(), " style=") {
		t.Error("a page has inline script or style, which the policy forbids")
	}
}

func TestDatabaseTextIsEscaped(t *testing.T) {
	f := newFixture(t, console.Options{})
	for _, path := range []string{"/events?status=pending", "/events?status=dead"} {
		body := f.do(t, "GET", path, nil).Body.String()
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<b>bold") || strings.Contains(body, "\u202e") {
			t.Errorf("%s: text from the database is not escaped:\n%s", path, body)
		}
	}
	body := f.do(t, "GET", "/events?status=pending", nil).Body.String()
	if !strings.Contains(body, `&lt;script&gt;alert(1)&lt;/script&gt;\u202eevil`) {
		t.Errorf("the hostile user id is not shown escaped:\n%s", body)
	}
}

func TestOverviewShowsCountsPauseAndProcessors(t *testing.T) {
	f := newFixture(t, console.Options{})
	body := f.do(t, "GET", "/", nil).Body.String()
	for _, want := range []string{
		`id="count-dead"><span class="n">2</span>`,
		`id="count-completed"><span class="n">2</span>`,
		`id="count-pending"><span class="n">3</span>`,
		"Delivery is paused", "host-a:4242:abcd", "503 Service Unavailable",
		"Delivered per minute: <strong>2</strong>",
		"Failed per minute: <strong>3</strong>",
		"steps.updated",
		"Delivery is not paused by an operator.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}
	live := f.do(t, "GET", "/live", nil)
	wantCode(t, live, http.StatusOK)
	if strings.Contains(live.Body.String(), "<html") || !strings.Contains(live.Body.String(), `id="count-dead"`) {
		t.Errorf("/live is not the overview's live fragment:\n%s", live.Body)
	}
}

func TestPayloadHiddenUntilRevealedAndLogged(t *testing.T) {
	f := newFixture(t, console.Options{})
	path := "/events/" + f.dead[0].ID.String()
	page := f.do(t, "GET", path, nil).Body.String()
	if strings.Contains(page, payloadMarker) {
		t.Fatal("the event's page shows the payload before a reveal")
	}
	if !strings.Contains(page, "422 Unprocessable Entity") {
		t.Errorf("the event's page lacks its last error:\n%s", page)
	}
	csrf := f.csrf(t, path)

	wantCode(t, f.do(t, "POST", path+"/reveal", url.Values{}), http.StatusForbidden) // no token
	if strings.Contains(f.log.String(), "payload revealed") {
		t.Fatal("a refused reveal was logged as a reveal")
	}
	w := f.do(t, "POST", path+"/reveal", url.Values{"csrf": {csrf}})
	wantCode(t, w, http.StatusOK)
	if !strings.Contains(w.Body.String(), payloadMarker) {
		t.Fatal("the reveal does not show the payload")
	}
	log := f.log.String()
	if !strings.Contains(log, "payload revealed") || !strings.Contains(log, "user="+testUser) || !strings.Contains(log, f.dead[0].ID.String()) || !strings.Contains(log, "at=") {
		t.Errorf("the reveal is not logged with who, what and when:\n%s", log)
	}
	if strings.Contains(log, payloadMarker) || strings.Contains(log, testPassword) {
		t.Errorf("the log holds a payload or a password:\n%s", log)
	}
	if body := f.do(t, "GET", "/events?status=dead", nil).Body.String(); strings.Contains(body, payloadMarker) {
		t.Error("the list shows a payload")
	}
}

func TestReadOnlyRefusesActions(t *testing.T) {
	f := newFixture(t, console.Options{})
	id := f.dead[0].ID.String()
	csrf := f.csrf(t, "/events/"+id)
	for _, tc := range []struct {
		method, path string
		form         url.Values
	}{
		{"GET", "/events/" + id + "/retry", nil},
		{"POST", "/events/" + id + "/retry", url.Values{"csrf": {csrf}}},
		{"POST", "/events/" + id + "/discard", url.Values{"csrf": {csrf}}},
		{"GET", "/retry?status=dead", nil},
		{"POST", "/retry", url.Values{"csrf": {csrf}, "status": {"dead"}, "n": {"2"}, "asof": {"99999999999999999"}}},
		{"POST", "/pause", url.Values{"csrf": {csrf}}},
	} {
		w := f.do(t, tc.method, tc.path, tc.form)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "read-only") {
			t.Errorf("%s %s on a read-only console: status %d, want 403 saying it is read-only", tc.method, tc.path, w.Code)
		}
	}
	for _, ev := range f.dead {
		if got := f.status(t, ev); got != outbox.StatusDead {
			t.Errorf("event %s is %s after refused actions, want dead", ev.AggregateID, got)
		}
	}
	if strings.Contains(f.do(t, "GET", "/events/"+id, nil).Body.String(), `id="retry"`) {
		t.Error("a read-only console offers to retry")
	}
}

func TestRetryNeedsConfirmationAndToken(t *testing.T) {
	f := newFixture(t, console.Options{AllowActions: true})
	id := f.dead[0].ID.String()
	confirm := f.do(t, "GET", "/events/"+id+"/retry", nil)
	wantCode(t, confirm, http.StatusOK)
	if !strings.Contains(confirm.Body.String(), "Retry 1 event") {
		t.Fatalf("the confirmation does not name the count:\n%s", confirm.Body)
	}
	if got := f.status(t, f.dead[0]); got != outbox.StatusDead {
		t.Fatalf("showing the confirmation changed the event: %s", got)
	}
	csrf := csrfRE.FindStringSubmatch(confirm.Body.String())[1]

	wantCode(t, f.do(t, "POST", "/events/"+id+"/retry", url.Values{"csrf": {"forged"}}), http.StatusForbidden)
	cross := f.request("POST", "/events/"+id+"/retry", url.Values{"csrf": {csrf}})
	cross.SetBasicAuth(testUser, testPassword)
	cross.Header.Set("Sec-Fetch-Site", "cross-site")
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, cross)
	wantCode(t, w, http.StatusForbidden)
	if got := f.status(t, f.dead[0]); got != outbox.StatusDead {
		t.Fatalf("a forged or cross-site retry changed the event: %s", got)
	}

	w = f.do(t, "POST", "/events/"+id+"/retry", url.Values{"csrf": {csrf}})
	wantCode(t, w, http.StatusSeeOther)
	if got := f.status(t, f.dead[0]); got != outbox.StatusPending {
		t.Fatalf("after the retry the event is %s, want pending", got)
	}
	if !strings.Contains(f.log.String(), "event retried") {
		t.Errorf("the retry is not in the audit log:\n%s", f.log)
	}
	again := f.do(t, "POST", "/events/"+id+"/retry", url.Values{"csrf": {csrf}})
	if again.Code != http.StatusConflict || !strings.Contains(again.Body.String(), "only dead and failed") {
		t.Errorf("retrying a pending event: status %d:\n%s", again.Code, again.Body)
	}
}

func TestDiscard(t *testing.T) {
	f := newFixture(t, console.Options{AllowActions: true})
	id := f.dead[1].ID.String()
	csrf := f.csrf(t, "/events/"+id+"/discard")
	wantCode(t, f.do(t, "POST", "/events/"+id+"/discard", url.Values{"csrf": {csrf}}), http.StatusSeeOther)
	wantCode(t, f.do(t, "GET", "/events/"+id, nil), http.StatusNotFound)
}

func TestBulkRetryOfAFilter(t *testing.T) {
	f := newFixture(t, console.Options{AllowActions: true})
	confirm := f.do(t, "GET", "/retry?status=dead&user=ada", nil)
	wantCode(t, confirm, http.StatusOK)
	if !strings.Contains(confirm.Body.String(), "Retry 1 dead events of user ada?") || !strings.Contains(confirm.Body.String(), "Retry 1 events") {
		t.Fatalf("the confirmation does not name the count:\n%s", confirm.Body)
	}
	form := url.Values{}
	for _, m := range regexp.MustCompile(`name="([a-z]+)" value="([^"]*)"`).FindAllStringSubmatch(confirm.Body.String(), -1) {
		form.Set(m[1], m[2])
	}
	w := f.do(t, "POST", "/retry", form)
	wantCode(t, w, http.StatusSeeOther)
	if got := f.status(t, f.dead[0]); got != outbox.StatusPending {
		t.Errorf("ada's dead event is %s after the bulk retry, want pending", got)
	}
	if got := f.status(t, f.dead[1]); got != outbox.StatusDead {
		t.Errorf("bob's dead event is %s after a bulk retry of ada's, want dead", got)
	}
	if !strings.Contains(f.do(t, "GET", w.Header().Get("Location"), nil).Body.String(), "Retried 1 event(s)") {
		t.Error("the list after a bulk retry does not say how many were retried")
	}
	if w := f.do(t, "GET", "/retry?status=pending", nil); w.Code != http.StatusBadRequest {
		t.Errorf("a bulk retry of pending events: status %d, want 400", w.Code)
	}
}

// An operator pauses delivery from the console, with a reason, after a
// confirmation; the store records it, the overview shows it, and resuming
// lifts it.
func TestPauseAndResume(t *testing.T) {
	f := newFixture(t, console.Options{AllowActions: true})
	confirm := f.do(t, "GET", "/pause", nil)
	wantCode(t, confirm, http.StatusOK)
	csrf := csrfRE.FindStringSubmatch(confirm.Body.String())
	if csrf == nil {
		t.Fatalf("the pause confirmation has no anti-forgery token:\n%s", confirm.Body)
	}
	wantCode(t, f.do(t, "POST", "/pause", url.Values{"csrf": {csrf[1]}, "reason": {"backend migration"}}), http.StatusSeeOther)
	pauses, err := f.store.Pauses(t.Context())
	if err != nil || len(pauses) != 1 || !pauses[0].Every() || pauses[0].By != testUser || pauses[0].Reason != "backend migration" {
		t.Fatalf("pauses after the console's pause: %+v, %v", pauses, err)
	}
	if body := f.do(t, "GET", "/", nil).Body.String(); !strings.Contains(body, "Paused by "+testUser) || !strings.Contains(body, "backend migration") {
		t.Errorf("the overview does not show the pause:\n%s", body)
	}
	wantCode(t, f.do(t, "POST", "/resume", url.Values{"csrf": {csrf[1]}}), http.StatusSeeOther)
	if pauses, err := f.store.Pauses(t.Context()); err != nil || len(pauses) != 0 {
		t.Fatalf("pauses after resuming: %+v, %v", pauses, err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
