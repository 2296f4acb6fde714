package chaos_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/outboxgen/outboxgen/examples/fitness/backend"
	"github.com/outboxgen/outboxgen/internal/pgtest"
)

// receivers is the backend the processor delivers to: on SQLite one demo
// backend; on PostgreSQL two instances of the generated receiver sharing
// one database (on another server than the app's, which the run restarts),
// behind a round-robin proxy, as a team would deploy it. Faults, outages
// and tokens apply to every instance alike.
type receivers struct {
	all   []*backend.Server
	url   string // what the processor is given
	proxy *httptest.Server
	trans *http.Transport
}

// openReceivers opens one backend on an SQLite file in dir, or, when
// onPostgres, two on a fresh PostgreSQL database behind a proxy. Each
// requires token.
func openReceivers(t *testing.T, ctx context.Context, dir, token string, onPostgres bool) *receivers {
	t.Helper()
	open := func() (*backend.Server, error) { return backend.Open(ctx, filepath.Join(dir, "backend.db")) }
	instances := 1
	if onPostgres {
		db := pgtest.NewDatabase(t)
		open = func() (*backend.Server, error) { return backend.OpenPostgres(ctx, db) }
		instances = 2
	}
	r := &receivers{}
	t.Cleanup(r.close) // before the database is dropped
	var bases []*url.URL
	for range instances {
		be, err := open()
		if err != nil {
			t.Fatal(err)
		}
		r.all = append(r.all, be)
		be.RequireToken(token)
		base, err := be.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		bases = append(bases, u)
	}
	if len(bases) == 1 {
		r.url = bases[0].String()
		return r
	}
	r.trans = &http.Transport{MaxIdleConnsPerHost: 64}
	var next atomic.Uint64
	r.proxy = httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(bases[next.Add(1)%uint64(len(bases))])
		},
		Transport:    r.trans,
		ErrorHandler: passDrops,
	})
	r.url = r.proxy.URL
	return r
}

// passDrops answers as a proxy does when an instance cannot be reached (no
// instance listening: 502), and passes on an instance's dropped connection
// as a dropped connection, so that a request the receiver crashed on looks
// to the processor as it would without the proxy.
func passDrops(w http.ResponseWriter, r *http.Request, err error) {
	var op *net.OpError
	switch {
	case r.Context().Err() != nil:
		return // the client went away
	case errors.As(err, &op) && op.Op == "dial":
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	if conn, _, hijackErr := http.NewResponseController(w).Hijack(); hijackErr == nil {
		_ = conn.Close()
		return
	}
	w.WriteHeader(http.StatusBadGateway)
}

// SetFaults makes every instance misbehave as f says.
func (r *receivers) SetFaults(f backend.Faults) {
	for _, be := range r.all {
		be.SetFaults(f)
	}
}

// Down stops every instance listening; behind the proxy, requests then get
// 502.
func (r *receivers) Down() {
	for _, be := range r.all {
		be.Down()
	}
}

// Up brings every instance back.
func (r *receivers) Up() error {
	for _, be := range r.all {
		if !be.IsUp() {
			if err := be.Up(); err != nil {
				return err
			}
		}
	}
	return nil
}

// IsUp reports whether every instance is listening.
func (r *receivers) IsUp() bool {
	for _, be := range r.all {
		if !be.IsUp() {
			return false
		}
	}
	return true
}

// Received and Records read the backend's shared database (any instance
// reads it all).
func (r *receivers) Received() (map[string]int, error) { return r.all[0].Received() }

func (r *receivers) Records(metric string) (map[string]backend.Record, error) {
	return r.all[0].Records(metric)
}

// describe names the deployment, for the figures.
func (r *receivers) describe() string {
	if r.proxy != nil {
		return "two receivers on PostgreSQL behind a round-robin proxy"
	}
	return "one receiver on SQLite"
}

func (r *receivers) close() {
	if r.proxy != nil {
		r.proxy.Close()
		r.trans.CloseIdleConnections()
	}
	for _, be := range r.all {
		_ = be.Close()
	}
}
