package spec

// The keys each mapping of the format allows, in the order docs/SPEC.md
// lists them. They are data rather than scattered string literals so that
// schema_test.go can hold metrics.schema.json to exactly these keys: adding a
// key here without adding it to the schema (or the other way round) fails a
// test that names the key.
var (
	topKeys      = []string{"version", "package", "dialects", "defaults", "metrics"}
	packageKeys  = []string{"name", "path", "import_path"}
	defaultsKeys = []string{"priority", "max_attempts", "backoff", "dedupe", "route_prefix"}
	backoffKeys  = []string{"base", "max"}
	dedupeKeys   = []string{"window", "time_zone"}
	metricKeys   = []string{"description", "unit", "fields", "dedupe", "priority", "max_attempts", "backoff", "events", "route"}
	fieldKeys    = []string{"type", "required", "description", "min", "max", "max_length", "values"}
	eventsKeys   = []string{"created", "updated", "deleted", "payload_version"}
)

// The values the format's enumerations allow, held to the schema's enums by
// the same test.
var (
	allFieldTypes = []FieldType{Int, Float, String, Bool, Time, Enum}
	allWindows    = []Window{WindowNone, WindowExact, WindowMinute, WindowHour, WindowDay}
	allDialects   = []Dialect{SQLite, Postgres}
)

// strs converts a list of string-based values for messages and lookups.
func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
