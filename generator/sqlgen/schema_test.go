package sqlgen

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"

	"github.com/outboxgen/outboxgen/generator/model"
	"github.com/outboxgen/outboxgen/generator/spec"
	"github.com/outboxgen/outboxgen/internal/pgtest"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
)

// database is one dialect's store, as the generated Migrate uses it.
type database struct {
	dialect string
	apply   func(ctx context.Context, ddl string) error
	exec    func(t *testing.T, sql string)
	indexes func(t *testing.T) []string // every index of a metric table
}

func eachDatabase(t *testing.T, test func(t *testing.T, db database)) {
	t.Run("sqlite", func(t *testing.T) {
		store := outboxtest.NewSQLiteStore(t)
		test(t, database{
			dialect: "sqlite",
			apply:   func(ctx context.Context, ddl string) error { return store.ApplySchema(ctx, ddl, nil) },
			exec: func(t *testing.T, q string) {
				if err := store.InTx(t.Context(), func(tx *sql.Tx) error { _, err := tx.Exec(q); return err }); err != nil {
					t.Fatal(err)
				}
			},
			indexes: func(t *testing.T) []string {
				return names(t, store.DB(), "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE 'metric%' AND name NOT LIKE 'sqlite%'")
			},
		})
	})
	t.Run("postgres", func(t *testing.T) {
		store := outboxtest.NewPostgresStore(t, pgtest.NewDatabase(t))
		test(t, database{
			dialect: "postgres",
			apply:   func(ctx context.Context, ddl string) error { return store.ApplySchema(ctx, ddl, nil) },
			exec: func(t *testing.T, q string) {
				if _, err := store.Pool().Exec(t.Context(), q); err != nil {
					t.Fatal(err)
				}
			},
			indexes: func(t *testing.T) []string {
				rows, err := store.Pool().Query(t.Context(), "SELECT indexname FROM pg_indexes WHERE tablename LIKE 'metric%'")
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var out []string
				for rows.Next() {
					var n string
					if err := rows.Scan(&n); err != nil {
						t.Fatal(err)
					}
					out = append(out, n)
				}
				slices.Sort(out)
				return out
			},
		})
	})
}

func names(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func schemaOf(t *testing.T, yaml, dialect string) string {
	t.Helper()
	s, err := spec.Parse("metrics.yaml", []byte("version: 1\npackage: {name: metrics, path: out}\ndialects: [sqlite, postgres]\nmetrics:\n"+yaml))
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Build(s, "example.com/app/out")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Schema(m, dialect)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Metric mood_bucket's table once had the name of metric mood's dedupe
// index: SQLite refused the schema, and PostgreSQL skipped the table and
// failed on its index. Every table and index now has a name of its own,
// on both databases, and migrating twice changes nothing.
func TestSchemaOfLookalikeMetricsMigrates(t *testing.T) {
	spec := "  mood: {fields: {v: {type: int}}}\n  mood_bucket: {fields: {v: {type: int}}}\n" +
		"  mood_user_recorded: {fields: {v: {type: int}}}\n  mood_pkey: {fields: {v: {type: int}}}\n"
	eachDatabase(t, func(t *testing.T, db database) {
		ddl := schemaOf(t, spec, db.dialect)
		for range 2 {
			if err := db.apply(t.Context(), ddl); err != nil {
				t.Fatal(err)
			}
		}
		db.exec(t, "INSERT INTO metric_mood_bucket (id, user_id, recorded_at, bucket, version, sync_status, created_at, updated_at) "+
			"VALUES ('00000000-0000-0000-0000-000000000001', 'ada', "+now(db)+", 'b', 1, 'pending', "+now(db)+", "+now(db)+")")
	})
}

func now(db database) string {
	if db.dialect == "sqlite" {
		return "0"
	}
	return "now()"
}

// A database migrated when indexes were named <table>_bucket gets the new
// names, without keeping the old indexes beside them, even when a new
// metric's table takes an old index's name.
func TestSchemaRenamesIndexesOfOlderVersions(t *testing.T) {
	eachDatabase(t, func(t *testing.T, db database) {
		// What the templates made before.
		idType, pk := "TEXT", "PRIMARY KEY"
		if db.dialect == "postgres" {
			idType = "uuid"
		}
		db.exec(t, "CREATE TABLE metric_mood (id "+idType+" "+pk+", user_id TEXT NOT NULL, recorded_at INTEGER NOT NULL, bucket TEXT NOT NULL, "+
			"v INTEGER, version INTEGER NOT NULL, backend_id TEXT, sync_status TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, deleted_at INTEGER)")
		db.exec(t, "CREATE UNIQUE INDEX metric_mood_bucket ON metric_mood (user_id, bucket) WHERE deleted_at IS NULL")
		db.exec(t, "CREATE INDEX metric_mood_user_recorded ON metric_mood (user_id, recorded_at)")

		ddl := schemaOf(t, "  mood_bucket: {fields: {v: {type: int}}}\n  mood: {fields: {v: {type: int}}}\n", db.dialect)
		if err := db.apply(t.Context(), ddl); err != nil {
			t.Fatal(err)
		}
		if err := db.apply(t.Context(), ddl); err != nil {
			t.Fatalf("second migration: %v", err)
		}
		want := []string{"metric_mood__bucket", "metric_mood__user_recorded", "metric_mood_bucket__bucket", "metric_mood_bucket__user_recorded"}
		if db.dialect == "postgres" {
			want = []string{"metric_mood__bucket", "metric_mood__pkey", "metric_mood__user_recorded", "metric_mood_bucket__bucket", "metric_mood_bucket__pkey", "metric_mood_bucket__user_recorded"}
		}
		if got := db.indexes(t); !slices.Equal(got, want) {
			t.Errorf("indexes after migrating:\n got %s\nwant %s", strings.Join(got, ", "), strings.Join(want, ", "))
		}
	})
}

// Each schema records every metric's window, as generate reads it back.
func TestSchemaRecordsWindows(t *testing.T) {
	m := rootModel(t)
	for _, dialect := range []string{"sqlite", "postgres"} {
		b, err := Schema(m, dialect)
		if err != nil {
			t.Fatal(err)
		}
		got := Windows(b)
		for _, mt := range m.Metrics {
			if got[mt.Name] != mt.WindowText() {
				t.Errorf("%s schema records %q for %s, want %q", dialect, got[mt.Name], mt.Name, mt.WindowText())
			}
		}
		if len(got) != len(m.Metrics) {
			t.Errorf("%s schema records %d windows for %d metrics", dialect, len(got), len(m.Metrics))
		}
	}
}
