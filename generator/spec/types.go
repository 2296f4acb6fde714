package spec

import "time"

// Spec is a loaded and validated metrics.yaml. Defaults are already applied:
// every Metric carries its effective settings, so nothing downstream needs to
// know which values were written and which were defaulted.
type Spec struct {
	// File is the path the spec was loaded from, as given to Load.
	File string
	// Version is the spec format version; only 1 exists.
	Version int
	Package Package
	// Dialects lists the stores the generated code supports, sorted.
	Dialects []Dialect
	// Metrics in the order the file declares them.
	Metrics []Metric
	// BatchRoute is where a batch of events is posted: the route prefix
	// (defaults.route_prefix) and "/batch", e.g. "/v1/batch".
	BatchRoute string
}

// Package says where and as what the generated code is written.
type Package struct {
	// Name is the Go package name, e.g. "metrics".
	Name string
	// Path is the output directory, relative to the spec file's directory,
	// cleaned and slash-separated, e.g. "examples/fitness/metrics".
	Path string
	// ImportPath is the Go import path of the output directory. Empty means
	// the generator derives it from the enclosing go.mod.
	ImportPath string
	Pos        Pos
}

// Dialect is a database the generated code can store metrics in.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Metric is one kind of measurement, e.g. weight.
type Metric struct {
	// Name is the metric's identifier in snake_case, e.g. "heart_rate".
	Name        string
	Description string
	// Unit is free text shown in docs, e.g. "kg" or "bpm".
	Unit string
	// Fields in the order the file declares them.
	Fields []Field
	Dedupe Dedupe
	// Priority of the metric's events, 1 to 10.
	Priority int
	// MaxAttempts before an event goes dead, at least 1.
	MaxAttempts int
	Backoff     Backoff
	Events      Events
	// Route is the HTTP path events are delivered to, e.g. "/v1/weight".
	Route string
	Pos   Pos
}

// Field is one value a metric entry records.
type Field struct {
	// Name is the field's identifier in snake_case, e.g. "kg".
	Name        string
	Description string
	Type        FieldType
	// Required fields must be given; optional ones may be absent (nil).
	Required bool
	// Min and Max bound int and float fields when set.
	Min, Max *float64
	// MaxLength bounds a string field in characters (runes); always set
	// for strings (default 255).
	MaxLength int
	// Values lists an enum field's allowed values, in declared order.
	Values []string
	Pos    Pos
}

// FieldType is the type of a field's value.
type FieldType string

// The field types.
const (
	Int    FieldType = "int"    // int64
	Float  FieldType = "float"  // float64
	String FieldType = "string" // UTF-8 text, bounded by MaxLength
	Bool   FieldType = "bool"
	Time   FieldType = "time" // an instant
	Enum   FieldType = "enum" // one of Values
)

// Dedupe says when saving an entry updates an earlier one in place instead of
// adding a new one: same user, same metric, and recorded times that fall in
// the same window.
type Dedupe struct {
	Window Window
	// TimeZone is the IANA name the window boundaries are computed in,
	// e.g. "UTC" or "Europe/Paris". Matters for day (and hour in zones with
	// odd offsets).
	TimeZone string
}

// Window is a dedupe window.
type Window string

// The dedupe windows.
const (
	WindowNone   Window = "none"   // every save adds an entry
	WindowExact  Window = "exact"  // same recorded instant
	WindowMinute Window = "minute" // same minute
	WindowHour   Window = "hour"   // same hour
	WindowDay    Window = "day"    // same calendar day in TimeZone
)

// Backoff overrides the processor's retry backoff for the metric's events.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

// Events names the metric's event types.
type Events struct {
	Created string // e.g. "weight.created"
	Updated string // e.g. "weight.updated"
	Deleted string // e.g. "weight.deleted"
	// PayloadVersion is sent with every payload, at least 1.
	PayloadVersion int
}

// Pos is a position in the spec file, 1-based.
type Pos struct {
	Line, Col int
}
