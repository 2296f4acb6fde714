package sqlgen

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/outboxgen/outboxgen/generator/model"
	"github.com/outboxgen/outboxgen/generator/spec"
)

// rootModel is the model of the repository's metrics.yaml.
func rootModel(t *testing.T) *model.Model {
	t.Helper()
	s, err := spec.Load("../../metrics.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Build(s, "github.com/outboxgen/outboxgen/examples/fitness/metrics")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Splitting the SQLite metrics into shards, each run through sqlc's engine
// on its own, gives exactly the files one run over all of them gives.
func TestShardsMergeIntoOneRunsOutput(t *testing.T) {
	t.Setenv("OUTBOXGEN_NO_CACHE", "1")
	m := rootModel(t)
	whole, err := Generate(m)
	if err != nil {
		t.Fatal(err)
	}
	defer func(n int) { sqliteShardSize = n }(sqliteShardSize)
	sqliteShardSize = 3 // 8 metrics: shards of 3, 3 and 2
	if n := len(shard(m)); n != 3 {
		t.Fatalf("%d shards, want 3", n)
	}
	sharded, err := Generate(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(sharded) != len(whole) {
		t.Fatalf("%d files from shards, %d from one run", len(sharded), len(whole))
	}
	for name, want := range whole {
		if got := sharded[name]; !bytes.Equal(got, want) {
			t.Errorf("%s differs when generated in shards:\n%s", name, firstLineDiff(got, want))
		}
	}
}

// firstLineDiff shows the first line where got and want differ.
func firstLineDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d:\n got: %q\nwant: %q", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("lengths differ: %d lines, want %d", len(g), len(w))
}
