package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	outbox "github.com/outboxgen/outboxgen/runtime"
)

// daemon is the binary running "run", whose log the test can wait on.
type daemon struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  strings.Builder
	more chan struct{} // closed and replaced at each new log line
	done chan struct{} // closed when the log ends
}

func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	d := &daemon{cmd: exec.Command(binary, args...), more: make(chan struct{}), done: make(chan struct{})}
	d.cmd.Env = append(os.Environ(), "DATABASE_URL=")
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(d.done)
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			d.mu.Lock()
			d.log.WriteString(lines.Text() + "\n")
			close(d.more)
			d.more = make(chan struct{})
			d.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			_ = d.cmd.Process.Kill()
			_ = d.wait()
		}
	})
	return d
}

// waitFor waits until the log has a line containing s.
func (d *daemon) waitFor(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		d.mu.Lock()
		log, more := d.log.String(), d.more
		d.mu.Unlock()
		if strings.Contains(log, s) {
			return
		}
		select {
		case <-more:
		case <-d.done:
			t.Fatalf("the daemon's log ended without %q:\n%s", s, d.logs())
		case <-timeout:
			t.Fatalf("no %q in the daemon's log within 30s:\n%s", s, d.logs())
		}
	}
}

func (d *daemon) logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// wait waits for the process and its log to end and returns its exit status.
func (d *daemon) wait() int {
	<-d.done
	_ = d.cmd.Wait()
	return d.cmd.ProcessState.ExitCode()
}

// tlsBackend is a backend that requires TLS with a client certificate
// from its CA, a bearer token and an API key header.
type tlsBackend struct {
	*httptest.Server
	mu        sync.Mutex
	token     string
	delivered map[string]bool // by Idempotency-Key
	arrived   chan string     // each delivered key
	rejected  int             // 401s
}

func newTLSBackend(t *testing.T, p pki, token string) *tlsBackend {
	b := &tlsBackend{token: token, delivered: map[string]bool{}, arrived: make(chan string, 100)}
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch {
		case len(r.TLS.PeerCertificates) == 0: // the TLS config makes this impossible; checked anyway
			http.Error(w, "no client certificate", http.StatusForbidden)
		case r.Header.Get("Authorization") != "Bearer "+b.token:
			b.rejected++
			http.Error(w, "bad token", http.StatusUnauthorized)
		case r.Header.Get("X-Api-Key") != "k-123":
			http.Error(w, "no api key", http.StatusForbidden)
		default:
			key := r.Header.Get("Idempotency-Key")
			if !b.delivered[key] {
				b.delivered[key] = true
				b.arrived <- key
			}
			w.WriteHeader(http.StatusCreated)
		}
	}))
	b.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.pool, MinVersion: tls.VersionTLS12}
	b.StartTLS()
	t.Cleanup(b.Close)
	return b
}

func (b *tlsBackend) rotate(token string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.token = token
}

// await waits for n new deliveries.
func (b *tlsBackend) await(t *testing.T, d *daemon, n int) {
	t.Helper()
	for range n {
		select {
		case <-b.arrived:
		case <-time.After(30 * time.Second):
			t.Fatalf("the backend did not get all %d events:\n%s", n, d.logs())
		}
	}
}

// The daemon reaches a backend that requires mutual TLS, a bearer token
// and a header; a token rotated in its file is used without a restart; and
// no credential reaches the log.
func TestRunReachesAnAuthenticatedTLSBackend(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			o := newOutbox(t, kind)
			p := newPKI(t)
			dir := t.TempDir()
			tokenFile := filepath.Join(dir, "token")
			writeFile(t, tokenFile, "token-one-aaaa\n")
			b := newTLSBackend(t, p, "token-one-aaaa")
			backend := strings.Replace(b.URL, "https://", "https://svc:url-pw-123@", 1)

			args := o.with("run", "--catalog", testCatalog, "--backend", backend, "--poll", "100ms", "--log-format", "json")
			settings := map[string]string{"token_file": tokenFile, "ca_file": p.write(t, dir, "ca"), "client_cert": p.write(t, dir, "client-cert"),
				"client_key": p.write(t, dir, "client-key"), "tls_min_version": "1.3"}
			if kind == "sqlite" { // settings from a config file
				var yaml strings.Builder
				for k, v := range settings {
					yaml.WriteString(k + ": " + v + "\n")
				}
				yaml.WriteString("headers:\n  x-api-key: k-123\n")
				writeFile(t, filepath.Join(dir, "run.yaml"), yaml.String())
				args = append(args, "--config", filepath.Join(dir, "run.yaml"))
			} else { // settings as flags
				for k, v := range settings {
					args = append(args, "--"+strings.ReplaceAll(k, "_", "-"), v)
				}
				args = append(args, "--header", "X-Api-Key: k-123")
			}
			d := startDaemon(t, args...)

			o.enqueue(weightEvent("ada"), weightEvent("ada"), weightEvent("bob"))
			b.await(t, d, 3)
			// Rotate: the new token in the file first (renamed into place, as
			// secret mounts do), then the backend accepts only it.
			writeFile(t, tokenFile+".new", "token-number-two-bbbb\n")
			if err := os.Rename(tokenFile+".new", tokenFile); err != nil {
				t.Fatal(err)
			}
			b.rotate("token-number-two-bbbb")
			o.enqueue(weightEvent("ada"), weightEvent("cy"), weightEvent("bob"))
			b.await(t, d, 3)

			if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := d.wait(); code != 0 {
				t.Fatalf("exit %d on SIGTERM:\n%s", code, d.logs())
			}
			logs := d.logs()
			for _, secret := range []string{"token-one", "token-number-two", "svc:", "url-pw-123", "k-123", "PRIVATE KEY"} {
				if strings.Contains(logs, secret) {
					t.Errorf("the log holds %q:\n%s", secret, logs)
				}
			}
			if !strings.Contains(logs, `"mtls":true`) || !strings.Contains(logs, `"backend":"https://127.0.0.1:`) || !strings.Contains(logs, `"url_credentials":true`) {
				t.Errorf("the start line does not say how it connects:\n%s", logs)
			}
			st, err := o.store.Stats(t.Context())
			if err != nil || st.Counts[outbox.StatusCompleted] != 6 {
				t.Fatalf("completed %d of 6 (%v):\n%s", st.Counts[outbox.StatusCompleted], err, logs)
			}
		})
	}
}

// Certificate verification can be turned off only by a flag that says what
// it costs, and then the daemon warns.
func TestRunInsecureSkipVerifyWarns(t *testing.T) {
	o := newOutbox(t, "sqlite")
	b := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) }))
	defer b.Close()
	t.Setenv("OUTBOX_TOKEN", "env-token-cccc")
	d := startDaemon(t, o.with("run", "--catalog", testCatalog, "--backend", b.URL, "--poll", "100ms", "--token-env", "OUTBOX_TOKEN", "--insecure-skip-tls-verify-i-know")...)
	d.waitFor(t, "TLS certificate verification is off")
	o.enqueue(weightEvent("ada"))
	d.waitFor(t, "delivering")
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(); code != 0 || strings.Contains(d.logs(), "env-token-cccc") {
		t.Fatalf("exit %d:\n%s", code, d.logs())
	}
	if strings.Count(d.logs(), "TLS certificate verification is off") != 1 {
		t.Errorf("the warning is not logged exactly once:\n%s", d.logs())
	}
}

// The first SIGTERM waits for deliveries in flight; a second exits at once.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	eachStore(t, testSecondSignalExitsAtOnce)
}

func testSecondSignalExitsAtOnce(t *testing.T, o outboxOn) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer b.Close()
	defer close(release)
	o.enqueue(weightEvent("ada"))
	d := startDaemon(t, o.with("run", "--catalog", testCatalog, "--backend", b.URL, "--poll", "100ms", "--stop-timeout", "5m", "--timeout", "5m", "--lease", "10m")...)
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatalf("no delivery began:\n%s", d.logs())
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.waitFor(t, "stopping; send it again to exit at once")
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Exit status 143 (128 + SIGTERM) means the second signal ended it: the
	// delivery in flight could only have finished after five minutes.
	if code := d.wait(); code != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit %d after a second SIGTERM, want %d:\n%s", code, 128+int(syscall.SIGTERM), d.logs())
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// pki is a certificate authority with a server certificate for 127.0.0.1
// and a client certificate, made for one test.
type pki struct {
	pool           *x509.CertPool
	caDER          []byte
	server, client tls.Certificate
}

func newPKI(t *testing.T) pki {
	t.Helper()
	now := time.Now()
	caKey := newKey(t)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "outboxctl test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(name string, usage x509.ExtKeyUsage, ips []net.IP) tls.Certificate {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(uuid.New().ID())), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return pki{pool: pool, caDER: caDER,
		server: leaf("127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)}),
		client: leaf("outbox processor", x509.ExtKeyUsageClientAuth, nil)}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// write writes one of the PEM files the daemon takes ("ca", "client-cert"
// or "client-key") into dir and returns its path.
func (p pki) write(t *testing.T, dir, what string) string {
	t.Helper()
	var block *pem.Block
	switch what {
	case "ca":
		block = &pem.Block{Type: "CERTIFICATE", Bytes: p.caDER}
	case "client-cert":
		block = &pem.Block{Type: "CERTIFICATE", Bytes: p.client.Certificate[0]}
	case "client-key":
		der, err := x509.MarshalPKCS8PrivateKey(p.client.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	path := filepath.Join(dir, what+".pem")
	writeFile(t, path, string(pem.EncodeToMemory(block)))
	return path
}

// A processor killed mid-delivery: status and processors say it is dead
// and that no processor is alive, and status counts the leases it left
// behind once they expire.
func TestKilledProcessorIsShownDead(t *testing.T) {
	eachStore(t, func(t *testing.T, o outboxOn) {
		arrived, release := make(chan struct{}, 1), make(chan struct{})
		b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case arrived <- struct{}{}:
			default:
			}
			<-release // no answer while the test runs: the delivery is in flight when the processor dies
		}))
		defer b.Close()
		defer close(release)
		o.enqueue(weightEvent("ada"), weightEvent("grace"))
		d := startDaemon(t, o.with("run", "--catalog", testCatalog, "--backend", b.URL, "--poll", "100ms",
			"--heartbeat", "100ms", "--timeout", "2s", "--lease", "4500ms")...)
		select {
		case <-arrived:
		case <-time.After(30 * time.Second):
			t.Fatalf("no delivery began:\n%s", d.logs())
		}
		// The adaptive limit starts at 16 sends, and the backend has not
		// answered anything to move it. The delivery can begin before the
		// first heartbeat that reports it is written: ask until one is.
		for deadline := time.Now().Add(10 * time.Second); ; {
			r := ctl(t, o.with("processors")...)
			if r.code == 0 && strings.Contains(r.stdout, "delivering:") {
				if !strings.Contains(r.stdout, "up to 16 sends at once") {
					t.Fatalf("processors while it delivers: %s", r)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("processors while it delivers: %s", r)
			}
			time.Sleep(100 * time.Millisecond) // polling another process's database, as an operator would
		}
		if err := d.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = d.wait()
		// The heartbeat expires after three missed (300 ms) and the leases
		// after 4.5 s (the 2 s timeout leaves the check above time to run while
		// the delivery hangs); status is asked until both show, as an operator would.
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := ctl(t, o.with("status")...)
			if strings.Contains(r.stdout, "none alive") && regexp.MustCompile(`expired leases: +[12] event`).MatchString(r.stdout) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("status never showed a dead processor and its expired leases: %s", r)
			}
			time.Sleep(100 * time.Millisecond) // polling another process's database, as an operator would
		}
		if r := ctl(t, o.with("processors")...); r.code != 0 || !strings.Contains(r.stdout, "dead: last seen") {
			t.Errorf("processors after the kill: %s", r)
		}
	})
}

// An operator's pause, made with the binary while a processor runs, holds
// the paused type back at the processor's next claim and shows in its
// /healthz and /metrics; a resume has the type delivered within a second.
func TestPauseHonouredByARunningProcessor(t *testing.T) {
	eachStore(t, func(t *testing.T, o outboxOn) {
		var mu sync.Mutex
		firstAt := map[string]time.Time{} // event type → its first delivery
		arrived := make(chan string, 16)
		b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			typ := r.Header.Get("X-Outbox-Event-Type")
			mu.Lock()
			if firstAt[typ].IsZero() {
				firstAt[typ] = time.Now()
				arrived <- typ
			}
			mu.Unlock()
			w.WriteHeader(http.StatusCreated)
		}))
		defer b.Close()
		deliveredAt := func(typ string) time.Time {
			mu.Lock()
			defer mu.Unlock()
			return firstAt[typ]
		}
		await := func(d *daemon, typ string) {
			t.Helper()
			for {
				select {
				case got := <-arrived:
					if got == typ {
						return
					}
				case <-time.After(30 * time.Second):
					t.Fatalf("%s was not delivered:\n%s", typ, d.logs())
				}
			}
		}
		d := startDaemon(t, o.with("run", "--catalog", testCatalog, "--backend", b.URL, "--listen", "127.0.0.1:0", "--poll", "100ms")...)
		d.waitFor(t, "serving /healthz and /metrics")
		base := "http://" + regexp.MustCompile(`addr=(\S+)`).FindStringSubmatch(d.logs())[1]

		if r := ctl(t, o.with("pause", "--type", "weight.created", "--reason", "route broken", "--by", "ada")...); r.code != 0 {
			t.Fatalf("pause: %s", r)
		}
		// created is older than updated: a claim that took updated would
		// have taken created first, had the running processor not honoured
		// the pause.
		o.enqueue(outbox.Event{Type: "weight.created", Aggregate: "weight", AggregateID: uuid.NewString(), UserID: "ada", Payload: []byte(`{}`)})
		o.enqueue(outbox.Event{Type: "weight.updated", Aggregate: "weight", AggregateID: uuid.NewString(), UserID: "ada", Payload: []byte(`{}`)})
		await(d, "weight.updated")
		// Had the processor claimed the paused event with the other, as one
		// batch, it would have spent an attempt on it in the same statement.
		if r := ctl(t, o.with("list", "--type", "weight.created", "--json")...); !strings.Contains(r.stdout, `"status": "pending"`) || !strings.Contains(r.stdout, `"attempts": 0`) {
			t.Fatalf("the running processor claimed a paused type: %s", r)
		}
		if h := httpGet(t, base+"/healthz"); !strings.Contains(h, `"event_type":"weight.created"`) || !strings.Contains(h, `"reason":"route broken"`) {
			t.Errorf("/healthz does not show the pause: %s", h)
		}
		m := httpGet(t, base+"/metrics")
		if !strings.Contains(m, `outbox_operator_paused{event_type="weight.created"} 1`) {
			t.Errorf("/metrics does not show the pause")
		}
		// What an operator alerts on: the backlog's age per type (the
		// paused event waits), deliveries in flight, leases that expired,
		// and which build runs.
		for _, want := range []string{`(?m)^outbox_oldest_waiting_by_type_seconds\{event_type="weight.created"\} [0-9.e+-]+$`, `(?m)^outbox_in_flight \d+$`,
			`(?m)^outbox_lease_expiries_total 0$`, `(?m)^outbox_build_info\{.*version="[^"]+".*\} 1$`} {
			if !regexp.MustCompile(want).MatchString(m) {
				t.Errorf("/metrics lacks %s:\n%s", want, grepLines(m, "outbox_"))
			}
		}

		if r := ctl(t, o.with("resume", "--type", "weight.created")...); r.code != 0 {
			t.Fatalf("resume: %s", r)
		}
		// Timed from the end of the command, which committed the resume
		// before it exited, so that starting a process on a busy machine
		// is not counted against the processor.
		resumed := time.Now()
		await(d, "weight.created")
		if took := deliveredAt("weight.created").Sub(resumed); took > time.Second {
			t.Errorf("the paused type was delivered %s after the resume; want within a second", took)
		}
		if m := httpGet(t, base+"/metrics"); strings.Contains(m, `outbox_operator_paused{event_type="weight.created"} 1`) {
			t.Errorf("/metrics still shows the lifted pause")
		}
		if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := d.wait(); code != 0 {
			t.Fatalf("exit %d after SIGTERM:\n%s", code, d.logs())
		}
	})
}

// grepLines returns the lines of text that start with prefix.
func grepLines(text, prefix string) string {
	var out strings.Builder
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, prefix) {
			out.WriteString(line)
		}
	}
	return out.String()
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}
