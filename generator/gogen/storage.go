package gogen

import (
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/outboxgen/outboxgen/generator/model"
	"github.com/outboxgen/outboxgen/generator/spec"
)

// emitStorage writes the receiver's postgres.go: Storage, the default
// Applier, which keeps each metric's entries in a PostgreSQL table of its
// own, in the database of a pginbox.Store.
func (g *gen) emitStorage() {
	f := g.recvFile("postgres.go")
	f.Comment("ErrNotFound is returned by Storage's reads for an entry it does not hold,")
	f.Comment("or no longer: a deleted entry is removed.")
	f.Var().Id("ErrNotFound").Op("=").Add(errorsNew(g.m.Receiver.Name + ": entry not found"))

	f.Comment("Storage is the default Applier: it keeps each metric's entries in a table of")
	f.Comment("its own (received_<metric>) in the database of a pginbox.Store, written in")
	f.Comment("the transaction that records each change's key. A deleted entry is removed;")
	f.Comment("its tombstone and every entry's version stay in the store's inbox_entities.")
	f.Comment("Storage is safe for concurrent use.")
	f.Type().Id("Storage").Struct(
		jen.Id("store").Op("*").Qual(pginboxPath, "Store"),
		jen.Id("read").Op("*").Add(g.recvDB("Queries")),
	)
	f.Comment("NewStorage returns the default storage in the database of store; call")
	f.Comment("Migrate before first use. New(store, NewStorage(store), …) is the receiver")
	f.Comment("with it.")
	f.Func().Id("NewStorage").Params(jen.Id("store").Op("*").Qual(pginboxPath, "Store")).Op("*").Id("Storage").Block(
		jen.Return(jen.Op("&").Id("Storage").Values(field("store", jen.Id("store")), field("read", g.recvDB("New").Call(jen.Id("store").Dot("Pool").Call())))),
	)

	f.Anon("embed")
	f.Comment("schema creates the tables of the default storage; Migrate runs it.")
	f.Comment("")
	f.Comment("//go:embed internal/pgdb/schema.sql")
	f.Var().Id("schema").String()
	f.Comment("columns lists the field columns, which Migrate adds to tables created")
	f.Comment("before their field was declared.")
	var cols []jen.Code
	for _, mt := range g.m.Metrics {
		for _, fl := range mt.Fields {
			cols = append(cols, jen.Values(
				field("Table", jen.Lit(mt.Recv.Table)),
				field("Name", jen.Lit(fl.Name)),
				field("Definition", jen.Lit(fl.PostgresType)),
			))
		}
	}
	f.Var().Id("columns").Op("=").Index().Add(outbox("Column")).Add(values(cols...))
	f.Comment("Migrate creates or upgrades the store's tables (keys and versions) and the")
	f.Comment("entries' tables, adding the columns of fields declared since they were")
	f.Comment("created. It never drops or changes anything, and is safe to run at every")
	f.Comment("start, from several processes at once.")
	f.Func().Params(jen.Id("s").Op("*").Id("Storage")).Id("Migrate").Params(jen.Id("ctx").Add(ctxT())).Error().Block(
		jen.If(jen.Err().Op(":=").Id("s").Dot("store").Dot("Migrate").Call(jen.Id("ctx")), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
		jen.Return(jen.Id("s").Dot("store").Dot("ApplySchema").Call(jen.Id("ctx"), jen.Id("schema"), jen.Id("columns"))),
	)

	for _, mt := range g.m.Metrics {
		g.emitStorageMetric(f, mt)
	}
	f.Comment("deref returns *p, or the zero value for nil: a column of a field declared")
	f.Comment("required after rows existed is NULL in those rows.")
	f.Func().Id("deref").Types(jen.Id("T").Any()).Params(jen.Id("p").Op("*").Id("T")).Id("T").Block(
		jen.Var().Id("v").Id("T"),
		jen.If(jen.Id("p").Op("!=").Nil()).Block(jen.Id("v").Op("=").Op("*").Id("p")),
		jen.Return(jen.Id("v")),
	)
}

// emitStorageMetric writes Storage's methods for one metric.
func (g *gen) emitStorageMetric(f *jen.File, mt *model.Metric) {
	r, q := mt.Recv, mt.Recv.Queries
	recv := jen.Id("s").Op("*").Id("Storage")
	name := strings.ReplaceAll(mt.Name, "_", " ")
	wrap := func(what string) jen.Code {
		return jen.Qual("fmt", "Errorf").Call(jen.Lit(what+" "+mt.Name+": %w"), jen.Err())
	}

	params := []jen.Code{
		field("ID", jen.Id("e").Dot("ID")),
		field("UserID", jen.Id("e").Dot("UserID")),
		field("RecordedAt", jen.Id("e").Dot("RecordedAt")),
	}
	for _, fl := range mt.Fields {
		params = append(params, field(fl.GoName, toColumn(fl)))
	}
	params = append(params, field("Version", jen.Id("e").Dot("Version")), field("BackendID", jen.Id("c").Dot("BackendID")))
	f.Commentf("%s keeps the %s entry as c leaves it: stored, or removed by a", r.On, name)
	f.Comment("deletion.")
	f.Func().Params(recv.Clone()).Id(r.On).Params(jen.Id("ctx").Add(ctxT()), jen.Id("tx").Qual(pgxPath, "Tx"), jen.Id("c").Id(r.Change)).Error().Block(
		jen.Id("q").Op(":=").Add(g.recvDB("New")).Call(jen.Id("tx")),
		jen.If(jen.Id("c").Dot("Kind").Op("==").Add(inbox("Deleted"))).Block(
			jen.If(jen.Err().Op(":=").Id("q").Dot(q.Delete).Call(jen.Id("ctx"), jen.Id("c").Dot("EntityID")), jen.Err().Op("!=").Nil()).Block(jen.Return(wrap("delete"))),
			jen.Return(jen.Nil()),
		),
		jen.Id("e").Op(":=").Id("c").Dot("Entry"),
		jen.If(jen.Err().Op(":=").Id("q").Dot(q.Upsert).Call(jen.Id("ctx"), g.recvDB(model.Params(q.Upsert)).Add(values(params...))), jen.Err().Op("!=").Nil()).Block(jen.Return(wrap("store"))),
		jen.Return(jen.Nil()),
	)

	zero := jen.Id(r.Entry).Values()
	f.Commentf("%s returns the %s entry with the given id, or ErrNotFound.", r.Get, name)
	f.Func().Params(recv.Clone()).Id(r.Get).Params(jen.Id("ctx").Add(ctxT()), jen.Id("id").Add(uuidT())).Params(jen.Id(r.Entry), jen.Error()).Block(
		jen.List(jen.Id("row"), jen.Err()).Op(":=").Id("s").Dot("read").Dot(q.Get).Call(jen.Id("ctx"), jen.Id("id")),
		jen.If(jen.Qual("errors", "Is").Call(jen.Err(), jen.Qual(pgxPath, "ErrNoRows"))).Block(jen.Return(zero.Clone(), jen.Id("ErrNotFound"))),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(zero.Clone(), wrap("get"))),
		jen.Return(jen.Id(r.FromRow).Call(jen.Id("row")), jen.Nil()),
	)
	f.Commentf("%s returns up to limit %s entries of a user, oldest recorded first.", r.List, name)
	f.Func().Params(recv.Clone()).Id(r.List).Params(jen.Id("ctx").Add(ctxT()), jen.Id("userID").String(), jen.Id("limit").Int()).Params(jen.Index().Id(r.Entry), jen.Error()).Block(
		jen.List(jen.Id("rows"), jen.Err()).Op(":=").Id("s").Dot("read").Dot(q.List).Call(jen.Id("ctx"), g.recvDB(model.Params(q.List)).Values(
			field("UserID", jen.Id("userID")), field("MaxRows", jen.Int32().Call(jen.Id("limit"))),
		)),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), wrap("list"))),
		jen.Id("out").Op(":=").Make(jen.Index().Id(r.Entry), jen.Len(jen.Id("rows"))),
		jen.For(jen.List(jen.Id("i"), jen.Id("row")).Op(":=").Range().Id("rows")).Block(
			jen.Id("out").Index(jen.Id("i")).Op("=").Id(r.FromRow).Call(jen.Id("row")),
		),
		jen.Return(jen.Id("out"), jen.Nil()),
	)

	fields := []jen.Code{
		field("ID", jen.Id("r").Dot("ID")),
		field("UserID", jen.Id("r").Dot("UserID")),
		field("RecordedAt", jen.Id("r").Dot("RecordedAt").Dot("UTC").Call()),
	}
	for _, fl := range mt.Fields {
		fields = append(fields, field(fl.GoName, g.fromColumn(fl)))
	}
	fields = append(fields,
		field("Version", jen.Id("r").Dot("Version")),
		field("BackendID", jen.Id("r").Dot("BackendID")),
		field("CreatedAt", jen.Id("r").Dot("CreatedAt").Dot("UTC").Call()),
		field("UpdatedAt", jen.Id("r").Dot("UpdatedAt").Dot("UTC").Call()),
	)
	f.Commentf("%s turns a row into an entry.", r.FromRow)
	f.Func().Id(r.FromRow).Params(jen.Id("r").Add(g.recvDB(r.Row))).Id(r.Entry).Block(
		jen.Return(jen.Id(r.Entry).Add(values(fields...))),
	)
}

// toColumn converts the field of payload e to its (nullable) column.
func toColumn(fl *model.Field) jen.Code {
	v := jen.Id("e").Dot(fl.GoName)
	if fl.Required {
		v = jen.Op("&").Add(v)
	}
	if fl.Type == spec.Enum {
		return jen.Parens(jen.Op("*").String()).Call(v)
	}
	return v
}

// fromColumn converts column r.<Field> to an entry's field.
func (g *gen) fromColumn(fl *model.Field) jen.Code {
	col := jen.Id("r").Dot(fl.GoName)
	switch {
	case fl.Type == spec.Enum && fl.Required:
		return g.wireOf(fl.EnumType).Call(jen.Id("deref").Call(col))
	case fl.Type == spec.Enum:
		return jen.Parens(jen.Op("*").Add(g.wireOf(fl.EnumType))).Call(col)
	case fl.Required:
		return jen.Id("deref").Call(col)
	}
	return col
}
