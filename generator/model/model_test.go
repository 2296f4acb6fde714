package model

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outboxgen/outboxgen/generator/spec"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.want from the model's errors (then review the diff by hand)")

// build loads a spec given as text and builds its model.
func build(t *testing.T, file, text string) (*Model, error) {
	t.Helper()
	s, err := spec.Parse(file, []byte(text))
	if err != nil {
		t.Fatalf("the loader refused the spec: %v", err)
	}
	return Build(s, "example.com/app/out")
}

// TestBad holds the model to the exact messages in testdata/bad: each spec
// there passes the loader, and its names clash in the generated code.
func TestBad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad specs: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, err = build(t, filepath.Base(file), string(data))
			var errs spec.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Build: %v, want spec errors", err)
			}
			var got strings.Builder
			for _, e := range errs {
				if e.Pos.Line == 0 {
					t.Errorf("no position: %v", e)
				}
				got.WriteString(e.Error() + "\n")
			}
			wantFile := strings.TrimSuffix(file, ".yaml") + ".want"
			if *update {
				if err := os.WriteFile(wantFile, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got.String() != string(want) {
				t.Errorf("errors differ from %s\ngot:\n%s\nwant:\n%s", wantFile, got.String(), want)
			}
		})
	}
}

const header = "version: 1\npackage: {name: metrics, path: out}\ndialects: [sqlite, postgres]\nmetrics:\n"

// Internal names that a spec's names would take step aside, instead of the
// spec being refused or the code not compiling: the adapters of metrics
// called schema and columns would be the constructor's postgresSchema and
// postgresColumns, and metric store's SQLite adapter would be metric
// sqlite's store interface.
func TestInternalNamesStepAside(t *testing.T) {
	m, err := build(t, "metrics.yaml", header+`
  sqlite: {fields: {v: {type: int}}}
  store: {fields: {v: {type: int}}}
  schema: {fields: {v: {type: int}}}
  columns: {fields: {v: {type: int}}}
`)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Metric{}
	for _, mt := range m.Metrics {
		byName[mt.Name] = mt
	}
	for _, c := range []struct{ got, want string }{
		{byName["sqlite"].Store, "sqliteStore"},
		{byName["store"].Adapters[spec.SQLite].Type, "sqliteStore2"},
		{byName["schema"].Adapters[spec.Postgres].Type, "postgresSchema2"},
		{byName["columns"].Adapters[spec.SQLite].Type, "sqliteColumns2"},
		{byName["columns"].Adapters[spec.Postgres].FromRow, "columnsFromPostgres"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}

// Fields named like the parameters the queries add of their own (now) or
// like the generator's words are fields like any other.
func TestFieldsNamedLikeInternals(t *testing.T) {
	_, err := build(t, "metrics.yaml", header+`
  weight:
    fields:
      now: {type: time}
      entries: {type: int}
      max_rows: {type: int}
      ids: {type: string}
      event: {type: string}
      store: {type: string}
      save: {type: bool}
`)
	if err != nil {
		t.Fatal(err)
	}
}

// File names: one per metric and dialect, never two alike, never a build
// constraint or a test file, never one of the shared files.
func TestFileNames(t *testing.T) {
	m, err := build(t, "metrics.yaml", header+`
  weight: {fields: {v: {type: int}}}
  weight_sqlite: {fields: {v: {type: int}}}
  sqlite: {fields: {v: {type: int}}}
  doc: {fields: {v: {type: int}}}
  postgres: {fields: {v: {type: int}}}
  steps_windows: {fields: {v: {type: int}}}
  linux_arm64: {fields: {v: {type: int}}}
  foo_test: {fields: {v: {type: int}}}
`)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{"doc.go": true, "metrics.go": true, "sqlite.go": true, "postgres.go": true}
	for _, mt := range m.Metrics {
		names := []string{mt.File}
		for _, a := range mt.Adapters {
			names = append(names, a.File)
		}
		for _, name := range names {
			if seen[name] {
				t.Errorf("two files called %s", name)
			}
			seen[name] = true
			base := strings.TrimSuffix(name, ".go")
			last := base[strings.LastIndex(base, "_")+1:]
			if last != "metric" && last != "sqlite" && last != "postgres" {
				t.Errorf("%s: ends in %q, which might be a build constraint", name, last)
			}
		}
	}
}

// No index can be called like another metric's table: mood's dedupe index
// and metric mood_bucket's table used to be both metric_mood_bucket.
func TestSQLNamesNeverMeet(t *testing.T) {
	m, err := build(t, "metrics.yaml", header+`
  mood: {fields: {v: {type: int}}}
  mood_bucket: {fields: {v: {type: int}}}
  mood_user_recorded: {fields: {v: {type: int}}}
  mood_pkey: {fields: {v: {type: int}}}
`)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, mt := range m.Metrics {
		for _, name := range []string{mt.Table, mt.Indexes.Bucket, mt.Indexes.Recorded, mt.Indexes.PrimaryKey} {
			if prev, dup := seen[name]; dup {
				t.Errorf("%s is a name of %s and of %s", name, prev, mt.Name)
			}
			seen[name] = mt.Name
			if len(name) > maxSQLName {
				t.Errorf("%s is longer than PostgreSQL keeps", name)
			}
		}
	}
}

// The longest names the loader accepts still fit PostgreSQL's identifiers.
func TestLongestNamesFit(t *testing.T) {
	long := strings.Repeat("a", 40)
	if _, err := build(t, "metrics.yaml", header+"  "+long+": {fields: {"+long+": {type: enum, values: ["+long+"]}}}\n"); err != nil {
		t.Fatal(err)
	}
}

func TestGoName(t *testing.T) {
	for in, want := range map[string]string{
		"weight": "Weight", "heart_rate": "HeartRate", "x_1": "X1", "x1": "X1", "body_fat_2": "BodyFat2",
		"image_url": "ImageURL", "device_uuid": "DeviceUUID", "raw_json": "RawJSON", "ip": "IP",
		"very__good": "VeryGood", "xsrf_token": "XSRFToken",
	} {
		if got := GoName(in); got != want {
			t.Errorf("GoName(%q) = %q, want %q", in, got, want)
		}
	}
}

// Text shown in generated comments stays on one line, without anything
// that Go or SQL would read as more than a comment.
func TestCommentText(t *testing.T) {
	for in, want := range map[string]string{
		"Body weight.":         "Body weight.",
		"two\nlines\r\n":       "two lines",
		"a\u2028b\u0085c\x00d": "a b c d",
		"bom\ufeffinside":      "bom inside",
	} {
		if got := commentText(in); got != want {
			t.Errorf("commentText(%q) = %q, want %q", in, got, want)
		}
	}
}

// The receiver's names leave the spec's alone: metrics named like the
// receiver's declarations are accepted, and the batch route steps aside
// for a metric posted where it would be.
func TestReceiverNamesStepAside(t *testing.T) {
	m, err := build(t, "metrics.yaml", header+`
  new: {fields: {v: {type: int}}}
  storage: {fields: {v: {type: int}}}
  applier: {fields: {v: {type: int}}}
  open_api: {fields: {v: {type: int}}}
  batch: {fields: {v: {type: int}}}
`)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Metric{}
	for _, mt := range m.Metrics {
		byName[mt.Name] = mt
	}
	if m.BatchRoute != "/v1/batch2" || byName["batch"].Route != "/v1/batch" {
		t.Errorf("batch route %s beside metric batch at %s; want /v1/batch2", m.BatchRoute, byName["batch"].Route)
	}
}

// A field named like a method of every payload is refused at its line.
func TestFieldNamedLikeAPayloadMethod(t *testing.T) {
	_, err := build(t, "metrics.yaml", header+`
  weight:
    fields:
      validate_fields: {type: int}
`)
	var errs spec.Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Pos.Line != 8 || !strings.Contains(errs[0].Msg, "ValidateFields") {
		t.Fatalf("got %v, want one error at line 8 naming ValidateFields", err)
	}
}

// Operations of the OpenAPI document never share an id: metrics a and b
// on one route beside a metric a_and_b.
func TestOperationIDsAreUnique(t *testing.T) {
	m, err := build(t, "metrics.yaml", header+`
  a: {fields: {v: {type: int}}, route: /shared}
  b: {fields: {v: {type: int}}, route: /shared}
  a_and_b: {fields: {v: {type: int}}}
`)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{"batch": true}
	for _, r := range m.Routes {
		if seen[r.OperationID] {
			t.Errorf("operation id %s twice", r.OperationID)
		}
		seen[r.OperationID] = true
	}
}
