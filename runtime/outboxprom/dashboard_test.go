package outboxprom_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outboxgen/outboxgen/runtime/outboxprom"
	"github.com/outboxgen/outboxgen/runtime/outboxtest"
)

// TestGrafanaDashboardUsesOnlyExportedMetrics keeps docs/grafana-dashboard.json
// true to the metrics: every metric a panel queries must be one this
// package exports, and every metric it exports must be on a panel.
func TestGrafanaDashboardUsesOnlyExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}

	exported := map[string]bool{}
	descs := make(chan *prometheus.Desc, 100)
	outboxprom.New(outboxtest.NewSQLiteStore(t)).Describe(descs)
	close(descs)
	name := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range descs {
		exported[name.FindStringSubmatch(d.String())[1]] = true
	}

	used := map[string]bool{}
	metric := regexp.MustCompile(`\boutbox_[a-z_]+`)
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range metric.FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
				if !exported[base] {
					t.Errorf("panel %q queries %s, which outboxprom does not export", p.Title, m)
				}
				used[base] = true
			}
		}
	}
	for m := range exported {
		if !used[m] {
			t.Errorf("outboxprom exports %s, which no panel shows", m)
		}
	}
}
