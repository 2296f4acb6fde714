package gogen

import (
	"github.com/dave/jennifer/jen"

	"github.com/outboxgen/outboxgen/generator/model"
	"github.com/outboxgen/outboxgen/generator/spec"
)

// dialect is what differs between the SQLite and PostgreSQL adapters: the
// store, the sqlc package, the transaction type and how times are kept.
type dialect struct {
	key         spec.Dialect
	name        string // in identifiers: "SQLite", "Postgres"
	withArticle string // in prose: "an SQLite"
	suffix      string // in file names: "sqlite", "postgres"
	constructor string // "NewSQLite"
	storePath   string
	dbPath      string // the sqlc package
	dbPkg       string
	txType      jen.Code // the transaction a delivered hook gets
	// batchHooks is set when the store takes delivered hooks for a batch
	// (PostgreSQL: one statement instead of a round trip per event).
	batchHooks bool
	writeType  jen.Code // what the store's Write hands its callback
	noRows     jen.Code
	readDB     func(store jen.Code) jen.Code // what reads go through
	columnType func(*model.Field) string
	// Fixed time columns: Go time ↔ column value.
	timeToDB, timeFromDB func(jen.Code) jen.Code
	// Time fields (nullable columns): *time.Time ↔ column pointer.
	optTimeToDB, optTimeFromDB func(jen.Code) jen.Code
	// listParams fills the sqlc List params from ListFilter f.
	listParams []jen.Code
}

func sqliteDialect(m *model.Model) *dialect {
	f := jen.Id("f")
	return &dialect{
		key:         spec.SQLite,
		name:        "SQLite",
		withArticle: "an SQLite",
		suffix:      "sqlite",
		constructor: "NewSQLite",
		storePath:   sqliteStorePath,
		dbPath:      m.Package.ImportPath + "/internal/" + model.DBPackage(spec.SQLite),
		dbPkg:       model.DBPackage(spec.SQLite),
		txType:      jen.Op("*").Qual("database/sql", "Tx"),
		writeType:   jen.Op("*").Qual("database/sql", "Tx"),
		noRows:      jen.Qual("database/sql", "ErrNoRows"),
		readDB:      func(store jen.Code) jen.Code { return jen.Add(store).Dot("DB").Call() },
		columnType:  func(fl *model.Field) string { return fl.SQLiteType },
		timeToDB:    func(t jen.Code) jen.Code { return jen.Add(t).Dot("UnixMicro").Call() },
		timeFromDB: func(us jen.Code) jen.Code {
			return jen.Qual("time", "UnixMicro").Call(us).Dot("UTC").Call()
		},
		optTimeToDB:   func(t jen.Code) jen.Code { return jen.Id("microsFromTime").Call(t) },
		optTimeFromDB: func(us jen.Code) jen.Code { return jen.Id("timeFromMicros").Call(us) },
		// SQLite's nullable filters are untyped: nil means "any".
		listParams: []jen.Code{
			field("UserID", jen.Id("nilIfZero").Call(f.Clone().Dot("UserID"))),
			field("RecordedFrom", jen.Id("nilIfZero").Call(jen.Id("microsOrZero").Call(f.Clone().Dot("From")))),
			field("RecordedTo", jen.Id("nilIfZero").Call(jen.Id("microsOrZero").Call(f.Clone().Dot("To")))),
			field("SyncStatus", jen.Id("nilIfZero").Call(f.Clone().Dot("SyncStatus"))),
			field("MaxRows", jen.Int64().Call(f.Clone().Dot("limit").Call())),
		},
	}
}

func postgresDialect(m *model.Model) *dialect {
	f := jen.Id("f")
	identity := func(c jen.Code) jen.Code { return c }
	// pgx reads timestamptz in the local zone; entries are in UTC everywhere.
	utc := func(t jen.Code) jen.Code { return jen.Add(t).Dot("UTC").Call() }
	return &dialect{
		key:           spec.Postgres,
		name:          "Postgres",
		withArticle:   "a PostgreSQL",
		suffix:        "postgres",
		constructor:   "NewPostgres",
		storePath:     pgStorePath,
		dbPath:        m.Package.ImportPath + "/internal/" + model.DBPackage(spec.Postgres),
		dbPkg:         model.DBPackage(spec.Postgres),
		txType:        jen.Qual(pgxPath, "Tx"),
		batchHooks:    true,
		writeType:     jen.Qual(pgStorePath, "Querier"),
		noRows:        jen.Qual(pgxPath, "ErrNoRows"),
		readDB:        func(store jen.Code) jen.Code { return jen.Add(store).Dot("Pool").Call() },
		columnType:    func(fl *model.Field) string { return fl.PostgresType },
		timeToDB:      identity,
		timeFromDB:    utc,
		optTimeToDB:   identity,
		optTimeFromDB: identity,
		listParams: []jen.Code{
			field("UserID", jen.Id("ptrIfSet").Call(f.Clone().Dot("UserID"))),
			field("RecordedFrom", jen.Id("timeIfSet").Call(f.Clone().Dot("From"))),
			field("RecordedTo", jen.Id("timeIfSet").Call(f.Clone().Dot("To"))),
			field("SyncStatus", jen.Id("ptrIfSet").Call(jen.String().Call(f.Clone().Dot("SyncStatus")))),
			field("MaxRows", jen.Int32().Call(f.Clone().Dot("limit").Call())),
		},
	}
}

func (d *dialect) db(name string) *jen.Statement { return jen.Qual(d.dbPath, name) }

// adapter names a metric's code on d.
func (d *dialect) adapter(mt *model.Metric) *model.Adapter { return mt.Adapters[d.key] }

// toParam converts entity field e.<Field> to its sqlc parameter.
func (d *dialect) toParam(fl *model.Field) jen.Code {
	v := jen.Id("e").Dot(fl.GoName)
	addr := v.Clone()
	if fl.Required {
		addr = jen.Op("&").Add(v.Clone())
	}
	switch fl.Type {
	case spec.Enum:
		return jen.Parens(jen.Op("*").String()).Call(addr)
	case spec.Time:
		return d.optTimeToDB(addr)
	}
	return addr
}

// fromColumn converts column r.<Field> to the entity's field.
func (d *dialect) fromColumn(fl *model.Field) jen.Code {
	col := jen.Id("r").Dot(fl.GoName)
	switch fl.Type {
	case spec.Enum:
		if fl.Required {
			return jen.Id(fl.EnumType).Call(jen.Id("deref").Call(col))
		}
		return jen.Parens(jen.Op("*").Id(fl.EnumType)).Call(col)
	case spec.Time:
		col := d.optTimeFromDB(col)
		if fl.Required {
			return jen.Id("deref").Call(col)
		}
		return col
	}
	if fl.Required {
		return jen.Id("deref").Call(col)
	}
	return col
}

// emitAdapter writes <metric>_<dialect>.go: the metric's store on one dialect.
func (g *gen) emitAdapter(mt *model.Metric, d *dialect) {
	a := d.adapter(mt)
	f := g.file(a.File)
	name := a.Type
	row := d.db(mt.Row)
	entity := jen.Id(mt.GoName)
	zero := func() *jen.Statement { return jen.Id(mt.GoName).Values() }
	wrap := func(what string) jen.Code {
		return jen.Qual("fmt", "Errorf").Call(jen.Lit(what+" "+mt.Name+": %w"), jen.Err())
	}

	f.Commentf("%s keeps %s entries in %s.", name, mt.Name, d.name)
	f.Type().Id(name).Struct(
		jen.Id("store").Op("*").Qual(d.storePath, "Store"),
		jen.Id("read").Op("*").Add(d.db("Queries")),
	)

	params := []jen.Code{
		field("ID", jen.Id("e").Dot("ID")),
		field("UserID", jen.Id("e").Dot("UserID")),
		field("RecordedAt", d.timeToDB(jen.Id("e").Dot("RecordedAt"))),
		field("Bucket", jen.Id("bucket")),
	}
	for _, fl := range mt.Fields {
		params = append(params, field(fl.GoName, d.toParam(fl)))
	}
	params = append(params,
		field("CreatedAt", d.timeToDB(jen.Id("e").Dot("CreatedAt"))),
		field("UpdatedAt", d.timeToDB(jen.Id("e").Dot("UpdatedAt"))),
	)
	f.Comment("save upserts the entry and enqueues its created or updated event.")
	f.Func().Params(jen.Id("a").Id(name)).Id("save").Params(jen.Id("ctx").Add(ctxT()), jen.Id("e").Add(entity), jen.Id("bucket").String()).Params(entity, jen.Error()).Block(
		jen.Var().Id("saved").Add(entity),
		jen.Err().Op(":=").Id("a").Dot("store").Dot("Write").Call(jen.Id("ctx"), jen.Func().Params(jen.Id("tx").Add(d.writeType)).Params(outbox("Event"), jen.Error()).Block(
			jen.List(jen.Id("r"), jen.Err()).Op(":=").Add(d.db("New")).Call(jen.Id("tx")).Dot(mt.Queries.Save).Call(jen.Id("ctx"), d.db(model.Params(mt.Queries.Save)).Add(values(params...))),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(outbox("Event").Values(), wrap("save"))),
			jen.Id("saved").Op("=").Id(a.FromRow).Call(jen.Id("r")),
			jen.Return(jen.Id("saved").Dot("event").Call(jen.Id("changeEvent").Call(jen.Id("saved").Dot("Version"), jen.Id(mt.Events.CreatedConst), jen.Id(mt.Events.UpdatedConst)))),
		)),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(zero(), jen.Err())),
		jen.Return(jen.Id("saved"), jen.Nil()),
	)

	f.Comment("get reads one entry that is not deleted.")
	f.Func().Params(jen.Id("a").Id(name)).Id("get").Params(jen.Id("ctx").Add(ctxT()), jen.Id("id").Add(uuidT())).Params(entity, jen.Error()).Block(
		jen.List(jen.Id("r"), jen.Err()).Op(":=").Id("a").Dot("read").Dot(mt.Queries.Get).Call(jen.Id("ctx"), jen.Id("id")),
		jen.If(jen.Qual("errors", "Is").Call(jen.Err(), d.noRows)).Block(jen.Return(zero(), jen.Id("ErrNotFound"))),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(zero(), wrap("get"))),
		jen.Return(jen.Id(a.FromRow).Call(jen.Id("r")), jen.Nil()),
	)

	f.Comment("list reads the entries a filter selects.")
	f.Func().Params(jen.Id("a").Id(name)).Id("list").Params(jen.Id("ctx").Add(ctxT()), jen.Id("f").Id("ListFilter")).Params(jen.Index().Add(entity), jen.Error()).Block(
		jen.List(jen.Id("rows"), jen.Err()).Op(":=").Id("a").Dot("read").Dot(mt.Queries.List).Call(jen.Id("ctx"), d.db(model.Params(mt.Queries.List)).Add(values(d.listParams...))),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), wrap("list"))),
		jen.Id("out").Op(":=").Make(jen.Index().Add(entity), jen.Len(jen.Id("rows"))),
		jen.For(jen.List(jen.Id("i"), jen.Id("r")).Op(":=").Range().Id("rows")).Block(
			jen.Id("out").Index(jen.Id("i")).Op("=").Id(a.FromRow).Call(jen.Id("r")),
		),
		jen.Return(jen.Id("out"), jen.Nil()),
	)

	f.Comment("delete marks the entry deleted and enqueues its tombstone event.")
	f.Func().Params(jen.Id("a").Id(name)).Id("delete").Params(jen.Id("ctx").Add(ctxT()), jen.Id("id").Add(uuidT()), jen.Id("now").Add(timeT())).Error().Block(
		jen.Return(jen.Id("a").Dot("store").Dot("Write").Call(jen.Id("ctx"), jen.Func().Params(jen.Id("tx").Add(d.writeType)).Params(outbox("Event"), jen.Error()).Block(
			jen.List(jen.Id("r"), jen.Err()).Op(":=").Add(d.db("New")).Call(jen.Id("tx")).Dot(mt.Queries.Delete).Call(jen.Id("ctx"), d.db(model.Params(mt.Queries.Delete)).Add(values(
				field("ID", jen.Id("id")),
				field("Now", d.timeToDB(jen.Id("now"))),
			))),
			jen.If(jen.Qual("errors", "Is").Call(jen.Err(), d.noRows)).Block(jen.Return(outbox("Event").Values(), jen.Id("ErrNotFound"))),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(outbox("Event").Values(), wrap("delete"))),
			jen.Return(jen.Id(a.FromRow).Call(jen.Id("r")).Dot("event").Call(jen.Id(mt.Events.DeletedConst))),
		))),
	)

	f.Comment("countBySyncStatus counts the entries that are not deleted by sync status.")
	f.Func().Params(jen.Id("a").Id(name)).Id("countBySyncStatus").Params(jen.Id("ctx").Add(ctxT())).Params(jen.Map(jen.Id("SyncStatus")).Int64(), jen.Error()).Block(
		jen.List(jen.Id("rows"), jen.Err()).Op(":=").Id("a").Dot("read").Dot(mt.Queries.CountBySyncStatus).Call(jen.Id("ctx")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), wrap("count"))),
		jen.Id("counts").Op(":=").Make(jen.Map(jen.Id("SyncStatus")).Int64()),
		jen.For(jen.List(jen.Id("_"), jen.Id("r")).Op(":=").Range().Id("rows")).Block(
			jen.Id("counts").Index(jen.Id("SyncStatus").Call(jen.Id("r").Dot("SyncStatus"))).Op("=").Id("r").Dot("Entries"),
		),
		jen.Return(jen.Id("counts"), jen.Nil()),
	)

	g.emitMarkSynced(f, mt, d)

	fields := []jen.Code{
		field("ID", jen.Id("r").Dot("ID")),
		field("UserID", jen.Id("r").Dot("UserID")),
		field("RecordedAt", d.timeFromDB(jen.Id("r").Dot("RecordedAt"))),
	}
	for _, fl := range mt.Fields {
		fields = append(fields, field(fl.GoName, d.fromColumn(fl)))
	}
	fields = append(fields,
		field("Version", jen.Id("r").Dot("Version")),
		field("BackendID", jen.Id("r").Dot("BackendID")),
		field("SyncStatus", jen.Id("SyncStatus").Call(jen.Id("r").Dot("SyncStatus"))),
		field("CreatedAt", d.timeFromDB(jen.Id("r").Dot("CreatedAt"))),
		field("UpdatedAt", d.timeFromDB(jen.Id("r").Dot("UpdatedAt"))),
	)
	f.Commentf("%s turns a row into an entry.", a.FromRow)
	f.Func().Id(a.FromRow).Params(jen.Id("r").Add(row)).Add(entity).Block(
		jen.Return(jen.Id(mt.GoName).Add(values(fields...))),
	)
}

// emitMarkSynced writes the adapter's delivered hook: one delivery at a
// time, or a batch's deliveries in one statement where the store takes
// batch hooks.
func (g *gen) emitMarkSynced(f *jen.File, mt *model.Metric, d *dialect) {
	recv := jen.Id("a").Id(d.adapter(mt).Type)
	ctx, tx := jen.Id("ctx").Add(ctxT()), jen.Id("tx").Add(d.txType)
	if d.batchHooks {
		f.Comment("markSynced runs when events of this metric are delivered, in the")
		f.Comment("transaction that completes them, with one statement for the batch. An")
		f.Comment("entry is synced only by the event carrying its current version;")
		f.Comment("otherwise a newer change is still waiting.")
		f.Func().Params(recv).Id("markSynced").Params(ctx, tx, jen.Id("ds").Index().Add(outbox("Delivery"))).Error().Block(
			jen.List(jen.Id("ids"), jen.Id("versions"), jen.Id("backendIDs"), jen.Err()).Op(":=").Id("syncedColumns").Call(jen.Lit(mt.Name), jen.Id("ds")),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
			jen.Return(d.db("New").Call(jen.Id("tx")).Dot(mt.Queries.MarkSyncedBatch).Call(jen.Id("ctx"), d.db(model.Params(mt.Queries.MarkSyncedBatch)).Add(values(
				field("Ids", jen.Id("ids")),
				field("Versions", jen.Id("versions")),
				field("BackendIds", jen.Id("backendIDs")),
			)))),
		)
		return
	}
	f.Comment("markSynced runs when one of the entry's events is delivered, in the")
	f.Comment("transaction that completes it. The entry is synced only if the event")
	f.Comment("carries its current version; otherwise a newer change is still waiting.")
	f.Func().Params(recv).Id("markSynced").Params(ctx, tx, jen.Id("d").Add(outbox("Delivery"))).Error().Block(
		jen.List(jen.Id("id"), jen.Err()).Op(":=").Qual(uuidPath, "Parse").Call(jen.Id("d").Dot("Event").Dot("AggregateID")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("mark "+mt.Name+" synced: entity id: %w"), jen.Err()))),
		jen.Return(d.db("New").Call(jen.Id("tx")).Dot(mt.Queries.MarkSynced).Call(jen.Id("ctx"), d.db(model.Params(mt.Queries.MarkSynced)).Add(values(
			field("ID", jen.Id("id")),
			field("Version", jen.Id("d").Dot("Event").Dot("EntityVersion")),
			field("BackendID", jen.Id("remoteID").Call(jen.Id("d"))),
		)))),
	)
}

// emitConstructor writes <dialect>.go: the constructor wiring every
// metric's adapter and delivered hooks to a store, and the schema.
func (g *gen) emitConstructor(d *dialect) {
	f := g.file(d.suffix + ".go")
	f.Anon("embed")
	schema := d.suffix + "Schema"
	columns := d.suffix + "Columns"
	f.Commentf("%s creates the metric tables; Migrate runs it.", schema)
	f.Comment("")
	f.Comment("//go:embed internal/" + d.dbPkg + "/schema.sql")
	f.Var().Id(schema).String()

	f.Commentf("%s lists the field columns, which Migrate adds to tables created", columns)
	f.Comment("before their field was declared.")
	cols := []jen.Code{}
	for _, mt := range g.m.Metrics {
		for _, fl := range mt.Fields {
			cols = append(cols, jen.Values(
				field("Table", jen.Lit(mt.Table)),
				field("Name", jen.Lit(fl.Name)),
				field("Definition", jen.Lit(d.columnType(fl))),
			))
		}
	}
	f.Var().Id(columns).Op("=").Index().Add(outbox("Column")).Add(values(cols...))

	register := "Register" + d.name
	body := []jen.Code{
		jen.Id("m").Op(":=").Id("newMetrics").Call(jen.Id("opts")),
		jen.Id("m").Dot("migrate").Op("=").Func().Params(jen.Id("ctx").Add(ctxT())).Error().Block(
			jen.Return(jen.Id("store").Dot("ApplySchema").Call(jen.Id("ctx"), jen.Id(schema), jen.Id(columns))),
		),
		jen.Id("read").Op(":=").Add(d.db("New")).Call(d.readDB(jen.Id("store"))),
	}
	for _, mt := range g.m.Metrics {
		body = append(body, jen.Id("m").Dot(mt.GoName).Op("=").Op("&").Id(mt.Repository).Values(
			field("db", jen.Id(d.adapter(mt).Type).Values(field("store", jen.Id("store")), field("read", jen.Id("read")))),
			field("cfg", jen.Op("&").Id("m").Dot("cfg")),
		))
	}
	body = append(body, jen.Id(register).Call(jen.Id("store")), jen.Return(jen.Id("m")))
	f.Commentf("%s returns the metrics kept in store, %s outbox store, and", d.constructor, d.withArticle)
	f.Commentf("calls %s on it. Call Migrate before first use.", register)
	f.Func().Id(d.constructor).Params(jen.Id("store").Op("*").Qual(d.storePath, "Store"), jen.Id("opts").Op("...").Id("Option")).Op("*").Id("Metrics").Block(body...)

	on := "OnDelivered"
	if d.batchHooks {
		on = "OnDeliveredBatch"
	}
	var hooks []jen.Code
	for _, mt := range g.m.Metrics {
		for _, c := range []string{mt.Events.CreatedConst, mt.Events.UpdatedConst, mt.Events.DeletedConst} {
			hooks = append(hooks, jen.Id("store").Dot(on).Call(jen.Id(c), jen.Id(d.adapter(mt).Type).Values().Dot("markSynced")))
		}
	}
	f.Commentf("%s wires this package's events into store: for every event type,", register)
	f.Comment("the hook that marks the entry synced, in the transaction that completes the")
	f.Comment("event, when the event carries the entry's current version. " + d.constructor + " calls")
	f.Comment("it; a processor running in a process that never calls " + d.constructor + " must")
	f.Comment("call it before it starts. Routes and Backoffs complete the wiring, for the")
	f.Comment("sender and the processor.")
	f.Func().Id(register).Params(jen.Id("store").Op("*").Qual(d.storePath, "Store")).Block(hooks...)

	g.emitFilterHelpers(f, d)
}

// emitFilterHelpers writes what the dialect's List needs to pass a filter.
func (g *gen) emitFilterHelpers(f *jen.File, d *dialect) {
	if d.suffix == "sqlite" {
		f.Comment("nilIfZero passes a filter value to SQLite, or nil to match anything.")
		f.Func().Id("nilIfZero").Types(jen.Id("T").Comparable()).Params(jen.Id("v").Id("T")).Any().Block(
			jen.Var().Id("zero").Id("T"),
			jen.If(jen.Id("v").Op("==").Id("zero")).Block(jen.Return(jen.Nil())),
			jen.Return(jen.Id("v")),
		)
		f.Comment("microsOrZero is t in Unix microseconds, or 0 for the zero time.")
		f.Func().Id("microsOrZero").Params(jen.Id("t").Add(timeT())).Int64().Block(
			jen.If(jen.Id("t").Dot("IsZero").Call()).Block(jen.Return(jen.Lit(0))),
			jen.Return(jen.Id("t").Dot("UnixMicro").Call()),
		)
		return
	}
	f.Comment("ptrIfSet passes a filter value to PostgreSQL, or nil to match anything.")
	f.Func().Id("ptrIfSet").Params(jen.Id("v").String()).Op("*").String().Block(
		jen.If(jen.Id("v").Op("==").Lit("")).Block(jen.Return(jen.Nil())),
		jen.Return(jen.Op("&").Id("v")),
	)
	f.Comment("timeIfSet passes a time bound to PostgreSQL, or nil for none.")
	f.Func().Id("timeIfSet").Params(jen.Id("t").Add(timeT())).Op("*").Add(timeT()).Block(
		jen.If(jen.Id("t").Dot("IsZero").Call()).Block(jen.Return(jen.Nil())),
		jen.Return(jen.Op("&").Id("t")),
	)
}
