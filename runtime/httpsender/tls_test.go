package httpsender

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// testPKI is a certificate authority with a server certificate for
// 127.0.0.1 and a client certificate, all made for one test.
type testPKI struct {
	pool           *x509.CertPool
	server, client tls.Certificate
}

func newPKI(t *testing.T) testPKI {
	t.Helper()
	now := time.Now()
	caKey := newKey(t)
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "httpsender test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(serial int64, name string, usage x509.ExtKeyUsage, ips []net.IP) tls.Certificate {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return testPKI{
		pool:   pool,
		server: leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)}),
		client: leaf(3, "outbox client", x509.ExtKeyUsageClientAuth, nil),
	}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// mtlsServer requires a client certificate signed by pki's CA and answers
// 201 naming the client.
func mtlsServer(t *testing.T, pki testPKI) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"`+r.TLS.PeerCertificates[0].Subject.CommonName+`"}`)
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{pki.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.pool,
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // rejected handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestMutualTLS(t *testing.T) {
	pki := newPKI(t)
	srv := mtlsServer(t, pki)

	cfg := &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}}
	s := newSender(t, srv.URL, WithTLSConfig(cfg))
	cfg.Certificates = nil // the sender keeps its own copy
	rc, err := send(t, s)
	if err != nil {
		t.Fatalf("Send with the client certificate: %v", err)
	}
	if rc.RemoteID != "outbox client" {
		t.Errorf("server saw client %q, want \"outbox client\"", rc.RemoteID)
	}

	cases := map[string]*tls.Config{
		"without the client certificate": {RootCAs: pki.pool},
		"without the CA":                 {Certificates: []tls.Certificate{pki.client}},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := send(t, newSender(t, srv.URL, WithTLSConfig(cfg)))
			if got := classOf(err); got != "unavailable" {
				t.Fatalf("got %s (%v), want unavailable", got, err)
			}
			if !strings.HasPrefix(err.Error(), "POST /v1/weight: ") {
				t.Errorf("error %q should name the route", err)
			}
			t.Log(err)
		})
	}
}

func TestSenderTLS(t *testing.T) {
	if got := senderTLS(nil).MinVersion; got != tls.VersionTLS12 {
		t.Errorf("default MinVersion %x, want TLS 1.2", got)
	}
	user := &tls.Config{ServerName: "api.example.com"}
	if got := senderTLS(user); got.MinVersion != tls.VersionTLS12 || got.ServerName != "api.example.com" || got == user {
		t.Errorf("senderTLS(user) = %p with MinVersion %x, ServerName %q; want a copy with TLS 1.2", got, got.MinVersion, got.ServerName)
	}
	if user.MinVersion != 0 {
		t.Error("senderTLS changed the caller's config")
	}
	if got := senderTLS(&tls.Config{MinVersion: tls.VersionTLS13}).MinVersion; got != tls.VersionTLS13 {
		t.Errorf("MinVersion %x, want TLS 1.3 kept", got)
	}
}

// bufferLogger returns a logger that writes text to the returned buffer.
func bufferLogger() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

func TestPlainHTTPWarning(t *testing.T) {
	// The sender's transport dials srv whatever the URL's host, so the
	// events really travel to a non-loopback name over plain HTTP.
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {})
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", srv.Listener.Addr().String())
	}}
	t.Cleanup(tr.CloseIdleConnections)
	logger, buf := bufferLogger()
	s := newSender(t, "http://example.invalid:8080/api", WithLogger(logger), WithClient(&http.Client{Transport: tr}))
	for range 3 {
		if _, err := send(t, s); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	out := buf.String()
	if n := strings.Count(out, plainHTTPWarning); n != 1 {
		t.Fatalf("warning logged %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "host=example.invalid:8080") {
		t.Errorf("warning %q should be a WARN naming the host", out)
	}

	// New alone warns, without connecting anywhere.
	logger, buf = bufferLogger()
	newSender(t, "http://example.invalid", WithLogger(logger))
	if n := strings.Count(buf.String(), plainHTTPWarning); n != 1 {
		t.Errorf("New warned %d times, want once: %q", n, buf)
	}
}

func TestNoPlainHTTPWarning(t *testing.T) {
	for _, base := range []string{
		"http://localhost", "http://LOCALHOST:8080", "http://localhost.", "http://127.0.0.1:8080",
		"http://127.8.9.10", "http://[::1]:8080", "https://example.invalid", "https://203.0.113.7",
	} {
		logger, buf := bufferLogger()
		newSender(t, base, WithLogger(logger))
		if buf.Len() != 0 {
			t.Errorf("New(%q) logged %q", base, buf)
		}
	}
	for _, base := range []string{"http://10.0.0.2", "http://[2001:db8::1]", "http://localhost.example", "http://128.0.0.1"} {
		logger, buf := bufferLogger()
		newSender(t, base, WithLogger(logger))
		if !strings.Contains(buf.String(), plainHTTPWarning) {
			t.Errorf("New(%q) did not warn", base)
		}
	}
}

func TestWarningGoesToDefaultLogger(t *testing.T) {
	logger, buf := bufferLogger()
	old := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() { slog.SetDefault(old) })
	newSender(t, "http://example.invalid")
	if n := strings.Count(buf.String(), plainHTTPWarning); n != 1 {
		t.Errorf("slog.Default got the warning %d times, want once", n)
	}
}
