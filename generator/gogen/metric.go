package gogen

import (
	"fmt"
	"strings"
	"time"

	"github.com/dave/jennifer/jen"

	"github.com/outboxgen/outboxgen/generator/model"
	"github.com/outboxgen/outboxgen/generator/spec"
)

// emitMetric writes <metric>.go: everything about one metric that does not
// depend on the database.
func (g *gen) emitMetric(mt *model.Metric) {
	f := g.file(mt.File)
	g.emitEntity(f, mt)
	for _, fl := range mt.Fields {
		if fl.Type == spec.Enum {
			g.emitEnumAlias(f, mt, fl)
		}
	}
	g.emitInput(f, mt)
	g.emitPayloadAlias(f, mt)
	emitEvent(f, mt)
	g.emitRepository(f, mt)
	emitUseCase(f, mt)
}

// fieldType is the Go type of a field's value in an entity.
func fieldType(fl *model.Field) *jen.Statement {
	t := baseType(fl)
	if !fl.Required {
		return jen.Op("*").Add(t)
	}
	return t
}

func baseType(fl *model.Field) *jen.Statement {
	switch fl.Type {
	case spec.Int:
		return jen.Int64()
	case spec.Float:
		return jen.Float64()
	case spec.Bool:
		return jen.Bool()
	case spec.Time:
		return timeT()
	case spec.Enum:
		return jen.Id(fl.EnumType)
	default:
		return jen.String()
	}
}

// commented adds a trailing comment to s unless text is empty.
func commented(s *jen.Statement, text string) *jen.Statement {
	if text == "" {
		return s
	}
	if strings.HasPrefix(text, "/") {
		// jennifer writes a comment starting with // or /* as it is, and a
		// description may start so: "/* …" would open a block comment.
		text = " " + text
	}
	return s.Comment(text)
}

func fieldComment(fl *model.Field) string {
	text := strings.TrimSuffix(fl.Description, ".")
	if text == "" {
		text = boundsText(fl)
	}
	if !fl.Required {
		if text == "" {
			return "optional"
		}
		text += " (optional)"
	}
	return text
}

func (g *gen) emitEntity(f *jen.File, mt *model.Metric) {
	doc := fmt.Sprintf("%s is one %s entry.", mt.GoName, strings.ReplaceAll(mt.Name, "_", " "))
	if mt.Description != "" {
		doc += " " + mt.Description
	}
	if mt.Unit != "" {
		doc += " Unit: " + mt.Unit + "."
	}
	f.Comment(doc)
	fields := []jen.Code{
		jen.Id("ID").Add(uuidT()).Comment("local id, also the id of its events' entity"),
		jen.Id("UserID").String(),
		jen.Id("RecordedAt").Add(timeT()),
	}
	for _, fl := range mt.Fields {
		fields = append(fields, commented(jen.Id(fl.GoName).Add(fieldType(fl)), fieldComment(fl)))
	}
	fields = append(fields,
		jen.Id("Version").Int64().Comment("counts the entry's changes, from 1"),
		jen.Id("BackendID").Op("*").String().Comment("the backend's id, once it has answered with one"),
		jen.Id("SyncStatus").Id("SyncStatus"),
		jen.Id("CreatedAt").Add(timeT()),
		jen.Id("UpdatedAt").Add(timeT()),
	)
	f.Type().Id(mt.GoName).Struct(fields...)
}

func emitEnum(f *jen.File, mt *model.Metric, fl *model.Field) {
	f.Commentf("%s is a value of %s's %s field.", fl.EnumType, mt.Name, fl.Name)
	f.Type().Id(fl.EnumType).String()
	defs := []jen.Code{}
	cases := []jen.Code{}
	for _, v := range fl.Values {
		defs = append(defs, jen.Id(v.GoName).Id(fl.EnumType).Op("=").Lit(v.Value))
		cases = append(cases, jen.Id(v.GoName))
	}
	f.Const().Defs(defs...)
	f.Commentf("Valid reports whether v is one of the declared %s values.", fl.Name)
	f.Func().Params(jen.Id("v").Id(fl.EnumType)).Id("Valid").Params().Bool().Block(
		jen.Switch(jen.Id("v")).Block(jen.Case(cases...).Block(jen.Return(jen.True()))),
		jen.Return(jen.False()),
	)
}

// emitEnumAlias declares an enum of the wire package, and its values, in
// the metrics package.
func (g *gen) emitEnumAlias(f *jen.File, mt *model.Metric, fl *model.Field) {
	f.Commentf("%s is a value of %s's %s field (%s).", fl.EnumType, mt.Name, fl.Name, g.wireName(fl.EnumType))
	f.Type().Id(fl.EnumType).Op("=").Add(g.wireOf(fl.EnumType))
	f.Commentf("The values of %s.", fl.EnumType)
	defs := []jen.Code{}
	for _, v := range fl.Values {
		defs = append(defs, jen.Id(v.GoName).Op("=").Add(g.wireOf(v.GoName)))
	}
	f.Const().Defs(defs...)
}

// emitPayloadAlias declares the wire package's payload in the metrics
// package.
func (g *gen) emitPayloadAlias(f *jen.File, mt *model.Metric) {
	f.Commentf("%s is the body of %s and %s events (%s).", mt.Payload, mt.Events.Created, mt.Events.Updated, g.wireName(mt.Payload))
	f.Type().Id(mt.Payload).Op("=").Add(g.wireOf(mt.Payload))
}

// emitPayload writes a metric's payload type, in the wire package.
func emitPayload(f *jen.File, mt *model.Metric) {
	f.Commentf("%s is the body of %s and %s events, payload version %d.",
		mt.Payload, mt.Events.Created, mt.Events.Updated, mt.Events.PayloadVersion)
	fields := []jen.Code{
		jen.Id("PayloadVersion").Int().Tag(map[string]string{"json": "payload_version"}),
		jen.Id("ID").Add(uuidT()).Tag(map[string]string{"json": "id"}),
		jen.Id("UserID").String().Tag(map[string]string{"json": "user_id"}),
		jen.Id("RecordedAt").Add(timeT()).Tag(map[string]string{"json": "recorded_at"}),
	}
	for _, fl := range mt.Fields {
		fields = append(fields, jen.Id(fl.GoName).Add(fieldType(fl)).Tag(map[string]string{"json": fl.Name}))
	}
	fields = append(fields,
		jen.Id("Version").Int64().Tag(map[string]string{"json": "version"}),
		jen.Id("BackendID").Op("*").String().Tag(map[string]string{"json": "backend_id"}),
	)
	f.Type().Id(mt.Payload).Struct(fields...)
}

// emitEvent writes the method making an entry's outbox event.
func emitEvent(f *jen.File, mt *model.Metric) {
	payload := []jen.Code{
		field("PayloadVersion", jen.Lit(mt.Events.PayloadVersion)),
		field("ID", jen.Id("e").Dot("ID")),
		field("UserID", jen.Id("e").Dot("UserID")),
		field("RecordedAt", jen.Id("e").Dot("RecordedAt")),
	}
	for _, fl := range mt.Fields {
		payload = append(payload, field(fl.GoName, jen.Id("e").Dot(fl.GoName)))
	}
	payload = append(payload, field("Version", jen.Id("e").Dot("Version")), field("BackendID", jen.Id("e").Dot("BackendID")))
	f.Comment("event returns the outbox event announcing e's latest change.")
	f.Func().Params(jen.Id("e").Id(mt.GoName)).Id("event").Params(jen.Id("eventType").String()).Params(outbox("Event"), jen.Error()).Block(
		jen.Var().Id("payload").Any().Op("=").Id(mt.Payload).Add(values(payload...)),
		jen.If(jen.Id("eventType").Op("==").Id(mt.Events.DeletedConst)).Block(
			jen.Id("payload").Op("=").Id("DeletedPayload").Add(values(
				field("PayloadVersion", jen.Lit(mt.Events.PayloadVersion)),
				field("Metric", jen.Lit(mt.Name)),
				field("ID", jen.Id("e").Dot("ID")),
				field("UserID", jen.Id("e").Dot("UserID")),
				field("Version", jen.Id("e").Dot("Version")),
				field("BackendID", jen.Id("e").Dot("BackendID")),
				field("DeletedAt", jen.Id("e").Dot("UpdatedAt")),
			)),
		),
		jen.List(jen.Id("body"), jen.Err()).Op(":=").Qual("encoding/json", "Marshal").Call(jen.Id("payload")),
		jen.If(jen.Err().Op("!=").Nil()).Block(
			jen.Return(outbox("Event").Values(), jen.Qual("fmt", "Errorf").Call(jen.Lit("encode %s payload: %w"), jen.Id("eventType"), jen.Err())),
		),
		jen.Return(outbox("Event").Add(values(
			field("Type", jen.Id("eventType")),
			field("Aggregate", jen.Lit(mt.Name)),
			field("AggregateID", jen.Id("e").Dot("ID").Dot("String").Call()),
			field("UserID", jen.Id("e").Dot("UserID")),
			field("IsNewRecord", jen.Id("e").Dot("BackendID").Op("==").Nil()),
			field("EntityVersion", jen.Id("e").Dot("Version")),
			field("Payload", jen.Id("body")),
			field("Priority", jen.Lit(mt.Priority)),
			field("MaxAttempts", jen.Lit(mt.MaxAttempts)),
		)), jen.Nil()),
	)
}

func (g *gen) emitRepository(f *jen.File, mt *model.Metric) {
	repo := mt.Repository
	store := mt.Store
	f.Commentf("%s stores %s entries. Every change it writes enqueues its outbox", repo, strings.ReplaceAll(mt.Name, "_", " "))
	f.Comment("event in the same transaction; there is no other way to write them.")
	f.Type().Id(repo).Struct(
		jen.Id("db").Id(store),
		jen.Id("cfg").Op("*").Id("config"),
	)
	f.Commentf("%s is where %s entries live; each dialect implements it.", store, mt.Name)
	f.Type().Id(store).Interface(
		jen.Comment("save inserts e, or updates the entry in its dedupe bucket, with its event."),
		jen.Id("save").Params(jen.Id("ctx").Add(ctxT()), jen.Id("e").Id(mt.GoName), jen.Id("bucket").String()).Params(jen.Id(mt.GoName), jen.Error()),
		jen.Id("get").Params(jen.Id("ctx").Add(ctxT()), jen.Id("id").Add(uuidT())).Params(jen.Id(mt.GoName), jen.Error()),
		jen.Id("list").Params(jen.Id("ctx").Add(ctxT()), jen.Id("f").Id("ListFilter")).Params(jen.Index().Id(mt.GoName), jen.Error()),
		jen.Comment("delete marks the entry deleted, with its tombstone event."),
		jen.Id("delete").Params(jen.Id("ctx").Add(ctxT()), jen.Id("id").Add(uuidT()), jen.Id("now").Add(timeT())).Error(),
		jen.Id("countBySyncStatus").Params(jen.Id("ctx").Add(ctxT())).Params(jen.Map(jen.Id("SyncStatus")).Int64(), jen.Error()),
	)

	entity := []jen.Code{
		field("ID", jen.Id("id")),
		field("UserID", jen.Id("user")),
		field("RecordedAt", jen.Id("recorded")),
	}
	for _, fl := range mt.Fields {
		entity = append(entity, field(fl.GoName, jen.Id("in").Dot(fl.GoName)))
	}
	entity = append(entity, field("CreatedAt", jen.Id("now")), field("UpdatedAt", jen.Id("now")))
	f.Commentf("Save validates in and saves it with its outbox event (%s or", mt.Events.Created)
	f.Commentf("%s) in one transaction. %s", mt.Events.Updated, dedupeDoc(mt))
	f.Func().Params(jen.Id("r").Op("*").Id(repo)).Id("Save").Params(jen.Id("ctx").Add(ctxT()), jen.Id("in").Id(mt.Input)).Params(jen.Id(mt.GoName), jen.Error()).Block(
		jen.If(jen.Err().Op(":=").Id("in").Dot("Validate").Call(), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Id(mt.GoName).Values(), jen.Err())),
		jen.List(jen.Id("user"), jen.Err()).Op(":=").Id("r").Dot("cfg").Dot("user").Call(jen.Id("ctx"), jen.Id("in").Dot("UserID")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Id(mt.GoName).Values(), jen.Err())),
		// A resolved user id has not been through Validate.
		jen.If(jen.Err().Op(":=").Add(g.wireOf("CheckUserID")).Call(jen.Lit(mt.Name), jen.Id("user")), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Id(mt.GoName).Values(), jen.Err())),
		jen.List(jen.Id("id"), jen.Err()).Op(":=").Qual(uuidPath, "NewV7").Call(),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Id(mt.GoName).Values(), jen.Qual("fmt", "Errorf").Call(jen.Lit("new "+mt.Name+" id: %w"), jen.Err()))),
		jen.List(jen.Id("recorded"), jen.Id("now")).Op(":=").Id("r").Dot("cfg").Dot("stamp").Call(jen.Id("in").Dot("RecordedAt")),
		jen.Id("e").Op(":=").Id(mt.GoName).Add(values(entity...)),
		jen.Return(jen.Id("r").Dot("db").Dot("save").Call(jen.Id("ctx"), jen.Id("e"), bucketExpr(mt, jen.Id("recorded"), jen.Id("id")))),
	)
	f.Commentf("Get returns the %s entry with the given id, or ErrNotFound.", mt.Name)
	f.Func().Params(jen.Id("r").Op("*").Id(repo)).Id("Get").Params(jen.Id("ctx").Add(ctxT()), jen.Id("id").Add(uuidT())).Params(jen.Id(mt.GoName), jen.Error()).Block(
		jen.Return(jen.Id("r").Dot("db").Dot("get").Call(jen.Id("ctx"), jen.Id("id"))),
	)
	f.Commentf("List returns the %s entries f selects, oldest recorded first.", mt.Name)
	f.Func().Params(jen.Id("r").Op("*").Id(repo)).Id("List").Params(jen.Id("ctx").Add(ctxT()), jen.Id("f").Id("ListFilter")).Params(jen.Index().Id(mt.GoName), jen.Error()).Block(
		jen.Return(jen.Id("r").Dot("db").Dot("list").Call(jen.Id("ctx"), jen.Id("f"))),
	)
	f.Commentf("Delete marks the entry deleted and enqueues its %s tombstone event;", mt.Events.Deleted)
	f.Comment("it returns ErrNotFound if there is no such entry.")
	f.Func().Params(jen.Id("r").Op("*").Id(repo)).Id("Delete").Params(jen.Id("ctx").Add(ctxT()), jen.Id("id").Add(uuidT())).Error().Block(
		jen.List(jen.Id("_"), jen.Id("now")).Op(":=").Id("r").Dot("cfg").Dot("stamp").Call(jen.Qual("time", "Time").Values()),
		jen.Return(jen.Id("r").Dot("db").Dot("delete").Call(jen.Id("ctx"), jen.Id("id"), jen.Id("now"))),
	)
	f.Comment("CountBySyncStatus counts the entries by sync status.")
	f.Func().Params(jen.Id("r").Op("*").Id(repo)).Id("CountBySyncStatus").Params(jen.Id("ctx").Add(ctxT())).Params(jen.Map(jen.Id("SyncStatus")).Int64(), jen.Error()).Block(
		jen.Return(jen.Id("r").Dot("db").Dot("countBySyncStatus").Call(jen.Id("ctx"))),
	)
}

// dedupeDoc says in a sentence what a save does to an earlier entry.
func dedupeDoc(mt *model.Metric) string {
	switch mt.Window {
	case spec.WindowNone:
		return "Every save adds an entry."
	case spec.WindowExact:
		return "An entry of the same user recorded at the same instant is updated in place."
	case spec.WindowMinute:
		return "An entry of the same user in the same minute is updated in place."
	default:
		return fmt.Sprintf("An entry of the same user in the same %s (%s) is updated in place.", mt.Window, mt.TimeZone)
	}
}

func emitUseCase(f *jen.File, mt *model.Metric) {
	f.Commentf("%s is the use case of logging %s: it validates the input, resolves", mt.UseCase, article(strings.ReplaceAll(mt.Name, "_", " ")))
	f.Comment("the user, saves the entry with its outbox event, and returns the entry's")
	f.Comment("local id. Delivery to the backend follows from the outbox.")
	f.Func().Params(jen.Id("m").Op("*").Id("Metrics")).Id(mt.UseCase).Params(jen.Id("ctx").Add(ctxT()), jen.Id("in").Id(mt.Input)).Params(uuidT(), jen.Error()).Block(
		jen.List(jen.Id("e"), jen.Err()).Op(":=").Id("m").Dot(mt.GoName).Dot("Save").Call(jen.Id("ctx"), jen.Id("in")),
		jen.Return(jen.Id("e").Dot("ID"), jen.Err()),
	)
}

func article(noun string) string {
	if strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an " + noun + " entry"
	}
	return "a " + noun + " entry"
}

// durationLit writes d the way a person would: 30 * time.Second.
func durationLit(d time.Duration) jen.Code {
	units := []struct {
		unit time.Duration
		name string
	}{{time.Hour, "Hour"}, {time.Minute, "Minute"}, {time.Second, "Second"}, {time.Millisecond, "Millisecond"}}
	for _, u := range units {
		if d%u.unit == 0 {
			if d == u.unit {
				return jen.Qual("time", u.name)
			}
			return jen.Lit(int(d/u.unit)).Op("*").Qual("time", u.name)
		}
	}
	return jen.Qual("time", "Duration").Call(jen.Lit(int64(d)))
}
