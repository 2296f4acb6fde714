package demo_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outboxgen/outboxgen/examples/fitness/demo"
	"github.com/outboxgen/outboxgen/internal/pgtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestScenario(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			dir := t.TempDir()
			o := demo.Options{
				SQLitePath: filepath.Join(dir, "fitness.db"),
				BackendDB:  filepath.Join(dir, "backend.db"),
				Pace:       time.Millisecond,
				Outage:     500 * time.Millisecond,
			}
			if store == "postgres" {
				o.DatabaseURL = pgtest.NewDatabase(t)
			}
			var out bytes.Buffer
			o.Out = &out
			report, err := demo.Run(t.Context(), o)
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if !report.OK() || report.Dead != 0 {
				t.Fatalf("problems %v, %d dead\n%s", report.Problems, report.Dead, out.String())
			}
			if len(report.Rows) != len(demo.Expected) {
				t.Fatalf("%d rows, want %d", len(report.Rows), len(demo.Expected))
			}
			for _, row := range report.Rows {
				want := demo.Expected[row.Metric]
				if row.Local != want || row.Synced != want || row.Backend != want {
					t.Errorf("%s: local %d, synced %d, backend %d; want %d each", row.Metric, row.Local, row.Synced, row.Backend, want)
				}
			}
			for _, want := range []string{"the backend goes down", "local entries", "no event went dead"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}
