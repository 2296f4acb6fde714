package sqlgen

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"
)

// fakeSQLC stands in for sqlc: for each work directory among its inputs it
// writes one file holding that directory's queries, and it records which
// directories each run was given.
type fakeSQLC struct{ runs [][]string }

func (f *fakeSQLC) run(inputs map[string][]byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	var dirs []string
	for _, name := range slices.Sorted(maps.Keys(inputs)) {
		if dir, ok := strings.CutSuffix(name, "/queries.sql"); ok {
			dirs = append(dirs, dir)
			out[dir+"/out/queries.sql.go"] = append([]byte("// from "), inputs[name]...)
		}
	}
	f.runs = append(f.runs, dirs)
	return out, nil
}

func unitTestInputs(shard1 string) (map[string][]byte, sqlcConfig) {
	inputs := map[string][]byte{}
	for dir, q := range map[string]string{"sqlite0": "a", "sqlite1": shard1, "sqlite2": "c", "postgres": "p"} {
		inputs[dir+"/schema.sql"] = []byte("schema " + dir)
		inputs[dir+"/queries.sql"] = []byte(q)
	}
	return inputs, sqlcConfig{SQLite: []string{"sqlite0", "sqlite1", "sqlite2"}, Postgres: "postgres"}
}

// Each work directory is cached on its own: a warm run runs nothing, and a
// change to one shard's SQL re-runs that shard only, while the others come
// from the cache.
func TestCacheRerunsOnlyChangedShards(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("OUTBOXGEN_NO_CACHE", "")
	var sqlc fakeSQLC
	check := func(shard1 string, wantRun []string) {
		t.Helper()
		inputs, cfg := unitTestInputs(shard1)
		before := len(sqlc.runs)
		out, err := runUnits(inputs, cfg, sqlc.run)
		if err != nil {
			t.Fatal(err)
		}
		var ran []string
		if len(sqlc.runs) > before {
			ran = sqlc.runs[before]
		}
		if !slices.Equal(ran, wantRun) {
			t.Errorf("sqlc ran on %v, want %v", ran, wantRun)
		}
		for _, dir := range cfg.dirs() {
			want := append([]byte("// from "), inputs[dir+"/queries.sql"]...)
			if got := out[dir+"/out/queries.sql.go"]; !bytes.Equal(got, want) {
				t.Errorf("%s: output %q, want %q", dir, got, want)
			}
		}
	}
	check("b", []string{"postgres", "sqlite0", "sqlite1", "sqlite2"}) // cold
	check("b", nil)                                                   // warm
	check("b2", []string{"sqlite1"})                                  // one shard changed
	check("b", nil)                                                   // back: both versions are kept
}

// With the cache off, every run runs everything.
func TestCacheOff(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("OUTBOXGEN_NO_CACHE", "1")
	var sqlc fakeSQLC
	for range 2 {
		inputs, cfg := unitTestInputs("b")
		if _, err := runUnits(inputs, cfg, sqlc.run); err != nil {
			t.Fatal(err)
		}
	}
	if len(sqlc.runs) != 2 || len(sqlc.runs[1]) != 4 {
		t.Fatalf("runs %v, want two runs of every directory", sqlc.runs)
	}
}

// Output assembled from the cache, shard by shard, is the output of a run
// without it.
func TestCachedGenerateMatchesUncached(t *testing.T) {
	m := rootModel(t)
	defer func(n int) { sqliteShardSize = n }(sqliteShardSize)
	sqliteShardSize = 3
	t.Setenv("OUTBOXGEN_NO_CACHE", "1")
	want, err := Generate(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("OUTBOXGEN_NO_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	for _, run := range []string{"cold", "warm"} {
		got, err := Generate(m)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d files, want %d", run, len(got), len(want))
		}
		for name, w := range want {
			if !bytes.Equal(got[name], w) {
				t.Errorf("%s: %s differs:\n%s", run, name, firstLineDiff(got[name], w))
			}
		}
	}
}
