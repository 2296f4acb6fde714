package model

import (
	"fmt"
	"maps"
	"slices"

	"github.com/outboxgen/outboxgen/generator/spec"
)

// claim registers every name the generated code derives from one metric
// of the spec: its types and their members, its files, its tables and
// indexes, and what sqlc declares for its queries.
func (m *Model) claim(mt *Metric, sm spec.Metric) {
	n := m.Names
	what := fmt.Sprintf("metric %q", mt.Name)
	pkg := n.scopes[PackageScope]
	types := true // each of the metric's types is its own
	for _, name := range []string{mt.GoName, mt.Input, mt.Payload, mt.Repository} {
		types = n.claim(pkg, name, what, sm.Pos) && types
	}
	for _, name := range []string{mt.Events.CreatedConst, mt.Events.UpdatedConst, mt.Events.DeletedConst} {
		n.claim(pkg, name, what, sm.Pos)
	}
	metrics := n.scopes[TypeScope("", "Metrics")]
	n.claim(metrics, mt.GoName, what+" (its repository)", sm.Pos)
	n.claim(metrics, mt.UseCase, what+" (its use case)", sm.Pos)
	if !types {
		// The clash is reported; the members would only repeat it.
		return
	}

	entity := n.scope(TypeScope("", mt.GoName), "struct "+mt.GoName)
	n.fix(entity, "a member of every entry", entityMembers...)
	input := n.scope(TypeScope("", mt.Input), "struct "+mt.Input)
	n.fix(input, "a field of every input", inputMembers...)
	n.fix(input, "the method Validate", "Validate")
	payload := n.scope(TypeScope(wirePackage, mt.Payload), "struct "+wirePackage+"."+mt.Payload)
	n.fix(payload, "a field of every payload", payloadMembers...)
	n.fix(payload, "a method of every payload", payloadMethods...)
	n.fix(payload, "the payload's version (events.payload_version)", "PayloadVersion")
	payloadKeys := n.scope(JSONScope(mt.Payload), "the JSON of "+mt.Payload)
	n.fix(payloadKeys, "a key of every payload", payloadJSON...)
	n.fix(payloadKeys, "the payload's version (events.payload_version)", "payload_version")
	n.fix(n.scope(TypeScope("", mt.Repository), "type "+mt.Repository), "a member of every repository", repositoryMembers...)

	files := n.scopes[FileScope("")]
	n.claim(files, mt.File, what, sm.Pos)
	for _, d := range m.Dialects() {
		n.claim(files, mt.Adapters[d].File, what, sm.Pos)
	}

	for i, f := range mt.Fields {
		fwhat := fmt.Sprintf("field %q of metric %q", f.Name, mt.Name)
		pos := sm.Fields[i].Pos
		for _, s := range []*scope{entity, input, payload} {
			n.claim(s, f.GoName, fwhat, pos)
		}
		n.claim(payloadKeys, f.Name, fwhat, pos)
		if f.EnumType == "" {
			continue
		}
		if !n.claim(pkg, f.EnumType, fwhat+" (its enum type)", pos) {
			continue
		}
		for _, v := range f.Values {
			n.claim(pkg, v.GoName, fmt.Sprintf("value %q of field %q of metric %q", v.Value, f.Name, mt.Name), pos)
		}
	}
	for _, d := range m.Dialects() {
		m.claimSQL(mt, sm, d)
		m.claimQueries(mt, sm, d)
	}
	m.claimEnds(mt, sm)
}

// claimSQL registers a metric's table, its indexes and its columns.
func (m *Model) claimSQL(mt *Metric, sm spec.Metric, d spec.Dialect) {
	n := m.Names
	what := fmt.Sprintf("metric %q", mt.Name)
	relations := n.scopes[SQLScope(d)]
	n.claim(relations, mt.Table, what+" (its table)", sm.Pos)
	n.claim(relations, mt.Indexes.Bucket, what+" (its dedupe index)", sm.Pos)
	n.claim(relations, mt.Indexes.Recorded, what+" (its index by time)", sm.Pos)
	if d == spec.Postgres {
		n.claim(relations, mt.Indexes.PrimaryKey, what+" (its primary key)", sm.Pos)
	}
	columns := n.scope(ColumnScope(mt.Table), "table "+mt.Table)
	if len(columns.owners) > 0 {
		return // the other dialect claimed them
	}
	n.fix(columns, "a column of every metric table", columnsBefore...)
	n.fix(columns, "a column of every metric table", columnsAfter...)
	for i, f := range mt.Fields {
		n.claim(columns, f.Name, fmt.Sprintf("field %q of metric %q", f.Name, mt.Name), sm.Fields[i].Pos)
	}
}

// claimQueries registers what sqlc declares for a metric's queries on one
// dialect: the queries' methods and SQL constants, their parameter and row
// types, and the fields of those types.
func (m *Model) claimQueries(mt *Metric, sm spec.Metric, d spec.Dialect) {
	n := m.Names
	db := dbPackage(d)
	what := fmt.Sprintf("metric %q", mt.Name)
	q := mt.Queries
	queries := []string{q.Save, q.Get, q.List, q.Delete, q.MarkSynced, q.CountBySyncStatus}
	if d == spec.Postgres {
		queries[4] = q.MarkSyncedBatch
	}
	pkg := n.scopes[DBScope(db)]
	methods := n.scopes[TypeScope(db, "Queries")]
	for _, query := range queries {
		n.claim(methods, query, what+" (a query)", sm.Pos)
		n.claim(pkg, lowerFirst(query), what+" (a query's SQL)", sm.Pos)
	}

	// Go names of the table's columns, in sqlc's row type.
	row := n.scope(TypeScope(db, mt.Row), "struct "+db+"."+mt.Row)
	n.claim(pkg, mt.Row, what+" (its row type)", sm.Pos)
	n.fix(row, "a column of every metric table", goNames(columnsBefore)...)
	n.fix(row, "a column of every metric table", goNames(columnsAfter)...)
	save := n.scope(TypeScope(db, Params(q.Save)), "struct "+db+"."+Params(q.Save))
	n.fix(save, "a parameter of every save", "ID", "UserID", "RecordedAt", "Bucket", "CreatedAt", "UpdatedAt")
	for i, f := range mt.Fields {
		fwhat := fmt.Sprintf("field %q of metric %q", f.Name, mt.Name)
		n.claim(row, f.GoName, fwhat, sm.Fields[i].Pos)
		n.claim(save, f.GoName, fwhat, sm.Fields[i].Pos)
	}

	// The other queries' parameters and rows do not depend on the fields.
	types := map[string][]string{
		Params(q.List):             {"UserID", "RecordedFrom", "RecordedTo", "SyncStatus", "MaxRows"},
		Params(q.Delete):           {"ID", "Now"},
		RowOf(q.CountBySyncStatus): {"SyncStatus", "Entries"},
	}
	if d == spec.Postgres {
		types[Params(q.MarkSyncedBatch)] = []string{"Ids", "Versions", "BackendIds"}
	} else {
		types[Params(q.MarkSynced)] = []string{"ID", "Version", "BackendID"}
	}
	n.claim(pkg, Params(q.Save), what+" (a query's parameters)", sm.Pos)
	for _, typ := range slices.Sorted(maps.Keys(types)) {
		n.claim(pkg, typ, what+" (a query's parameters or row)", sm.Pos)
		n.fix(n.scope(TypeScope(db, typ), "struct "+db+"."+typ), "a field sqlc writes for every metric", types[typ]...)
	}
}

// goNames maps GoName over names.
func goNames(names []string) []string {
	out := make([]string, len(names))
	for i, name := range names {
		out[i] = GoName(name)
	}
	return out
}

// internal names the unexported parts of a metric's code, each the first
// free variant of its usual name: nothing outside the package sees them,
// so a clash with a name the spec chose is resolved here, not refused.
func (m *Model) internal(mt *Metric) {
	n := m.Names
	pkg := n.scopes[PackageScope]
	lower := lowerGoName(mt.Name)
	what := fmt.Sprintf("metric %q", mt.Name)
	mt.Store = n.internal(pkg, lower+"Store", what+" (its store interface)")
	n.fix(n.scope(TypeScope("", mt.Store), "interface "+mt.Store), "a method of every store", storeMembers...)
	switch mt.Window {
	case spec.WindowMinute, spec.WindowHour, spec.WindowDay:
		mt.Zone = n.internal(pkg, lower+"Zone", what+" (its dedupe time zone)")
	}
	m.internalEnds(mt)
	for _, d := range m.Dialects() {
		name, a := dialectNames[d], mt.Adapters[d]
		a.Type = n.internal(pkg, name.prefix+mt.GoName, what+" (its "+name.prose+" adapter)")
		a.FromRow = n.internal(pkg, lower+"From"+name.suffix, what+" (its "+name.prose+" row conversion)")
		n.fix(n.scope(TypeScope("", a.Type), "type "+a.Type), "a member of every adapter", adapterMembers...)
	}
}

// dialectNames are the words a dialect puts in identifiers.
var dialectNames = map[spec.Dialect]struct{ prefix, suffix, prose string }{
	spec.SQLite:   {"sqlite", "SQLite", "SQLite"},
	spec.Postgres: {"postgres", "Postgres", "PostgreSQL"},
}
