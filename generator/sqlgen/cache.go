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
)

// cached returns run(inputs), remembering results in the user's cache
// directory: sqlc's PostgreSQL parser takes a couple of seconds to start,
// and a warm `outboxgen generate` or `check` should not pay for it when the
// SQL has not changed. The key covers every input byte and sqlc's version.
// OUTBOXGEN_NO_CACHE=1 turns the cache off.
func cached(inputs map[string][]byte, run func(map[string][]byte) (map[string][]byte, error)) (map[string][]byte, error) {
	dir := cacheDir(inputs)
	if dir == "" {
		return run(inputs)
	}
	path := filepath.Join(dir, "output.json")
	if b, err := os.ReadFile(path); err == nil {
		var out map[string][]byte
		if json.Unmarshal(b, &out) == nil && len(out) > 0 {
			return out, nil
		}
	}
	out, err := run(inputs)
	if err != nil {
		return nil, err
	}
	// A cache that cannot be written is only slower.
	if b, err := json.Marshal(out); err == nil && os.MkdirAll(dir, 0o755) == nil {
		tmp := path + ".tmp"
		if os.WriteFile(tmp, b, 0o644) == nil {
			_ = os.Rename(tmp, path)
		}
	}
	return out, nil
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
