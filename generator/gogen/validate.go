package gogen

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/outboxgen/outboxgen/generator/model"
	"github.com/outboxgen/outboxgen/generator/spec"
)

// Validation: what a save checks before it touches the database. Beside
// the spec's own rules (required, bounds, lengths, enums), it refuses what
// one of the databases, or the JSON of the payload, would refuse, so that
// a value fails alike on SQLite and PostgreSQL, with a *ValidationError
// naming the field, instead of as a database error on one of them.

// maxUserIDBytes bounds user ids (see model.MaxUserIDBytes).
const maxUserIDBytes = model.MaxUserIDBytes

// emitLimits writes the checks every metric's validation shares.
func (g *gen) emitLimits(f *jen.File) {
	f.Comment("MaxUserIDBytes is the longest user id a save accepts, in bytes. User ids")
	f.Comment("are indexed, and PostgreSQL refuses index entries of more than about 2.7 kB.")
	f.Const().Id("MaxUserIDBytes").Op("=").Lit(maxUserIDBytes)

	invalid := func(name jen.Code, sentinel, detail string) jen.Code {
		return jen.Return(jen.Op("&").Id("ValidationError").Add(values(
			field("Metric", jen.Id("metric")),
			field("Field", name),
			field("Err", jen.Id(sentinel)),
			field("Detail", jen.Lit(detail)),
		)))
	}
	f.Comment("CheckUserID says what is wrong with a user id of metric, if anything: the")
	f.Comment("databases keep it as text in an index.")
	f.Func().Id("CheckUserID").Params(jen.List(jen.Id("metric"), jen.Id("id")).String()).Error().Block(
		jen.If(jen.Len(jen.Id("id")).Op(">").Id("MaxUserIDBytes")).Block(
			invalid(jen.Lit("user_id"), "ErrTooLong", fmt.Sprintf("must be at most %d bytes", maxUserIDBytes))),
		jen.If(jen.Op("!").Qual("unicode/utf8", "ValidString").Call(jen.Id("id")).Op("||").Qual("strings", "ContainsRune").Call(jen.Id("id"), jen.Lit(0))).Block(
			invalid(jen.Lit("user_id"), "ErrNotAllowed", "must be UTF-8 text without NUL characters")),
		jen.Return(jen.Nil()),
	)

	f.Comment("minTime and maxTime bound the times an entry holds. Payloads carry them")
	f.Comment("as JSON, whose timestamps have four-digit years; a day inside each end keeps")
	f.Comment("every time zone's reading of them between years 1 and 9999.")
	f.Var().Defs(
		jen.Id("minTime").Op("=").Qual("time", "Date").Call(jen.Lit(1), jen.Qual("time", "January"), jen.Lit(2), jen.Lit(0), jen.Lit(0), jen.Lit(0), jen.Lit(0), jen.Qual("time", "UTC")),
		jen.Id("maxTime").Op("=").Qual("time", "Date").Call(jen.Lit(9999), jen.Qual("time", "December"), jen.Lit(30), jen.Lit(23), jen.Lit(59), jen.Lit(59), jen.Lit(999999999), jen.Qual("time", "UTC")),
	)
	f.Comment("CheckTime says what is wrong with a time of metric's field, if anything.")
	f.Func().Id("CheckTime").Params(jen.List(jen.Id("metric"), jen.Id("field")).String(), jen.Id("t").Add(timeT())).Error().Block(
		jen.If(jen.Id("t").Dot("Before").Call(jen.Id("minTime")).Op("||").Id("t").Dot("After").Call(jen.Id("maxTime"))).Block(
			invalid(jen.Id("field"), "ErrOutOfRange", "must be from 0001-01-02 to 9999-12-30 (UTC)")),
		jen.Return(jen.Nil()),
	)
}

// check appends problem's result to errs, if there is one.
func check(problem jen.Code) jen.Code {
	return jen.If(jen.Err().Op(":=").Add(problem), jen.Err().Op("!=").Nil()).Block(
		jen.Id("errs").Op("=").Append(jen.Id("errs"), jen.Err()),
	)
}

func (g *gen) emitInput(f *jen.File, mt *model.Metric) {
	f.Commentf("%s is what %s records.", mt.Input, mt.UseCase)
	fields := []jen.Code{
		jen.Comment("UserID owns the entry; empty asks the user resolver."),
		jen.Id("UserID").String(),
		jen.Comment("RecordedAt is when the value was measured; zero means now."),
		jen.Id("RecordedAt").Add(timeT()),
	}
	for _, fl := range mt.Fields {
		fields = append(fields, commented(jen.Id(fl.GoName).Add(fieldType(fl)), fieldComment(fl)))
	}
	f.Type().Id(mt.Input).Struct(fields...)

	payload := []jen.Code{}
	for _, fl := range mt.Fields {
		payload = append(payload, field(fl.GoName, jen.Id("in").Dot(fl.GoName)))
	}
	f.Commentf("Validate checks in against the spec of %s, and against what the", mt.Name)
	f.Comment("databases and the event's JSON can hold: its user and time when given, and")
	f.Comment("its fields by the rules the receiver checks payloads with:")
	f.Commentf("%s. It returns every problem found, as", g.wireName(mt.Payload+".ValidateFields"))
	f.Comment("*ValidationError values joined with errors.Join.")
	body := []jen.Code{
		jen.Var().Id("errs").Index().Error(),
		jen.If(jen.Id("in").Dot("UserID").Op("!=").Lit("")).Block(
			check(g.wireOf("CheckUserID").Call(jen.Lit(mt.Name), jen.Id("in").Dot("UserID")))),
		jen.If(jen.Op("!").Id("in").Dot("RecordedAt").Dot("IsZero").Call()).Block(
			check(g.wireOf("CheckTime").Call(jen.Lit(mt.Name), jen.Lit("recorded_at"), jen.Id("in").Dot("RecordedAt")))),
		check(jen.Parens(g.wireOf(mt.Payload).Add(values(payload...))).Dot("ValidateFields").Call()),
		jen.Return(jen.Qual("errors", "Join").Call(jen.Id("errs").Op("..."))),
	}
	f.Func().Params(jen.Id("in").Id(mt.Input)).Id("Validate").Params().Error().Block(body...)
}

// fieldChecks returns the statements validating one field of recv, a
// payload.
func fieldChecks(mt *model.Metric, fl *model.Field, recv string) []jen.Code {
	invalid := func(sentinel, detail string) jen.Code {
		return jen.Id("errs").Op("=").Append(jen.Id("errs"), jen.Op("&").Id("ValidationError").Add(values(
			field("Metric", jen.Lit(mt.Name)),
			field("Field", jen.Lit(fl.Name)),
			field("Err", jen.Id(sentinel)),
			field("Detail", jen.Lit(detail)),
		)))
	}
	// An optional field is checked only when given, through v := in.Field.
	value := func() *jen.Statement { return jen.Id(recv).Dot(fl.GoName) }
	if !fl.Required {
		value = func() *jen.Statement { return jen.Op("*").Id("v") }
	}
	var checks []jen.Code
	switch fl.Type {
	case spec.Int, spec.Float:
		var conds []jen.Code
		if fl.Type == spec.Float {
			conds = append(conds, jen.Qual("math", "IsNaN").Call(value()), jen.Qual("math", "IsInf").Call(value(), jen.Lit(0)))
		}
		if fl.Min != nil {
			conds = append(conds, value().Op("<").Add(numberLit(fl, *fl.Min)))
		}
		if fl.Max != nil {
			conds = append(conds, value().Op(">").Add(numberLit(fl, *fl.Max)))
		}
		if len(conds) > 0 {
			detail := boundsText(fl)
			if detail == "" {
				detail = "must be a finite number"
			}
			checks = append(checks, jen.If(orAll(conds)).Block(invalid("ErrOutOfRange", detail)))
		}
	case spec.String:
		if fl.Required {
			checks = append(checks, jen.If(value().Op("==").Lit("")).Block(invalid("ErrRequired", "is required")))
		}
		checks = append(checks,
			jen.If(jen.Op("!").Qual("unicode/utf8", "ValidString").Call(value())).Block(invalid("ErrNotAllowed", "must be valid UTF-8 text")),
			// PostgreSQL's text cannot hold NUL; SQLite's can, but a value
			// must mean the same on both.
			jen.If(jen.Qual("strings", "ContainsRune").Call(value(), jen.Lit(0))).Block(invalid("ErrNotAllowed", "must not contain NUL characters")),
			jen.If(jen.Qual("unicode/utf8", "RuneCountInString").Call(value()).Op(">").Lit(fl.MaxLength)).Block(
				invalid("ErrTooLong", fmt.Sprintf("must be at most %d %s", fl.MaxLength, plural(fl.MaxLength, "character")))),
		)
	case spec.Enum:
		var names []string
		for _, val := range fl.Values {
			names = append(names, val.Value)
		}
		if fl.Required {
			checks = append(checks, jen.If(value().Op("==").Lit("")).Block(invalid("ErrRequired", "is required")).Else().If(jen.Op("!").Add(value()).Dot("Valid").Call()).Block(
				invalid("ErrNotAllowed", "must be one of "+strings.Join(names, ", "))))
			return checks
		}
		checks = append(checks, jen.If(jen.Op("!").Id("v").Dot("Valid").Call()).Block(invalid("ErrNotAllowed", "must be one of "+strings.Join(names, ", "))))
	case spec.Time:
		inRange := check(jen.Id("CheckTime").Call(jen.Lit(mt.Name), jen.Lit(fl.Name), value()))
		if fl.Required {
			checks = append(checks, jen.If(value().Dot("IsZero").Call()).Block(invalid("ErrRequired", "is required")).Else().Block(inRange))
		} else {
			checks = append(checks, inRange)
		}
	}
	if len(checks) == 0 || fl.Required {
		return checks
	}
	return []jen.Code{jen.If(jen.Id("v").Op(":=").Id(recv).Dot(fl.GoName), jen.Id("v").Op("!=").Nil()).Block(checks...)}
}

// plural is noun, or noun+"s" unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

func orAll(conds []jen.Code) *jen.Statement {
	s := jen.Add(conds[0])
	for _, c := range conds[1:] {
		s = s.Op("||").Add(c)
	}
	return s
}

func numberLit(fl *model.Field, v float64) jen.Code {
	if fl.Type == spec.Int {
		return jen.Lit(int(v))
	}
	return jen.Lit(v)
}

// boundsText describes a numeric field's bounds for messages and docs.
func boundsText(fl *model.Field) string {
	n := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	switch {
	case fl.Min != nil && fl.Max != nil:
		return fmt.Sprintf("must be from %s to %s", n(*fl.Min), n(*fl.Max))
	case fl.Min != nil:
		return "must be at least " + n(*fl.Min)
	case fl.Max != nil:
		return "must be at most " + n(*fl.Max)
	}
	return ""
}
