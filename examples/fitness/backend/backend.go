// Package backend is the demo backend of the fitness example: a real HTTP
// server that receives the outbox's events, one per request or in batches,
// through the receiver generated from the repository's metrics.yaml
// (examples/fitness/metrics/receiver), with fault injection wrapped around
// it so that the example can show the outbox riding through outages.
//
// The receiver follows the IETF Idempotency-Key draft as Stripe does (see
// runtime/inbox): a request whose key it has completed before is answered
// with the stored original response (the same status and backend id) and
// changes nothing; the same key with a different body is 422; a request
// whose key is still being processed is 409. Each entry's changes are
// applied once, in version order, and errors are RFC 9457 problem
// documents.
//
// It keeps what it receives either in an SQLite file of its own (Open: no
// server to install, for the demo), where the backend implements the
// receiver's Applier over its own records table, or in PostgreSQL (Open
// Postgres), with the receiver's generated default storage; several
// backends may share one PostgreSQL database.
//
// It can be told to go down (refusing connections), to answer slowly, to
// fail a share of requests with a status (5xx, 429 + Retry-After, 400…), to
// answer a share with 409 as if in progress, or to drop the connection on
// one entity's events.
package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/outboxgen/outboxgen/examples/fitness/metrics/receiver"
	"github.com/outboxgen/outboxgen/runtime/inbox"
	"github.com/outboxgen/outboxgen/runtime/inbox/pginbox"
	"github.com/outboxgen/outboxgen/runtime/inbox/sqliteinbox"
)

// Server is the demo backend.
type Server struct {
	receiver http.Handler // the generated receiver
	db       *sql.DB      // for the reads of Counts, Records and Received
	records  func(metric string) string
	close    func() error

	mu     sync.Mutex
	auth   inbox.Authenticator // nil: no token required
	faults Faults
	addr   string
	ln     net.Listener
	srv    *http.Server
	done   chan struct{} // closed when the current Serve returns
}

// Open opens (creating) the backend's SQLite file at path: the receiver's
// keys and versions and the backend's records, in one file, written in
// one transaction per change.
func Open(ctx context.Context, path string) (*Server, error) {
	store, err := sqliteinbox.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, fmt.Errorf("backend: %w", err)
	}
	if _, err := store.DB().ExecContext(ctx, recordsSchema); err != nil {
		store.Close()
		return nil, fmt.Errorf("backend: create tables: %w", err)
	}
	s := &Server{db: store.DB(), close: store.Close, records: func(string) string { return sqliteRecords }}
	if s.receiver, err = receiver.New[*sql.Tx](store, recorder{}, s.options()...); err != nil {
		store.Close()
		return nil, fmt.Errorf("backend: %w", err)
	}
	s.close = purging(store, s.close)
	return s, nil
}

// OpenPostgres opens the backend on the PostgreSQL database at url, with
// the receiver's generated default storage (tables received_<metric>).
// Backends in several processes may share the database.
func OpenPostgres(ctx context.Context, url string) (*Server, error) {
	store, err := pginbox.Open(ctx, url, 10)
	if err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	storage := receiver.NewStorage(store)
	if err := storage.Migrate(ctx); err != nil {
		store.Close()
		return nil, fmt.Errorf("backend: %w", err)
	}
	db := stdlib.OpenDBFromPool(store.Pool())
	s := &Server{
		db:      db,
		close:   func() error { err := db.Close(); store.Close(); return err },
		records: postgresRecords,
	}
	if s.receiver, err = receiver.New[pgx.Tx](store, storage, s.options()...); err != nil {
		s.close()
		return nil, fmt.Errorf("backend: %w", err)
	}
	s.close = purging(store, s.close)
	return s, nil
}

// purging purges p's old keys hourly, as a receiver in production does,
// until the close it returns is called, which stops the purges and then
// calls closeStore.
func purging(p inbox.Purger, closeStore func() error) func() error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = inbox.PurgeEvery(ctx, p, pginbox.DefaultRetention, time.Hour, nil) // both are positive
	}()
	return func() error {
		cancel()
		<-done
		return closeStore()
	}
}

// options are the receiver's: the token RequireToken sets, if any.
func (s *Server) options() []inbox.Option {
	return []inbox.Option{inbox.WithAuthenticator(inbox.AuthenticatorFunc(func(r *http.Request) (string, error) {
		s.mu.Lock()
		auth := s.auth
		s.mu.Unlock()
		if auth == nil {
			return "anyone", nil
		}
		return auth.Authenticate(r)
	}))}
}

// RequireToken makes the backend refuse requests without this bearer token
// (compared in constant time); an empty token takes the requirement away.
func (s *Server) RequireToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth = nil
	if token != "" {
		s.auth, _ = inbox.BearerToken(token, "processor")
	}
}

// authorized reports whether r would pass the receiver's authentication:
// faults are only injected into requests that would.
func (s *Server) authorized(r *http.Request) bool {
	s.mu.Lock()
	auth := s.auth
	s.mu.Unlock()
	if auth == nil {
		return true
	}
	_, err := auth.Authenticate(r)
	return err == nil
}

// SetFaults changes how the backend misbehaves.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

func (s *Server) currentFaults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// Start listens on addr ("127.0.0.1:0" picks a port) and serves until Down
// or Close, with the timeouts of inbox.NewServer. It returns the base URL.
func (s *Server) Start(addr string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return "", errors.New("backend: already up")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("backend: listen: %w", err)
	}
	s.addr = ln.Addr().String()
	s.ln = ln
	s.srv = inbox.NewServer(s.addr, s.Handler())
	s.done = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		_ = srv.Serve(ln)
	}(s.srv, s.done)
	return "http://" + s.addr, nil
}

// Down stops listening: new connections are refused, as if the backend
// were unreachable. Requests in progress are cut off.
func (s *Server) Down() {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.ln, s.srv = nil, nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
		<-done
	}
}

// Up listens again on the address Start chose.
func (s *Server) Up() error {
	_, err := s.Start(s.addr)
	return err
}

// IsUp reports whether the backend is listening.
func (s *Server) IsUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ln != nil
}

// Close stops the server and closes its database.
func (s *Server) Close() error {
	s.Down()
	return s.close()
}
