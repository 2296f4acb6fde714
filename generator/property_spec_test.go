package generator_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/outboxgen/outboxgen/generator/model"
)

// The random specs of the property test are made of the words most likely
// to break the generated code: Go's keywords and predeclared names, the
// initialisms, the GOOS and GOARCH file suffixes, and the names the
// generator itself declares, beside ordinary words.
var (
	plainWords = []string{"weight", "steps", "value", "note", "level", "score", "kind", "mood", "sleep", "a", "b", "x", "v2"}
	goWords    = []string{
		"break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough", "for", "func",
		"go", "goto", "if", "import", "interface", "map", "package", "range", "return", "select", "struct",
		"switch", "type", "var", "any", "bool", "byte", "error", "float64", "int", "int64", "rune", "string",
		"true", "false", "iota", "nil", "append", "cap", "clear", "close", "copy", "delete", "len", "make",
		"max", "min", "new", "panic", "print", "recover", "init", "main",
	}
	// Initialisms beyond golint's that staticcheck knows.
	moreInitialisms = []string{"db", "ts", "sip", "rtp", "amqp"}
	goos            = []string{"aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows", "zos"}
	goarch          = []string{"386", "amd64", "arm", "arm64", "loong64", "mips", "mipsle", "mips64", "mips64le", "ppc64", "ppc64le", "riscv64", "s390x", "sparc64", "wasm", "test"}
	generatorWords  = []string{
		"now", "validate", "migrate", "schema", "columns", "payload", "version", "doc", "metrics", "sqlite",
		"postgres", "store", "config", "event", "bucket", "zone", "deref", "input", "repository", "save", "get",
		"list", "id", "user", "ids", "versions", "backend", "max", "rows", "recorded", "from", "to", "sync",
		"status", "entries", "queries", "dbtx", "with", "tx", "pkey", "metric", "outbox", "uuid", "time",
		"context", "errors", "fmt", "json", "math", "utf8", "strings", "pgx", "pgdb", "sqlitedb", "pgstore",
		"sqlitestore", "embed", "tzdata", "sql", "pending", "synced", "option", "filter", "err", "detail",
		"field", "valid", "created", "updated", "deleted", "not", "found", "routes", "backoffs", "types",
		"problem", "bucket", "changed", "remote", "excluded", "t", "d", "i", "r", "e", "m", "legacy", "old",
		"name", "tbl", "adapter", "from_sqlite", "user_recorded", "payload_version", "user_id", "max_user_id_bytes",
		"list_filter", "validation_error", "event_types", "new_sqlite", "register_postgres",
		// The receiver's and the wire package's words.
		"wire", "receiver", "inbox", "pginbox", "received", "change", "applier", "storage", "new", "open_api",
		"decode", "fields", "from_row", "on", "entry", "contract", "invalid", "batch", "batch_route", "check_time",
		"check_user_id", "validate_fields", "slices", "tx", "value", "received_weight", "weight_change",
	}
	packageNames = []string{"metrics", "string", "main", "outbox", "uuid", "time", "pgx", "sqlitedb", "pgdb", "init", "fmt", "errors", "context", "health", "p1", "wire", "receiver", "inbox"}
	zones        = []string{"UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Europe/Paris"}
	windows      = []string{"none", "exact", "minute", "hour", "day"}
	fieldTypes   = []string{"int", "float", "string", "bool", "time", "enum"}
	// Texts that only ever go into comments, and must stay there.
	texts = []string{"", "Body weight.", "Two\nlines.", "/* not closed", "// slashes", "ends with */", "$$ dollars $$",
		"'quoted' and \"double\"", "back`tick", "-- dashes", "tab\there", "line\u2028separator", "nul\x00byte", "bom\ufeff", "é%s%d"}
)

// wordPools are drawn from in turn, so that every run meets each kind.
var wordPools = [][]string{plainWords, goWords, model.Initialisms(), moreInitialisms, goos, goarch, generatorWords}

// specMetric and specField are a random spec before it is written out.
type specMetric struct {
	name              string
	description, unit string
	window, zone      string
	fields            []*specField
	line              int // where its name is, once written
}

type specField struct {
	name, typ   string
	required    bool
	min, max    string
	maxLength   int
	values      []string
	description string
	line        int
}

type randomSpec struct {
	pkg, pkgName string
	dialects     []string
	metrics      []*specMetric
	pkgLine      int
}

// word draws a word, from a random pool.
func word(rng *rand.Rand) string {
	pool := wordPools[rng.IntN(len(wordPools))]
	return pool[rng.IntN(len(pool))]
}

// name joins one to three words into a snake_case name that starts with a
// letter and is at most 40 characters long.
func name(rng *rand.Rand) string {
	for {
		parts := make([]string, 1+rng.IntN(3))
		for i := range parts {
			parts[i] = word(rng)
		}
		n := strings.Join(parts, "_")
		if n[0] >= 'a' && n[0] <= 'z' && len(n) <= 40 {
			return n
		}
	}
}

func newRandomSpec(rng *rand.Rand, pkg string) *randomSpec {
	s := &randomSpec{pkg: pkg, pkgName: packageNames[rng.IntN(len(packageNames))]}
	switch rng.IntN(4) {
	case 0:
		s.dialects = []string{"sqlite"}
	case 1:
		s.dialects = []string{"postgres"}
	default:
		s.dialects = []string{"sqlite", "postgres"}
	}
	seen := map[string]bool{}
	for range 2 + rng.IntN(4) {
		m := &specMetric{
			name:        name(rng),
			description: texts[rng.IntN(len(texts))],
			unit:        texts[rng.IntN(len(texts))],
			window:      windows[rng.IntN(len(windows))],
			zone:        zones[rng.IntN(len(zones))],
		}
		if seen[m.name] {
			continue // a repeated key is a YAML error, not a naming one
		}
		seen[m.name] = true
		fields := map[string]bool{}
		for range 1 + rng.IntN(5) {
			f := &specField{name: name(rng), typ: fieldTypes[rng.IntN(len(fieldTypes))], required: rng.IntN(2) == 0,
				description: texts[rng.IntN(len(texts))]}
			if fields[f.name] {
				continue
			}
			fields[f.name] = true
			switch f.typ {
			case "int", "float":
				if rng.IntN(2) == 0 {
					f.min, f.max = "-5", "5"
				}
			case "string":
				f.maxLength = 1 + rng.IntN(3)
			case "enum":
				values := map[string]bool{}
				for range 1 + rng.IntN(3) {
					values[name(rng)] = true
				}
				f.values = slices.Sorted(maps.Keys(values))
			}
			m.fields = append(m.fields, f)
		}
		s.metrics = append(s.metrics, m)
	}
	return s
}

// yaml writes the spec, one declaration per line, and notes the line of
// each, so that an error's position can be traced to what it refuses.
func (s *randomSpec) yaml() string {
	var b strings.Builder
	line := 1
	add := func(format string, args ...any) int {
		fmt.Fprintf(&b, format+"\n", args...)
		line++
		return line - 1
	}
	add("version: 1")
	add("package:")
	s.pkgLine = add("  name: %s", s.pkgName)
	add("  path: %s", s.pkg)
	add("dialects: [%s]", strings.Join(s.dialects, ", "))
	add("metrics:")
	for _, m := range s.metrics {
		m.line = add("  %s:", m.name)
		add("    description: %s", strconv.QuoteToASCII(m.description))
		add("    unit: %s", strconv.QuoteToASCII(truncate(m.unit, 50)))
		add("    dedupe: {window: %s, time_zone: %s}", m.window, m.zone)
		add("    fields:")
		for _, f := range m.fields {
			var opts []string
			opts = append(opts, "type: "+f.typ, fmt.Sprintf("required: %v", f.required), "description: "+strconv.QuoteToASCII(f.description))
			if f.min != "" {
				opts = append(opts, "min: "+f.min, "max: "+f.max)
			}
			if f.maxLength > 0 {
				opts = append(opts, fmt.Sprintf("max_length: %d", f.maxLength))
			}
			if len(f.values) > 0 {
				opts = append(opts, "values: ["+strings.Join(f.values, ", ")+"]")
			}
			f.line = add("      %s: {%s}", f.name, strings.Join(opts, ", "))
		}
	}
	return b.String()
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// lines are the lines of the last yaml() that declare a name.
func (s *randomSpec) lines() map[int]bool {
	lines := map[int]bool{s.pkgLine: true}
	for _, m := range s.metrics {
		lines[m.line] = true
		for _, f := range m.fields {
			lines[f.line] = true
		}
	}
	return lines
}

// drop removes what a refusal at line is about: the package name is
// replaced, a field or a metric removed (a metric without fields too).
func (s *randomSpec) drop(line int) {
	if line == s.pkgLine {
		s.pkgName = "metrics"
	}
	s.metrics = slices.DeleteFunc(s.metrics, func(m *specMetric) bool {
		m.fields = slices.DeleteFunc(m.fields, func(f *specField) bool { return f.line == line })
		return m.line == line || len(m.fields) == 0
	})
}
