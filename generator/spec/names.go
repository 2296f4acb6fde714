package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// Metric and field names become Go identifiers, SQL table and column names,
// JSON keys and URL segments, so they are held to what is safe in all four:
// snake_case ASCII and unreserved everywhere. Whether the names derived from
// them clash with each other or with the generated code's own is for the
// generator's model to judge (generator/model), which makes them.

// maxNameLen bounds metric and field names. PostgreSQL truncates identifiers
// past 63 bytes, and generated names add prefixes and suffixes to these.
const maxNameLen = 40

// namePattern is the shape of a metric or field name. The schema uses the
// same pattern (schema_test.go checks); the Go code checks its parts one by
// one so that each failure gets its own message.
const namePattern = `^[a-z][a-z0-9]*(_[a-z0-9]+)*$`

var nameRE = regexp.MustCompile(namePattern)

// enumValueRE is the shape of an enum value. Values are data rather than
// SQL or Go names, so they are looser than namePattern.
var enumValueRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// generatedColumns are the columns every metric table gets; a field named
// like one would collide with it.
var generatedColumns = []string{
	"id", "user_id", "recorded_at", "bucket", "created_at", "updated_at",
	"deleted_at", "version", "backend_id", "sync_status",
}

// goKeywords cannot name anything in Go code.
var goKeywords = set(
	"break", "case", "chan", "const", "continue", "default", "defer", "else",
	"fallthrough", "for", "func", "go", "goto", "if", "import", "interface",
	"map", "package", "range", "return", "select", "struct", "switch", "type",
	"var",
)

// sqlReserved holds the words that cannot safely name a table or column
// without quoting: PostgreSQL's reserved keywords (both kinds, "reserved"
// and "reserved, can be function or type") and every keyword SQLite knows
// (sqlite.org/lang_keywords.html), plus SQLite's implicit rowid columns.
// Generated SQL does not quote identifiers, and a name that works in one
// dialect must work in the other, since a spec can target both.
var sqlReserved = set(
	// PostgreSQL, reserved.
	"all", "analyse", "analyze", "and", "any", "array", "as", "asc",
	"asymmetric", "both", "case", "cast", "check", "collate", "column",
	"constraint", "create", "current_catalog", "current_date",
	"current_role", "current_time", "current_timestamp", "current_user",
	"default", "deferrable", "desc", "distinct", "do", "else", "end",
	"except", "false", "fetch", "for", "foreign", "from", "grant", "group",
	"having", "in", "initially", "intersect", "into", "lateral", "leading",
	"limit", "localtime", "localtimestamp", "not", "null", "offset", "on",
	"only", "or", "order", "placing", "primary", "references", "returning",
	"select", "session_user", "some", "symmetric", "system_user", "table",
	"then", "to", "trailing", "true", "union", "unique", "user", "using",
	"variadic", "when", "where", "window", "with",
	// PostgreSQL, reserved (can be function or type).
	"authorization", "binary", "collation", "concurrently", "cross",
	"current_schema", "freeze", "full", "ilike", "inner", "is", "isnull",
	"join", "left", "like", "natural", "notnull", "outer", "overlaps",
	"right", "similar", "tablesample", "verbose",
	// SQLite, all keywords.
	"abort", "action", "add", "after", "alter", "always", "attach",
	"autoincrement", "before", "begin", "between", "by", "cascade", "commit",
	"conflict", "current", "database", "deferred", "delete", "detach",
	"drop", "each", "escape", "exclude", "exclusive", "exists", "explain",
	"fail", "filter", "first", "following", "generated", "glob", "groups",
	"if", "ignore", "immediate", "index", "indexed", "insert", "instead",
	"key", "last", "match", "materialized", "no", "nothing", "nulls", "of",
	"others", "over", "partition", "plan", "pragma", "preceding", "query",
	"raise", "range", "recursive", "regexp", "reindex", "release", "rename",
	"replace", "restrict", "rollback", "row", "rows", "savepoint", "set",
	"temp", "temporary", "ties", "transaction", "trigger", "unbounded",
	"update", "vacuum", "values", "view", "virtual", "without",
	// SQLite's implicit columns, which a column of the same name hides.
	"rowid", "oid",
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// checkName reports why key's value cannot name a metric or field (noun),
// if it cannot. where places it: ` in metric "weight"`.
func (w *walker) checkName(key *yaml.Node, noun, where string) {
	name := key.Value
	subject := fmt.Sprintf("%s name %s%s", noun, show(name), where)
	switch {
	case !nameRE.MatchString(name):
		w.errorf(key, "%s %s", subject, nameShapeProblem(name))
	case len(name) > maxNameLen:
		w.errorf(key, "%s is %d characters long; the limit is %d", subject, len(name), maxNameLen)
	case goKeywords[name]:
		w.errorf(key, "%s is a reserved word in Go, the language of the generated code; choose another name, e.g. %q", subject, name+"_"+noun)
	case sqlReserved[name]:
		w.errorf(key, "%s is a reserved word in SQL (PostgreSQL or SQLite); choose another name, e.g. %q", subject, name+"_"+noun)
	case noun == "field" && slices.Contains(generatedColumns, name):
		w.errorf(key, "%s is taken by a column outboxgen adds to every metric (%s); choose another name",
			subject, strings.Join(generatedColumns, ", "))
	}
}

// nameShapeProblem says what is wrong with a name that does not match
// namePattern, and suggests a fixed name where one is obvious.
func nameShapeProblem(name string) string {
	var problem string
	switch {
	case name[0] < 'a' || name[0] > 'z':
		problem = "must start with a lowercase letter (a to z)"
	case strings.Contains(name, "__"):
		problem = `must not contain "__"`
	case strings.HasSuffix(name, "_"):
		problem = `must not end with "_"`
	default:
		problem = `may only use lowercase letters, digits and "_"`
	}
	if fixed := snakeCase(name); fixed != name && nameRE.MatchString(fixed) && len(fixed) <= maxNameLen {
		return fmt.Sprintf("%s; try %q", problem, fixed)
	}
	return problem + `, e.g. "heart_rate"`
}

// snakeCase guesses the snake_case name meant by names like "HeartRate",
// "heart-rate" or "heart rate".
func snakeCase(name string) string {
	var b strings.Builder
	prevLower := false
	for _, r := range name {
		switch {
		case unicode.IsUpper(r):
			if prevLower {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			prevLower = false
			continue
		case r == '-' || r == ' ' || r == '.' || r == '_':
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
		prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
	}
	s := b.String()
	for strings.Contains(s, "__") {
		s = strings.ReplaceAll(s, "__", "_")
	}
	return strings.Trim(s, "_")
}
