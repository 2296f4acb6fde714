package sqlgen

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/outboxgen/outboxgen/generator/model"
)

// runUnits runs sqlc (run) over inputs, whose work directories cfg lists,
// remembering each directory's output in the user's cache directory on its
// own: sqlc's engines are slow to start and slower on a large schema, and a
// warm `outboxgen generate` or `check` should not pay for SQL that has not
// changed. Changing one metric of a large spec re-runs sqlc on that
// metric's SQLite shard (and on PostgreSQL, whose one directory holds every
// metric), not on every shard. A directory's key covers its input bytes,
// its part of the sqlc config and sqlc's version. OUTBOXGEN_NO_CACHE=1
// turns the cache off.
func runUnits(inputs map[string][]byte, cfg sqlcConfig, run func(map[string][]byte) (map[string][]byte, error)) (map[string][]byte, error) {
	out := map[string][]byte{}
	missing := sqlcConfig{Rename: map[string][]model.SQLCName{}}
	keys := map[string]string{} // work directory → its cache directory
	for _, u := range cfg.units() {
		dir := u.dirs()[0]
		in, err := unitInputs(inputs, u)
		if err != nil {
			return nil, err
		}
		keys[dir] = cacheDir(in)
		if got, ok := readCache(keys[dir]); ok {
			maps.Copy(out, got)
			continue
		}
		missing.SQLite = append(missing.SQLite, u.SQLite...)
		if u.Postgres != "" {
			missing.Postgres = u.Postgres
		}
		if u.Receiver != "" {
			missing.Receiver = u.Receiver
		}
		maps.Copy(missing.Rename, u.Rename)
	}
	if len(missing.dirs()) == 0 {
		return out, nil
	}
	runInputs, err := unitInputs(inputs, missing)
	if err != nil {
		return nil, err
	}
	got, err := run(runInputs)
	if err != nil {
		return nil, err
	}
	for _, dir := range missing.dirs() {
		unit := map[string][]byte{}
		for name, b := range got {
			if strings.HasPrefix(name, dir+"/") {
				unit[name] = b
			}
		}
		writeCache(keys[dir], unit)
		maps.Copy(out, unit)
	}
	return out, nil
}

// unitInputs returns the inputs of cfg's work directories and the sqlc
// config naming them.
func unitInputs(inputs map[string][]byte, cfg sqlcConfig) (map[string][]byte, error) {
	config, err := render("sqlc.yaml.tmpl", cfg)
	if err != nil {
		return nil, err
	}
	in := map[string][]byte{"sqlc.yaml": config}
	for _, dir := range cfg.dirs() {
		for name, b := range inputs {
			if strings.HasPrefix(name, dir+"/") {
				in[name] = b
			}
		}
	}
	return in, nil
}

// readCache returns the output cached in dir, if there is one.
func readCache(dir string) (map[string][]byte, bool) {
	if dir == "" {
		return nil, false
	}
	b, err := os.ReadFile(filepath.Join(dir, "output.json"))
	if err != nil {
		return nil, false
	}
	var out map[string][]byte
	if json.Unmarshal(b, &out) != nil || len(out) == 0 {
		return nil, false
	}
	return out, true
}

// writeCache keeps out in dir. A cache that cannot be written is only
// slower.
func writeCache(dir string, out map[string][]byte) {
	if dir == "" || len(out) == 0 {
		return
	}
	b, err := json.Marshal(out)
	if err != nil || os.MkdirAll(dir, 0o755) != nil {
		return
	}
	path := filepath.Join(dir, "output.json")
	if os.WriteFile(path+".tmp", b, 0o644) == nil {
		_ = os.Rename(path+".tmp", path)
	}
}

func cacheDir(inputs map[string][]byte) string {
	if os.Getenv("OUTBOXGEN_NO_CACHE") == "1" {
		return ""
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(sqlcVersion()))
	for _, name := range slices.Sorted(maps.Keys(inputs)) {
		h.Write([]byte{0})
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write(inputs[name])
	}
	return filepath.Join(base, "outboxgen", "sqlc", hex.EncodeToString(h.Sum(nil)))
}

// sqlcVersion is the version of sqlc linked into this binary.
func sqlcVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/sqlc-dev/sqlc" {
				return dep.Version
			}
		}
	}
	return "unknown"
}
