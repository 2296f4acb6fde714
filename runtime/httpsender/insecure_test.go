package httpsender

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A TLS config that skips verification works, and is logged once per
// sender, however many events it sends; a verifying one is not.
func TestInsecureSkipVerifyWarning(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	logger, buf := bufferLogger()
	s := newSender(t, srv.URL, WithLogger(logger), WithTLSConfig(&tls.Config{InsecureSkipVerify: true}))
	t.Cleanup(s.CloseIdleConnections)
	for range 3 {
		if _, err := send(t, s); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	if n := strings.Count(buf.String(), insecureTLSWarning); n != 1 || !strings.Contains(buf.String(), "level=WARN") {
		t.Fatalf("warning logged %d times, want once as a WARN:\n%s", n, buf)
	}

	logger, buf = bufferLogger()
	newSender(t, srv.URL, WithLogger(logger), WithTLSConfig(&tls.Config{RootCAs: nil}))
	if buf.Len() != 0 {
		t.Errorf("a verifying TLS config logged %q", buf)
	}
}
