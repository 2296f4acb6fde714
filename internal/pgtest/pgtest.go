// Package pgtest gives tests throwaway PostgreSQL databases: each test gets
// a database of its own with a unique name, dropped when the test ends.
//
// The server is found through OUTBOXGEN_TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres). Without a reachable server
// tests skip with a message saying how to enable them, except under CI=true,
// where a missing PostgreSQL fails the test: CI must never pass by skipping.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable holding the admin URL of the test server.
const EnvURL = "OUTBOXGEN_TEST_DATABASE_URL"

const defaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminURL returns the URL of the server's maintenance database.
func AdminURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return defaultURL
}

// NewDatabase creates an empty database and returns its URL. The database
// is dropped (with any connections still open to it) when t ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		unavailable(t, err)
	}
	defer admin.Close(context.Background())

	name := "outboxgen_test_" + randomSuffix()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() { drop(t, name) })

	u, err := url.Parse(AdminURL())
	if err != nil {
		t.Fatalf("pgtest: %s is not a URL: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

func drop(t testing.TB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
		return
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
	}
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	msg := fmt.Sprintf("PostgreSQL is not reachable at %s (%v); start it, or point %s at a server (trust or password auth, a role allowed to CREATE DATABASE)", AdminURL(), err, EnvURL)
	if os.Getenv("CI") == "true" {
		t.Fatal("pgtest: CI=true and " + msg)
	}
	t.Skip("pgtest: skipping: " + msg)
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
