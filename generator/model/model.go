// Package model is the typed description of what the generator emits,
// built once from a validated spec. Every name the emitters and templates
// use (Go identifiers, SQL tables, event constants) is derived here, so two
// emitters can never disagree about one, and conflicts between derived
// names are reported against the spec before anything is written.
package model

import (
	"fmt"
	"maps"
	"slices"

	"github.com/outboxgen/outboxgen/generator/spec"
)

// Model is what the generator emits for one spec.
type Model struct {
	Package  Package
	SQLite   bool // the spec asks for SQLite support
	Postgres bool // the spec asks for PostgreSQL support
	Metrics  []*Metric
	// TimeZones lists the zones other than UTC that dedupe windows use,
	// sorted; generated code embeds the zone database when it is not empty.
	TimeZones []string
}

// Package is the generated package.
type Package struct {
	Name       string // Go package name
	ImportPath string // Go import path
	Dir        string // output directory, relative to the spec file, slash-separated
}

// Metric is one metric and everything derived from its name.
type Metric struct {
	Name        string // spec name, e.g. "heart_rate"; also the aggregate name of its events
	GoName      string // "HeartRate": the entity type
	VarName     string // "heartRate": unexported identifiers
	Table       string // "metric_heart_rate"
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
}

// Events are a metric's event types and the constants naming them.
type Events struct {
	Created, Updated, Deleted                string // "weight.created" …
	CreatedConst, UpdatedConst, DeletedConst string // "EventWeightCreated" …
	PayloadVersion                           int
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

// Type names of the generated code that do not depend on the spec. Derived
// names must not collide with them.
var fixedNames = []string{
	"Metrics", "Option", "NewSQLite", "NewPostgres", "RegisterSQLite", "RegisterPostgres", "WithUserResolver", "WithClock", "ListFilter",
	"SyncStatus", "SyncPending", "SyncSynced", "ValidationError", "ErrNotFound", "ErrNoUser", "ErrRequired",
	"ErrOutOfRange", "ErrTooLong", "ErrNotAllowed", "Routes", "EventTypes", "Backoffs", "DeletedPayload",
	"Component",
}

// Build derives the model from s. importPath is the generated package's
// import path. Name conflicts are reported as spec errors at the
// position of the declaration that loses.
func Build(s *spec.Spec, importPath string) (*Model, error) {
	m := &Model{
		Package:  Package{Name: s.Package.Name, ImportPath: importPath, Dir: s.Package.Path},
		SQLite:   slices.Contains(s.Dialects, spec.SQLite),
		Postgres: slices.Contains(s.Dialects, spec.Postgres),
	}
	names := newNameSet(s.File)
	for _, n := range fixedNames {
		names.reserve(n)
	}
	zones := map[string]bool{}
	for _, sm := range s.Metrics {
		mm := buildMetric(sm)
		m.Metrics = append(m.Metrics, mm)
		if sm.Dedupe.TimeZone != "UTC" && (sm.Dedupe.Window == spec.WindowDay || sm.Dedupe.Window == spec.WindowHour) {
			zones[sm.Dedupe.TimeZone] = true
		}
		what := fmt.Sprintf("metric %q", sm.Name)
		for _, n := range []string{mm.GoName, mm.GoName + "Input", mm.GoName + "Payload", mm.GoName + "Repository",
			"Save" + mm.GoName, mm.Events.CreatedConst, mm.Events.UpdatedConst, mm.Events.DeletedConst} {
			names.claim(n, what, sm.Pos)
		}
		entity := newNameSet(s.File)
		for _, n := range []string{"ID", "UserID", "RecordedAt", "Version", "BackendID", "SyncStatus", "CreatedAt", "UpdatedAt", "DeletedAt"} {
			entity.reserve(n)
		}
		for i, f := range mm.Fields {
			pos := sm.Fields[i].Pos
			entity.claim(f.GoName, fmt.Sprintf("field %q of metric %q", f.Name, sm.Name), pos)
			if f.EnumType != "" {
				names.claim(f.EnumType, fmt.Sprintf("enum field %q of metric %q", f.Name, sm.Name), pos)
				for _, v := range f.Values {
					names.claim(v.GoName, fmt.Sprintf("value %q of field %q of metric %q", v.Value, f.Name, sm.Name), pos)
				}
			}
		}
		names.errs = append(names.errs, entity.errs...)
	}
	m.TimeZones = slices.Sorted(maps.Keys(zones))
	if len(names.errs) > 0 {
		return nil, names.errs
	}
	return m, nil
}

func buildMetric(sm spec.Metric) *Metric {
	goName := GoName(sm.Name)
	mm := &Metric{
		Name:        sm.Name,
		GoName:      goName,
		VarName:     lowerGoName(sm.Name),
		Table:       "metric_" + sm.Name,
		Description: sm.Description,
		Unit:        sm.Unit,
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
	}
	for _, sf := range sm.Fields {
		f := &Field{
			Name:        sf.Name,
			GoName:      GoName(sf.Name),
			Type:        sf.Type,
			Required:    sf.Required,
			Min:         sf.Min,
			Max:         sf.Max,
			MaxLength:   sf.MaxLength,
			Description: sf.Description,
		}
		f.SQLiteType, f.PostgresType = sqlTypes(sf.Type)
		if sf.Type == spec.Enum {
			f.EnumType = goName + f.GoName
			for _, v := range sf.Values {
				f.Values = append(f.Values, EnumValue{Value: v, GoName: f.EnumType + GoName(v)})
			}
		}
		mm.Fields = append(mm.Fields, f)
	}
	return mm
}

// nameSet tracks claimed identifiers and reports collisions.
type nameSet struct {
	file   string
	owners map[string]string
	errs   spec.Errors
}

func newNameSet(file string) *nameSet {
	return &nameSet{file: file, owners: make(map[string]string)}
}

func (n *nameSet) reserve(name string) { n.owners[name] = "" }

func (n *nameSet) claim(name, what string, pos spec.Pos) {
	owner, taken := n.owners[name]
	switch {
	case !taken:
		n.owners[name] = what
	case owner == "":
		n.errs = append(n.errs, &spec.Error{File: n.file, Pos: pos,
			Msg: fmt.Sprintf("%s would generate the Go name %s, which the generated code already uses; rename it", what, name)})
	default:
		n.errs = append(n.errs, &spec.Error{File: n.file, Pos: pos,
			Msg: fmt.Sprintf("%s would generate the Go name %s, already generated for %s; rename one of them", what, name, owner)})
	}
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
