package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// envURL names the variable holding the admin URL of the PostgreSQL server
// the benchmarks create their databases on.
const envURL = "OUTBOXGEN_BENCH_DATABASE_URL"

const defaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// adminURL returns the URL of the server's maintenance database.
func adminURL() string {
	if u := os.Getenv(envURL); u != "" {
		return u
	}
	return defaultAdminURL
}

// server creates and drops the throwaway databases of one benchmark run on
// one PostgreSQL server. Every database it creates is named with its
// prefix, so that Close can drop whatever an interrupted run left behind.
type server struct {
	admin  string // URL of the maintenance database
	prefix string // e.g. "obbench_1a2b3c_"

	mu      sync.Mutex
	created map[string]bool
	seq     int
}

// newServer checks that the server is reachable and returns a server whose
// databases carry a prefix unique to this process.
func newServer(ctx context.Context, admin string) (*server, error) {
	conn, err := connect(ctx, admin)
	if err != nil {
		return nil, err
	}
	conn.Close(ctx)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return &server{admin: admin, prefix: "obbench_" + hex.EncodeToString(b) + "_", created: map[string]bool{}}, nil
}

// connect opens one connection, with a bounded wait so that an unreachable
// server is reported quickly.
func connect(ctx context.Context, u string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w (start it, or point %s at a server whose role may CREATE DATABASE)", redact(u), err, envURL)
	}
	return conn, nil
}

// redact hides a password in a database URL.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

// urlOf returns the URL of database name on the server.
func (s *server) urlOf(name string) string {
	u, err := url.Parse(s.admin)
	if err != nil {
		return s.admin
	}
	u.Path = "/" + name
	return u.String()
}

// name returns a fresh database name with the given label.
func (s *server) name(label string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("%s%s_%d", s.prefix, label, s.seq)
}

// create makes an empty database (or a copy of template, when it is not
// empty), checkpoints so that the copy's writes do not land in the next
// measurement, and returns its name and URL.
func (s *server) create(ctx context.Context, label, template string) (name, dbURL string, err error) {
	name = s.name(label)
	stmt := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		stmt += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	conn, err := connect(ctx, s.admin)
	if err != nil {
		return "", "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// A template must have no connections; the pools of the previous step
	// may still be closing theirs, so retry for a while.
	for attempt := 0; ; attempt++ {
		_, err = conn.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		if err == nil || attempt >= 50 || !errors.As(err, &pgErr) || pgErr.Code != "55006" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return "", "", fmt.Errorf("create database %s: %w", name, err)
	}
	s.mu.Lock()
	s.created[name] = true
	s.mu.Unlock()
	s.checkpoint(ctx, conn)
	return name, s.urlOf(name), nil
}

// checkpoint flushes the server's dirty buffers now, so that earlier
// writes are not flushed during the next measurement. Best effort: a role
// without pg_checkpoint just measures with them still to be flushed.
func (s *server) checkpoint(ctx context.Context, conn *pgx.Conn) {
	if conn == nil {
		c, err := connect(ctx, s.admin)
		if err != nil {
			return
		}
		defer c.Close(context.WithoutCancel(ctx))
		conn = c
	}
	_, _ = conn.Exec(ctx, "CHECKPOINT")
}

// drop removes a database, with any connections still open to it.
func (s *server) drop(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	conn, err := connect(ctx, s.admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	s.mu.Lock()
	delete(s.created, name)
	s.mu.Unlock()
	return nil
}

// close drops every database this server still has, including ones an
// interrupted measurement left behind.
func (s *server) close(ctx context.Context) error {
	s.mu.Lock()
	names := make([]string, 0, len(s.created))
	for n := range s.created {
		names = append(names, n)
	}
	s.mu.Unlock()
	var errs []error
	for _, n := range names {
		if err := s.drop(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// fresh creates a database for one measurement and returns its URL and a
// function that drops it.
func (s *server) fresh(ctx context.Context, label, template string) (dbURL string, done func(), err error) {
	name, dbURL, err := s.create(ctx, label, template)
	if err != nil {
		if name != "" {
			_ = s.drop(ctx, name)
		}
		return "", nil, err
	}
	return dbURL, func() { _ = s.drop(ctx, name) }, nil
}

// execSQL runs statements on the database at dbURL over a connection of its own.
func execSQL(ctx context.Context, dbURL string, stmts ...string) error {
	conn, err := connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, st := range stmts {
		if _, err := conn.Exec(ctx, st); err != nil {
			return fmt.Errorf("%s: %w", firstLine(st), err)
		}
	}
	return nil
}

// firstLine shortens a statement for an error message.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	return s
}

// openPool opens a pgx pool of at most maxConns connections.
func openPool(ctx context.Context, dbURL string, maxConns int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	cfg.MaxConns = int32(maxConns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect pool to %s: %w", redact(dbURL), err)
	}
	return pool, nil
}

// serverInfo is what the report says about the PostgreSQL server.
type serverInfo struct {
	Version  string
	Settings [][2]string // name, value, in report order
}

// reportedSettings are the settings that bear on the results.
var reportedSettings = []string{
	"shared_buffers", "synchronous_commit", "fsync", "wal_sync_method", "max_connections",
	"work_mem", "checkpoint_timeout", "max_wal_size", "autovacuum",
}

// describeServer reads the server's version and key settings.
func describeServer(ctx context.Context, admin string) (serverInfo, error) {
	conn, err := connect(ctx, admin)
	if err != nil {
		return serverInfo{}, err
	}
	defer conn.Close(ctx)
	var info serverInfo
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&info.Version); err != nil {
		return info, fmt.Errorf("read server version: %w", err)
	}
	for _, name := range reportedSettings {
		var v string
		if err := conn.QueryRow(ctx, "SHOW "+name).Scan(&v); err != nil {
			return info, fmt.Errorf("SHOW %s: %w", name, err)
		}
		info.Settings = append(info.Settings, [2]string{name, v})
	}
	return info, nil
}
