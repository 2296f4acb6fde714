package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.json")
	c := &Catalog{Source: "metrics.yaml", Metrics: []Metric{{Name: "weight", Table: "metric_weight", Route: "/v1/weight",
		Events: []string{"weight.created", "weight.deleted"}, Backoff: Backoff{Base: Duration(30 * time.Second), Max: Duration(time.Hour)}}},
		Schemas: map[string]Schema{"sqlite": {DDL: "CREATE TABLE metric_weight (id TEXT)", Columns: []Column{{Table: "metric_weight", Name: "kg", Definition: "REAL"}}}}}
	if err := c.Write(path); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Routes()["weight.deleted"] != "/v1/weight" || got.Backoffs()["weight.created"].Max != time.Hour || got.Schemas["sqlite"].OutboxColumns()[0].Definition != "REAL" {
		t.Fatalf("read back %+v", got)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `"base": "30s"`) {
		t.Errorf("durations are not written as text:\n%s", b)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), `"format": 1`, `"format": 99`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), "format 99") {
		t.Errorf("a catalog of another format: %v", err)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "outboxgen catalog") {
		t.Errorf("a missing catalog does not say how to write one: %v", err)
	}
}
