package console_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	outbox "github.com/outboxgen/outboxgen/runtime"
	"github.com/outboxgen/outboxgen/runtime/console"
)

// The browser tests drive a real headless Chromium through the console as
// an operator would: they wait for elements, never for time. Off CI they
// skip when no Chromium is installed; on CI (CI=true) a missing Chromium
// fails them, and .ci/run installs Debian's.

// chromiumPath finds the browser: $OUTBOXGEN_CHROMIUM, or chromium on the
// PATH.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("OUTBOXGEN_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium for the browser tests: .ci/run installs Debian's (apt-get install chromium), or set OUTBOXGEN_CHROMIUM")
	}
	t.Skip("browser tests skipped: no Chromium found (apt-get install chromium, or set OUTBOXGEN_CHROMIUM to a Chrome or Chromium binary)")
	return ""
}

// browser is one headless Chromium with one tab.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancelTimeout := context.WithTimeout(t.Context(), 90*time.Second)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser to exit
		cancelTimeout()
	})
	b := &browser{t: t, ctx: tabCtx}
	b.do(chromedp.Navigate("about:blank")) // starts the browser
	return b
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

// open navigates to url and returns the HTTP status of the answer.
func (b *browser) open(url string) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(url))
	if err != nil {
		b.t.Fatalf("open %s: %v", url, err)
	}
	return resp.Status
}

// click clicks sel and waits for the page it leads to.
func (b *browser) click(sel string) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
	return resp.Status
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (b *browser) has(sel string) bool {
	b.t.Helper()
	ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("document.querySelector("+jsString(sel)+") !== null"))
	if err != nil {
		b.t.Fatal(err)
	}
	return ok
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int]("document.querySelectorAll("+jsString(sel)+").length"))
	if err != nil {
		b.t.Fatal(err)
	}
	return n
}

// basicAuth makes the tab send the console's credentials, as a browser
// does once its user typed them.
func (b *browser) basicAuth(user, password string) {
	b.t.Helper()
	_, err := chromedp.Call(b.ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))},
	})
	if err != nil {
		b.t.Fatal(err)
	}
}

// screenshot saves the page as name.png in $OUTBOXGEN_SCREENSHOTS, when
// set: that is how docs/console-*.png are made.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("OUTBOXGEN_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func jsString(s string) string { return "'" + strings.ReplaceAll(s, "'", "\\'") + "'" }

// serve serves a console over store on a loopback port.
func serve(t *testing.T, store testStore, opts console.Options) string {
	t.Helper()
	opts.Store = store
	if opts.Auth == nil {
		opts.Auth = console.BasicAuth(testUser, testPassword)
	}
	if opts.Name == "" {
		opts.Name = "test outbox"
	}
	opts.Logger = discardLogger()
	h, err := console.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestBrowserOperatorRetriesADeadEvent is the 3 a.m. path, on both stores:
// open the overview, see it update, go to the dead events, open one,
// reveal its payload, retry it, and check the database.
func TestBrowserOperatorRetriesADeadEvent(t *testing.T) {
	for name, open := range map[string]func(testing.TB) (testStore, enqueueFunc){"sqlite": openSQLite, "postgres": openPostgres} {
		t.Run(name, func(t *testing.T) {
			store, enqueue := open(t)
			s := seed(t, store, enqueue)
			base := serve(t, store, console.Options{AllowActions: true, Refresh: time.Second, Name: name + " outbox"})
			b := newBrowser(t)
			b.basicAuth(testUser, testPassword)

			if code := b.open(base + "/"); code != http.StatusOK {
				t.Fatalf("overview: HTTP %d", code)
			}
			b.do(chromedp.WaitVisible(chromedp.CSS("#count-dead")))
			if got := b.text("#count-dead .n"); got != "2" {
				t.Errorf("overview: %s dead events, want 2", got)
			}
			if got := b.text("#delivery-state"); !strings.Contains(got, "Delivery is paused") || !strings.Contains(got, "503 Service Unavailable") {
				t.Errorf("overview: delivery state %q, want the processor's pause and its reason", got)
			}
			if b.count("#processors tbody tr") != 1 {
				t.Error("overview: the live processor is not listed")
			}
			b.screenshot("console-overview")

			// The overview refreshes by itself: an event retried elsewhere
			// leaves the dead count without a reload.
			if err := store.Retry(t.Context(), s.dead[1].ID); err != nil {
				t.Fatal(err)
			}
			b.do(chromedp.Poll[chromedp.Void](`document.querySelector('#count-dead .n').textContent === '1'`, chromedp.WithPollingTimeout(10*time.Second)))

			// Filter to the dead events.
			b.open(base + "/events")
			b.do(
				chromedp.WaitVisible(chromedp.CSS("#filters")),
				chromedp.SetValue(chromedp.CSS("#filter-status"), "dead"),
			)
			if code := b.click("#filter-apply"); code != http.StatusOK {
				t.Fatalf("filter: HTTP %d", code)
			}
			if n, dead := b.count("tr.event"), b.count("tr.event.s-dead"); n != 1 || dead != 1 {
				t.Fatalf("dead filter: %d rows, %d dead; want the one dead event left", n, dead)
			}

			// Open it: the payload is hidden until revealed.
			if code := b.click(`tr.event a`); code != http.StatusOK {
				t.Fatalf("event: HTTP %d", code)
			}
			if got := b.text("#event-id"); got != s.dead[0].ID.String() {
				t.Fatalf("opened event %s, want %s", got, s.dead[0].ID)
			}
			if b.has("#payload") || strings.Contains(b.text("main"), payloadMarker) {
				t.Fatal("the payload shows before a reveal")
			}
			if !strings.Contains(b.text("#last-error"), "422 Unprocessable Entity") {
				t.Errorf("last error %q", b.text("#last-error"))
			}
			b.screenshot("console-event")
			b.click("#reveal")
			if got := b.text("#payload"); !strings.Contains(got, payloadMarker) {
				t.Fatalf("revealed payload %q lacks the marker", got)
			}

			// Retry it, confirming the count.
			b.click("#retry")
			if q := b.text("#question"); !strings.Contains(q, "Retry 1 event") {
				t.Fatalf("confirmation %q does not name the count", q)
			}
			if got := s.status(t, s.dead[0]); got != outbox.StatusDead {
				t.Fatalf("the confirmation page changed the event to %s", got)
			}
			if code := b.click("#confirm"); code != http.StatusOK {
				t.Fatalf("retry: HTTP %d", code)
			}
			if !strings.Contains(b.text("#flash"), "retried") {
				t.Errorf("after the retry the page says %q", b.text("#flash"))
			}
			if got := s.status(t, s.dead[0]); got != outbox.StatusPending {
				t.Fatalf("after the retry the event is %s in the database, want pending", got)
			}
		})
	}
}

// TestBrowserReadOnlyConsoleRefusesActions opens an event on a read-only
// console: no action is offered, and the retry page, typed in by hand, is
// refused.
func TestBrowserReadOnlyConsoleRefusesActions(t *testing.T) {
	store, enqueue := openSQLite(t)
	s := seed(t, store, enqueue)
	base := serve(t, store, console.Options{})
	b := newBrowser(t)
	b.basicAuth(testUser, testPassword)
	eventURL := base + "/events/" + s.dead[0].ID.String()
	b.open(eventURL)
	if got := b.text("#mode"); got != "read-only" {
		t.Errorf("mode %q, want read-only", got)
	}
	if b.has("#retry") || b.has("#discard") {
		t.Error("a read-only console offers actions")
	}
	if code := b.open(eventURL + "/retry"); code != http.StatusForbidden {
		t.Errorf("retry page: HTTP %d, want 403", code)
	}
	if got := b.text("#message"); !strings.Contains(got, "read-only") {
		t.Errorf("the refusal says %q", got)
	}
	if got := s.status(t, s.dead[0]); got != outbox.StatusDead {
		t.Errorf("the event is %s, want dead", got)
	}
}

// TestBrowserRefusesUnauthenticated opens a console protected by a bearer
// token: without it the browser gets the sign-in page, a wrong token is
// refused, the right one lets it in.
func TestBrowserRefusesUnauthenticated(t *testing.T) {
	const token = "console-token-0123456789"
	store, enqueue := openSQLite(t)
	seed(t, store, enqueue)
	base := serve(t, store, console.Options{Auth: console.BearerToken(token)})
	b := newBrowser(t)
	if code := b.open(base + "/events?status=dead"); code != http.StatusUnauthorized {
		t.Fatalf("unauthenticated: HTTP %d, want 401", code)
	}
	if b.has("tr.event") || !b.has("#token") {
		t.Fatal("unauthenticated: want the sign-in form and no events")
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#token"), "wrong-token"))
	if code := b.click("#sign-in"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: HTTP %d, want 401", code)
	}
	if !b.has("#sign-in-error") {
		t.Fatal("a wrong token is not refused on the page")
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#token"), token))
	if code := b.click("#sign-in"); code != http.StatusOK {
		t.Fatalf("right token: HTTP %d, want 200", code)
	}
	if n := b.count("tr.event.s-dead"); n != 2 {
		t.Errorf("after signing in: %d dead events, want the page asked for first, with 2", n)
	}
}
