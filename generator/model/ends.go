package model

import (
	"fmt"
	"path"
	"strings"

	"github.com/outboxgen/outboxgen/generator/spec"
)

// The two packages generated in folders of the generated package: wire,
// what both ends of the outbox share (payloads, event types, routes,
// validation), and receiver, the receiving end. Their names are fixed, so
// a spec cannot move them.
const (
	wirePackage     = "wire"
	receiverPackage = "receiver"
	// receiverDB keys the receiver's sqlc package (receiver/internal/pgdb)
	// in scopes, apart from the sending side's pgdb.
	receiverDB = receiverPackage + "/" + "pgdb"
)

// ReceiverDBDir is the folder of the receiver's sqlc package, relative to
// the generated package.
const ReceiverDBDir = receiverPackage + "/internal/pgdb"

// Receiver names one metric's code in the receiver package, and the table
// its default storage keeps the entries in.
type Receiver struct {
	Change string // "HeartRateChange": a change as the Applier gets it
	Entry  string // "ReceivedHeartRate": an entry as the default storage holds it
	On     string // "OnHeartRate": the Applier method
	Get    string // "GetHeartRate": a read of the default storage
	List   string // "ListHeartRate": a read of the default storage
	File   string // "heart_rate_receiver.go"
	// DeletedSchema names the schema of its deleted payloads in the OpenAPI
	// document, beside Payload, the schema of the others.
	DeletedSchema string // "HeartRateDeleted"
	// Unexported names, free to change.
	Decode   string // "decodeHeartRate"
	Fields   string // "heartRateFields": the keys of its payload
	ToChange string // "heartRateChange"
	FromRow  string // "heartRateFromRow"
	// The default storage's table, its indexes and its sqlc names.
	Table      string // "received_heart_rate"
	PrimaryKey string // "received_heart_rate__pkey"
	Recorded   string // "received_heart_rate__recorded": (user_id, recorded_at)
	Row        string // "ReceivedHeartRate"
	Queries    ReceiverQueries
}

// ReceiverQueries are the names of the default storage's sqlc queries of
// one metric.
type ReceiverQueries struct {
	Upsert, Delete, Get, List string
}

// buildReceiver derives a metric's receiver names; the unexported ones are
// set once every name of the spec is claimed.
func buildReceiver(name, goName string) Receiver {
	table := "received_" + name
	return Receiver{
		Change: goName + "Change",
		Entry:  "Received" + goName,
		On:     "On" + goName,
		Get:    "Get" + goName,
		List:   "List" + goName,
		// "_receiver" is neither a GOOS, a GOARCH nor "test".
		File:          name + "_receiver.go",
		DeletedSchema: goName + "Deleted",
		Table:         table,
		PrimaryKey:    table + "__pkey",
		Recorded:      table + "__recorded",
		Row:           GoName(table),
		Queries: ReceiverQueries{
			Upsert: "Upsert" + goName, Delete: "Delete" + goName, Get: "Get" + goName, List: "List" + goName,
		},
	}
}

// routes groups the metrics by route and places the batch route: at
// batch, or, if a metric is posted there, at the first free variant of it.
func (m *Model) routes(batch string) {
	byPath := map[string]*Route{}
	scope := m.Names.scopes[routeScope]
	for _, mt := range m.Metrics {
		r, ok := byPath[mt.Route]
		if !ok {
			r = &Route{Path: mt.Route}
			byPath[mt.Route] = r
			m.Routes = append(m.Routes, r)
			scope.owners[mt.Route] = owner{what: fmt.Sprintf("metric %q (its route)", mt.Name)}
		}
		r.Metrics = append(r.Metrics, mt)
	}
	m.BatchRoute = m.Names.internal(scope, batch, "the batch route")
	operations := m.Names.scopes[OperationScope]
	for _, r := range m.Routes {
		var names []string
		for _, mt := range r.Metrics {
			names = append(names, mt.Name)
		}
		r.OperationID = m.Names.internal(operations, "receive_"+strings.Join(names, "_and_"), "the operation of route "+r.Path)
	}
}

// claimEnds registers the names one metric gives the wire and receiver
// packages and the receiver's tables. The wire package declares the
// metric's payload, enums and event constants under the same names as the
// metrics package, whose declarations are aliases of them.
func (m *Model) claimEnds(mt *Metric, sm spec.Metric) {
	n := m.Names
	what := fmt.Sprintf("metric %q", mt.Name)
	wire := n.scopes[DBScope(wirePackage)]
	types := true
	for _, name := range []string{mt.Payload, mt.Events.CreatedConst, mt.Events.UpdatedConst, mt.Events.DeletedConst} {
		types = n.claim(wire, name, what, sm.Pos) && types
	}
	n.claim(n.scopes[FileScope(wirePackage)], mt.WireFile, what, sm.Pos)
	for i, f := range mt.Fields {
		if f.EnumType == "" {
			continue
		}
		pos := sm.Fields[i].Pos
		fwhat := fmt.Sprintf("field %q of metric %q", f.Name, mt.Name)
		if !n.claim(wire, f.EnumType, fwhat+" (its enum type)", pos) {
			continue
		}
		n.fix(n.scope(TypeScope(wirePackage, f.EnumType), "type "+wirePackage+"."+f.EnumType), "the method of every enum", enumMembers...)
		for _, v := range f.Values {
			n.claim(wire, v.GoName, fmt.Sprintf("value %q of field %q of metric %q", v.Value, f.Name, mt.Name), pos)
		}
	}

	r := mt.Recv
	recv := n.scopes[DBScope(receiverPackage)]
	for _, name := range []string{r.Change, r.Entry} {
		types = n.claim(recv, name, what, sm.Pos) && types
	}
	n.claim(n.scopes[FileScope(receiverPackage)], r.File, what, sm.Pos)
	schemas := n.scopes[OpenAPIScope]
	n.claim(schemas, mt.Payload, what+" (its payload's schema)", sm.Pos)
	n.claim(schemas, r.DeletedSchema, what+" (its deleted payload's schema)", sm.Pos)
	applier := n.scopes[TypeScope(receiverPackage, "Applier")]
	n.claim(applier, r.On, what+" (its method of Applier)", sm.Pos)
	storage := n.scopes[TypeScope(receiverPackage, "Storage")]
	for _, name := range []string{r.On, r.Get, r.List} {
		n.claim(storage, name, what+" (a method of Storage)", sm.Pos)
	}
	if types {
		n.fix(n.scope(TypeScope(receiverPackage, r.Change), "struct "+receiverPackage+"."+r.Change), "a field of every change", changeMembers...)
		entry := n.scope(TypeScope(receiverPackage, r.Entry), "struct "+receiverPackage+"."+r.Entry)
		n.fix(entry, "a field of every received entry", receivedMembers...)
		for i, f := range mt.Fields {
			n.claim(entry, f.GoName, fmt.Sprintf("field %q of metric %q", f.Name, mt.Name), sm.Fields[i].Pos)
		}
	}
	m.claimReceiverSQL(mt, sm)
}

// claimReceiverSQL registers the default storage's table, indexes and
// sqlc names of one metric. They live in the PostgreSQL database, beside
// the sending side's tables when both ends share one.
func (m *Model) claimReceiverSQL(mt *Metric, sm spec.Metric) {
	n := m.Names
	r := mt.Recv
	what := fmt.Sprintf("metric %q", mt.Name)
	relations := n.scopes[SQLScope(spec.Postgres)]
	n.claim(relations, r.Table, what+" (its received table)", sm.Pos)
	n.claim(relations, r.PrimaryKey, what+" (its received table's primary key)", sm.Pos)
	n.claim(relations, r.Recorded, what+" (its received table's index by time)", sm.Pos)
	columns := n.scope(ColumnScope(r.Table), "table "+r.Table)
	n.fix(columns, "a column of every received table", receivedColumns...)
	for i, f := range mt.Fields {
		n.claim(columns, f.Name, fmt.Sprintf("field %q of metric %q", f.Name, mt.Name), sm.Fields[i].Pos)
	}

	pkg := n.scopes[DBScope(receiverDB)]
	methods := n.scopes[TypeScope(receiverDB, "Queries")]
	q := r.Queries
	for _, query := range []string{q.Upsert, q.Delete, q.Get, q.List} {
		n.claim(methods, query, what+" (a query of the receiver)", sm.Pos)
		n.claim(pkg, lowerFirst(query), what+" (a query's SQL)", sm.Pos)
	}
	n.claim(pkg, r.Row, what+" (its received row type)", sm.Pos)
	row := n.scope(TypeScope(receiverDB, r.Row), "struct "+receiverDB+"."+r.Row)
	n.fix(row, "a column of every received table", goNames(receivedColumns)...)
	upsert := n.scope(TypeScope(receiverDB, Params(q.Upsert)), "struct "+receiverDB+"."+Params(q.Upsert))
	n.claim(pkg, Params(q.Upsert), what+" (a query's parameters)", sm.Pos)
	n.fix(upsert, "a parameter of every upsert", "ID", "UserID", "RecordedAt", "Version", "BackendID")
	for i, f := range mt.Fields {
		fwhat := fmt.Sprintf("field %q of metric %q", f.Name, mt.Name)
		n.claim(row, f.GoName, fwhat, sm.Fields[i].Pos)
		n.claim(upsert, f.GoName, fwhat, sm.Fields[i].Pos)
	}
	n.claim(pkg, Params(q.List), what+" (a query's parameters)", sm.Pos)
	n.fix(n.scope(TypeScope(receiverDB, Params(q.List)), "struct "+receiverDB+"."+Params(q.List)), "a parameter of every list", "UserID", "MaxRows")
}

// internalEnds names the unexported parts of a metric's receiver code.
func (m *Model) internalEnds(mt *Metric) {
	n := m.Names
	recv := n.scopes[DBScope(receiverPackage)]
	lower := lowerGoName(mt.Name)
	what := fmt.Sprintf("metric %q", mt.Name)
	r := &mt.Recv
	r.Decode = n.internal(recv, "decode"+mt.GoName, what+" (its decoder)")
	r.Fields = n.internal(recv, lower+"Fields", what+" (the keys of its payload)")
	r.ToChange = n.internal(recv, lower+"Change", what+" (its change conversion)")
	r.FromRow = n.internal(recv, lower+"FromRow", what+" (its row conversion)")
}

// OpenAPIScope keys the schemas of the receiver's OpenAPI document, and
// OperationScope its operations.
const (
	OpenAPIScope   = "openapi:schemas"
	OperationScope = "openapi:operations"
)

// PackageKey is how scopes name the Go package in dir, a folder relative
// to the generated package: "" for the package itself, "sqlitedb" and
// "pgdb" for its sqlc packages, "wire", "receiver", and "receiver/pgdb"
// for the receiver's sqlc package.
func PackageKey(dir string) string {
	switch {
	case dir == ReceiverDBDir:
		return receiverDB
	case strings.HasPrefix(dir, "internal/"):
		return path.Base(dir)
	}
	return dir
}

// EndDirs lists the folders of the wire and receiver packages, relative to
// the generated package.
func EndDirs() []string { return []string{wirePackage, receiverPackage, ReceiverDBDir} }
