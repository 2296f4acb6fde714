package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/outboxgen/outboxgen/examples/fitness/metrics"
	"github.com/outboxgen/outboxgen/runtime/pgstore"
)

// mSaveRole is the generated save made by an application role that has
// exactly the grants of docs/postgres-roles.sql: its one way into the
// outbox is the outbox_enqueue function.
var mSaveRole = def{"save.role", groupSave, "PostgreSQL: generated SaveWeight as the least-privilege app role", "tx/s", true}

// saveAsAppRole: the generated SaveWeight on PostgreSQL, through a store
// opened as an application role with the documented grants.
func (b *bench) saveAsAppRole(ctx context.Context) (saveResult, error) {
	dbURL, done, err := b.srv.fresh(ctx, "save_role", "")
	if err != nil {
		return saveResult{}, err
	}
	defer done()
	owner, _, err := openMetricsPG(ctx, dbURL, 2)
	if err != nil {
		return saveResult{}, err
	}
	defer owner.Close()
	role := "bench_app"
	if err := grantAppRole(ctx, b.repo, owner, role); err != nil {
		return saveResult{}, err
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		return saveResult{}, err
	}
	u.User = url.User(role)
	store, err := pgstore.Open(ctx, u.String(), savePoolSize, pgstore.WithLogger(quiet))
	if err != nil {
		return saveResult{}, err
	}
	defer store.Close()
	m := metrics.NewPostgres(store)
	return runWriters(ctx, b.sizes.SaveWarm, b.sizes.SaveDur, saveWeights(m))
}

// grantAppRole creates role (again, if an earlier run left it) and gives
// it the application's grants from docs/postgres-roles.sql, for the weight
// metric.
func grantAppRole(ctx context.Context, repo string, owner *pgstore.Store, role string) error {
	sql, err := os.ReadFile(filepath.Join(repo, "docs", "postgres-roles.sql"))
	if err != nil {
		return err
	}
	stmts := []string{
		"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" + role + "') THEN CREATE ROLE " + role + " LOGIN; END IF; END $$",
	}
	for _, stmt := range strings.Split(withoutComments(string(sql)), ";") {
		if strings.Contains(stmt, "outboxgen_app") {
			stmts = append(stmts, strings.ReplaceAll(stmt, "outboxgen_app", role))
		}
	}
	for _, stmt := range stmts {
		if _, err := owner.Pool().Exec(ctx, stmt); err != nil {
			return fmt.Errorf("grant the app role: %s: %w", stmt, err)
		}
	}
	return nil
}

func withoutComments(stmt string) string {
	var lines []string
	for _, l := range strings.Split(stmt, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "--") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, " ")
}
