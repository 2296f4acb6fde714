// Package backend is the demo backend of the fitness example: a real HTTP
// server that receives the outbox's events, one per request or in batches,
// validates them, and keeps what it received in an SQLite file of its own.
//
// It follows the IETF Idempotency-Key draft as Stripe does: a request whose
// key it has completed before is answered with the stored original response
// (the same status and backend id) and changes nothing; the same key with a
// different body is 422; a request whose key is still being processed is
// 409. Errors are RFC 9457 problem documents.
//
// It can be told to go down (refusing connections), to answer slowly, to
// fail a share of requests with a status (5xx, 429 + Retry-After, 400…), to
// answer a share with 409 as if in progress, or to drop the connection on
// one entity's events, so the example can show the outbox riding through
// all of it.
package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the backend's own store
)

// Faults are the misbehaviours the backend is told to show. The zero value
// is a healthy backend.
type Faults struct {
	// SlowShare of requests are answered only after SlowBy, once the event
	// is stored: a client that gives up earlier retries, and the retry is
	// a duplicate the backend must absorb. Each event of a batch draws its
	// chance; the batch is answered SlowBy late if any of them drew it.
	SlowShare float64
	SlowBy    time.Duration
	// FailShare of requests fail with FailStatus (503 or 429, say) and a
	// Retry-After of RetryAfter, before anything is stored. Each event of a
	// batch draws its chance and fails with FailStatus in the results (a
	// result has no Retry-After); at 1, when every request fails, the batch
	// request fails as a whole, Retry-After and all.
	FailShare  float64
	FailStatus int
	RetryAfter time.Duration
	// InProgressShare of events are answered 409, as if an earlier request
	// with their key were still being processed, before anything is stored.
	InProgressShare float64
	// DropEntity, when set, is an entity id on whose events the backend
	// drops the connection after reading the request, without an answer
	// and without storing anything: a crash on that payload. A batch that
	// holds one is dropped as a whole.
	DropEntity string
}

// Server is the demo backend.
type Server struct {
	db    *sql.DB
	addr  string
	token string

	mu       sync.Mutex
	faults   Faults
	inFlight map[string]bool // idempotency keys being processed
	ln       net.Listener
	srv      *http.Server
	done     chan struct{} // closed when the current Serve returns
}

// Open opens (creating) the backend's SQLite file at path.
func Open(ctx context.Context, path string) (*Server, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	f.Close()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("backend: create tables: %w", err)
	}
	return &Server{db: db, inFlight: map[string]bool{}}, nil
}

// schema: idempotency_keys holds each completed request's key, a hash of
// its body and the response it got, which a repeat of the key gets again.
const schema = `
CREATE TABLE IF NOT EXISTS idempotency_keys (
    idempotency_key TEXT PRIMARY KEY,
    event_type      TEXT NOT NULL,
    metric          TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    body_sha256     TEXT NOT NULL,
    status          INTEGER NOT NULL,
    remote_id       TEXT NOT NULL,
    received_at     INTEGER NOT NULL,
    duplicates      INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS records (
    metric    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    version   INTEGER NOT NULL,
    deleted   BOOLEAN NOT NULL,
    payload   BLOB NOT NULL,
    PRIMARY KEY (metric, entity_id)
);`

// RequireToken makes the backend refuse requests without this bearer token.
func (s *Server) RequireToken(token string) { s.token = token }

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
// or Close. It returns the base URL.
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
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
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
	return s.db.Close()
}

// begin marks an idempotency key as being processed; it reports false if
// it already is.
func (s *Server) begin(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight[key] {
		return false
	}
	s.inFlight[key] = true
	return true
}

// end marks a key as no longer being processed.
func (s *Server) end(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inFlight, key)
}

// chance reports true with probability p.
func chance(p float64) bool { return p > 0 && rand.Float64() < p }
