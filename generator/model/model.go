// Package model is the typed description of what the generator emits,
// built once from a validated spec. Every name the emitters and templates
// use (Go identifiers, file names, SQL tables and indexes, sqlc's names) is
// derived here and claimed in the registry (Names), so two emitters can
// never disagree about one, and conflicts between names are reported
// against the spec before anything is written.
package model

import (
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/outboxgen/outboxgen/generator/spec"
)

// MaxUserIDBytes bounds user ids. They are indexed with the dedupe bucket,
// and PostgreSQL refuses an index entry of more than about 2.7 kB; 255
// bytes holds an e-mail address, a UUID or an OpenID subject with room to
// spare.
const MaxUserIDBytes = 255

// Model is what the generator emits for one spec.
type Model struct {
	Package  Package
	SQLite   bool // the spec asks for SQLite support
	Postgres bool // the spec asks for PostgreSQL support
	Metrics  []*Metric
	// TimeZones lists the zones other than UTC that dedupe windows use,
	// sorted; generated code embeds the zone database when it is not empty.
	TimeZones []string
	// Names is every name the generated code declares, by scope.
	Names *Names

	// Wire is the package both ends of the outbox share: payloads, event
	// types, routes and validation. Receiver is the receiving end.
	Wire, Receiver SubPackage
	// Routes are the metrics' routes, each with the metrics posted to it,
	// in the order the spec first names them.
	Routes []*Route
	// BatchRoute is where the receiver takes batches of events.
	BatchRoute string
}

// Package is the generated package.
type Package struct {
	Name       string // Go package name
	ImportPath string // Go import path
	Dir        string // output directory, relative to the spec file, slash-separated
}

// SubPackage is a package generated in a folder of the generated package.
type SubPackage struct {
	Name       string // Go package name, also its folder: "wire"
	ImportPath string
}

// Route is one HTTP path and the metrics whose events are posted to it
// (several when the spec gives them one route).
type Route struct {
	Path    string
	Metrics []*Metric
	// OperationID names its operation in the OpenAPI document:
	// "receive_weight", "receive_glucose_and_ketones".
	OperationID string
}

// Metric is one metric and everything derived from its name.
type Metric struct {
	Name        string // spec name, e.g. "heart_rate"; also the aggregate name of its events
	GoName      string // "HeartRate": the entity type
	Description string
	Unit        string
	Fields      []*Field
	Window      spec.Window
	TimeZone    string
	Priority    int
	MaxAttempts int
	Backoff     spec.Backoff
	Events      Events
	Route       string

	// Exported names of the generated package.
	Input      string // "HeartRateInput"
	Payload    string // "HeartRatePayload"
	Repository string // "HeartRateRepository"
	UseCase    string // "SaveHeartRate", a method of Metrics
	// Unexported names, free to change.
	Store    string // "heartRateStore": the interface each dialect implements
	Zone     string // "heartRateZone": the dedupe window's zone; "" for none and exact
	File     string // "heart_rate_metric.go"
	Adapters map[spec.Dialect]*Adapter

	// Names in the sqlc packages.
	Row     string // "MetricHeartRate": the table's row
	Queries Queries

	// The database objects.
	Table   string // "metric_heart_rate"
	Indexes Indexes

	// WireFile is the metric's file in the wire package:
	// "heart_rate_payload.go".
	WireFile string
	// Recv names the metric's code in the receiver package.
	Recv Receiver
}

// Adapter names the code of one metric on one dialect.
type Adapter struct {
	Type    string // "sqliteHeartRate"
	FromRow string // "heartRateFromSQLite"
	File    string // "heart_rate_sqlite.go"
}

// Queries are the names of a metric's sqlc queries, which are also their
// methods on the sqlc package's Queries.
type Queries struct {
	Save, Get, List, Delete string
	MarkSynced              string // SQLite: one delivery
	MarkSyncedBatch         string // PostgreSQL: a batch of deliveries
	CountBySyncStatus       string
}

// Params is the name sqlc gives the parameters of a query.
func Params(query string) string { return query + "Params" }

// RowOf is the name sqlc gives the row of a query returning columns that
// are not a table's.
func RowOf(query string) string { return query + "Row" }

// Indexes names a metric table's indexes. Each is the table's name, "__"
// and a word: names never contain "__", so no index can take the name of
// another metric's table.
type Indexes struct {
	Bucket     string // unique (user_id, bucket) among entries not deleted
	Recorded   string // (user_id, recorded_at)
	PrimaryKey string // PostgreSQL's primary key constraint and index
	// Legacy are the names outboxgen gave these indexes before it used
	// "__"; migrations rename (PostgreSQL) or drop (SQLite) them.
	Legacy []Rename
}

// Rename is an old name and the new name it becomes.
type Rename struct {
	From, To   string
	PrimaryKey bool // PostgreSQL's primary key: SQLite names none
}

// Events are a metric's event types and the constants naming them.
type Events struct {
	Created, Updated, Deleted                string // "weight.created" …
	CreatedConst, UpdatedConst, DeletedConst string // "EventWeightCreated" …
	PayloadVersion                           int
}

// zoned reports whether the metric's windows depend on its time zone.
// Minutes do not: since 1972 every zone has been a whole number of minutes
// from UTC, so its minutes are UTC's.
func (mt *Metric) zoned() bool { return mt.Window == spec.WindowHour || mt.Window == spec.WindowDay }

// WindowText says in a few words how entries are deduplicated: "none",
// "exact", "minute", "hour in Europe/Paris", "day in UTC". The schema
// records it, so that generate can tell when a window changes.
func (mt *Metric) WindowText() string {
	if mt.zoned() {
		return string(mt.Window) + " in " + mt.TimeZone
	}
	return string(mt.Window)
}

// commentText makes text safe to put in a Go or SQL line comment: one line,
// without control characters or the byte order mark Go refuses mid-file.
// Descriptions and units are only ever shown in comments.
func commentText(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\uFEFF' || r == utf8.RuneError {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, " "))
	return strings.Join(strings.Fields(s), " ")
}

// Field is one value of a metric's entries.
type Field struct {
	Name        string // spec name, e.g. "device_id"; also the column and JSON name
	GoName      string // "DeviceID"
	Type        spec.FieldType
	Required    bool
	Min, Max    *float64
	MaxLength   int
	Description string
	// EnumType names the Go type of an enum field, e.g. "MoodLabel".
	EnumType string
	Values   []EnumValue
	// SQLiteType and PostgresType are the column types. Field columns are
	// always nullable, so a field added to a metric later can be added to
	// an existing table; requiredness is enforced by the generated Go.
	SQLiteType, PostgresType string
}

// EnumValue is one allowed value of an enum field.
type EnumValue struct {
	Value  string // "great"
	GoName string // "MoodLabelGreat"
}

// Build derives the model from s. importPath is the generated package's
// import path. Name conflicts are reported as spec errors at the
// position of the declaration that loses.
func Build(s *spec.Spec, importPath string) (*Model, error) {
	m := &Model{
		Package:  Package{Name: s.Package.Name, ImportPath: importPath, Dir: s.Package.Path},
		SQLite:   slices.Contains(s.Dialects, spec.SQLite),
		Postgres: slices.Contains(s.Dialects, spec.Postgres),
		Names:    newNames(s.File),
	}
	m.Wire = SubPackage{Name: wirePackage, ImportPath: importPath + "/" + wirePackage}
	m.Receiver = SubPackage{Name: receiverPackage, ImportPath: importPath + "/" + receiverPackage}
	m.Names.fixAll(m)
	for _, sm := range s.Metrics {
		m.Metrics = append(m.Metrics, buildMetric(sm, m.Dialects()))
	}
	m.routes(s.BatchRoute)
	// Names from the spec first, in the order it declares them, then the
	// internal names, which step aside for them.
	for i, mt := range m.Metrics {
		m.claim(mt, s.Metrics[i])
	}
	zones := map[string]bool{}
	for _, mt := range m.Metrics {
		m.internal(mt)
		if mt.zoned() && mt.TimeZone != "UTC" {
			zones[mt.TimeZone] = true
		}
	}
	m.TimeZones = slices.Sorted(maps.Keys(zones))
	if len(m.Names.errs) > 0 {
		return nil, m.Names.errs.Sorted()
	}
	return m, nil
}

// Dialects lists the dialects the spec names, SQLite first.
func (m *Model) Dialects() []spec.Dialect {
	var ds []spec.Dialect
	if m.SQLite {
		ds = append(ds, spec.SQLite)
	}
	if m.Postgres {
		ds = append(ds, spec.Postgres)
	}
	return ds
}

// DBPackage is the name of a dialect's sqlc package, under internal/:
// "sqlitedb" or "pgdb".
func DBPackage(d spec.Dialect) string { return dbPackage(d) }

// buildMetric derives a metric's names from its spec, for the dialects ds.
// Internal names are set later, once every name of the spec has been
// claimed.
func buildMetric(sm spec.Metric, ds []spec.Dialect) *Metric {
	goName := GoName(sm.Name)
	table := "metric_" + sm.Name
	mt := &Metric{
		Name:        sm.Name,
		GoName:      goName,
		Description: commentText(sm.Description),
		Unit:        commentText(sm.Unit),
		Window:      sm.Dedupe.Window,
		TimeZone:    sm.Dedupe.TimeZone,
		Priority:    sm.Priority,
		MaxAttempts: sm.MaxAttempts,
		Backoff:     sm.Backoff,
		Route:       sm.Route,
		Events: Events{
			Created: sm.Events.Created, Updated: sm.Events.Updated, Deleted: sm.Events.Deleted,
			CreatedConst:   "Event" + goName + "Created",
			UpdatedConst:   "Event" + goName + "Updated",
			DeletedConst:   "Event" + goName + "Deleted",
			PayloadVersion: sm.Events.PayloadVersion,
		},
		Input:      goName + "Input",
		Payload:    goName + "Payload",
		Repository: goName + "Repository",
		UseCase:    "Save" + goName,
		// The file names end in a word that is neither a GOOS, a GOARCH
		// nor "test", so that no metric name ("steps_windows", "foo_test")
		// can make one a build constraint, and the words differ, so that
		// no two metrics' files can have one name.
		File:     sm.Name + "_metric.go",
		Adapters: map[spec.Dialect]*Adapter{},
		Row:      GoName(table),
		Queries: Queries{
			Save: "Save" + goName, Get: "Get" + goName, List: "List" + goName, Delete: "Delete" + goName,
			MarkSynced: "Mark" + goName + "Synced", MarkSyncedBatch: "Mark" + goName + "SyncedBatch",
			CountBySyncStatus: "Count" + goName + "BySyncStatus",
		},
		Table: table,
		Indexes: Indexes{
			Bucket:     table + "__bucket",
			Recorded:   table + "__user_recorded",
			PrimaryKey: table + "__pkey",
			Legacy: []Rename{
				{From: table + "_bucket", To: table + "__bucket"},
				{From: table + "_user_recorded", To: table + "__user_recorded"},
				{From: table + "_pkey", To: table + "__pkey", PrimaryKey: true},
			},
		},
	}
	for _, d := range ds {
		mt.Adapters[d] = &Adapter{File: sm.Name + "_" + string(d) + ".go"}
	}
	mt.WireFile = sm.Name + "_payload.go"
	mt.Recv = buildReceiver(sm.Name, goName)
	for _, sf := range sm.Fields {
		f := &Field{
			Name:        sf.Name,
			GoName:      GoName(sf.Name),
			Type:        sf.Type,
			Required:    sf.Required,
			Min:         sf.Min,
			Max:         sf.Max,
			MaxLength:   sf.MaxLength,
			Description: commentText(sf.Description),
		}
		f.SQLiteType, f.PostgresType = sqlTypes(sf.Type)
		if sf.Type == spec.Enum {
			f.EnumType = goName + f.GoName
			for _, v := range sf.Values {
				f.Values = append(f.Values, EnumValue{Value: v, GoName: f.EnumType + GoName(v)})
			}
		}
		mt.Fields = append(mt.Fields, f)
	}
	return mt
}

// sqlTypes maps a field type to its column types. SQLite keeps times as
// Unix microseconds, like the outbox does.
func sqlTypes(t spec.FieldType) (sqlite, postgres string) {
	switch t {
	case spec.Int:
		return "INTEGER", "bigint"
	case spec.Float:
		return "REAL", "double precision"
	case spec.Bool:
		return "BOOLEAN", "boolean"
	case spec.Time:
		return "INTEGER", "timestamptz"
	default: // string, enum
		return "TEXT", "text"
	}
}

// SQLCName is a name sqlc sees in the SQL (a table, column, parameter or
// result column) and the Go name it must give it.
type SQLCName struct{ SQL, Go string }

// ReceiverSQLCNames lists the names sqlc makes Go names of for the
// receiver's default storage, sorted, like SQLCNames.
func (m *Model) ReceiverSQLCNames() []SQLCName {
	seen := map[string]bool{"max_rows": true}
	for _, n := range receivedColumns {
		seen[n] = true
	}
	for _, mt := range m.Metrics {
		seen[mt.Recv.Table] = true
		for _, f := range mt.Fields {
			seen[f.Name] = true
		}
	}
	var names []SQLCName
	for _, n := range slices.Sorted(maps.Keys(seen)) {
		names = append(names, SQLCName{SQL: n, Go: GoName(n)})
	}
	return names
}

// SQLCNames lists the names sqlc makes Go names of for m's metrics, sorted,
// for its rename setting: told each one, sqlc cannot spell an initialism
// differently from the model.
func (m *Model) SQLCNames() []SQLCName {
	seen := map[string]bool{}
	for _, group := range [][]string{columnsBefore, columnsAfter, sqlcParams} {
		for _, n := range group {
			seen[n] = true
		}
	}
	for _, mt := range m.Metrics {
		seen[mt.Table] = true
		for _, f := range mt.Fields {
			seen[f.Name] = true
		}
	}
	var names []SQLCName
	for _, n := range slices.Sorted(maps.Keys(seen)) {
		names = append(names, SQLCName{SQL: n, Go: GoName(n)})
	}
	return names
}
