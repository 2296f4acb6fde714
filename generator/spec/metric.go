package spec

import (
	"fmt"
	"math"
	"strings"

	"go.yaml.in/yaml/v3"
)

// metrics reads the metrics mapping, in file order.
func (w *walker) metrics(n *yaml.Node, def settings) []Metric {
	if n.Kind != yaml.MappingNode {
		w.errorf(n, "metrics must be a mapping of metric names to metric definitions, got %s", got(n))
		return nil
	}
	entries := w.named(n, "metric", "")
	if len(entries) == 0 && len(n.Content) == 0 {
		w.errorf(n, "metrics is empty; declare at least one metric")
		return nil
	}
	var ms []Metric
	for _, e := range entries {
		w.checkName(e.key, "metric", "")
		ms = append(ms, w.metric(e.key, e.value, def))
	}
	return ms
}

// metric reads one metric; settings it leaves out come from def.
func (w *walker) metric(key, n *yaml.Node, def settings) Metric {
	name := key.Value
	s := scope{owner: fmt.Sprintf("metric %s", show(name))}
	o := w.object(key, n, s, metricKeys, "a mapping with the metric's fields and settings")
	m := Metric{Name: name, Pos: pos(key)}
	if v := o.get("description"); v != nil {
		m.Description, _ = w.text(v, s.of("description"), maxDescriptionLen)
	}
	if v := o.get("unit"); v != nil {
		m.Unit, _ = w.text(v, s.of("unit"), maxUnitLen)
	}
	if v := o.require("fields", `add at least one field, like "fields: {value: {type: float}}"`); v != nil {
		m.Fields = w.fields(v, s)
	}

	set := def
	w.common(o, &set)
	m.Priority, m.MaxAttempts, m.Backoff, m.Dedupe = set.priority, set.maxAttempts, set.backoff, set.dedupe

	m.Events = w.events(key, o.get("events"), s.child("events"), name)
	m.Route = defaultRoute(def.routePrefix, name)
	if v := o.get("route"); v != nil {
		m.Route, _ = w.route(v, s.of("route"))
	}
	return m
}

// defaultRoute joins a route prefix and a metric name; a prefix of "/"
// gives "/weight", not "//weight".
func defaultRoute(prefix, name string) string {
	return strings.TrimRight(prefix, "/") + "/" + name
}

// fields reads a metric's fields, in file order.
func (w *walker) fields(n *yaml.Node, metric scope) []Field {
	if n.Kind != yaml.MappingNode {
		w.errorf(n, "%s must be a mapping of field names to field definitions, got %s", metric.of("fields"), got(n))
		return nil
	}
	where := " in " + metric.name()
	entries := w.named(n, "field", where)
	if len(entries) == 0 && len(n.Content) == 0 {
		w.errorf(n, "%s is empty; declare at least one field, like \"value: {type: float}\"", metric.of("fields"))
		return nil
	}
	var fs []Field
	for _, e := range entries {
		w.checkName(e.key, "field", where)
		fs = append(fs, w.field(e.key, e.value, metric))
	}
	return fs
}

// field reads one field of the metric in scope metric.
func (w *walker) field(key, n *yaml.Node, metric scope) Field {
	s := scope{owner: fmt.Sprintf("field %s of %s", show(key.Value), metric.name())}
	f := Field{Name: key.Value, Pos: pos(key)}
	if n.Kind == yaml.ScalarNode && isValue(n) {
		// The likeliest slip: "kg: float" for "kg: {type: float}".
		w.errorf(n, "%s must be a mapping like {type: float}, got %s", s.name(), got(n))
		return f
	}
	o := w.object(key, n, s, fieldKeys, "a mapping like {type: float}")
	typeOK := false
	if v := o.require("type", "add one of int, float, string, bool, time, enum"); v != nil {
		var t string
		t, typeOK = w.oneOf(v, s.of("type"), strs(allFieldTypes))
		f.Type = FieldType(t)
	}
	if v := o.get("required"); v != nil {
		f.Required, _ = w.boolean(v, s.of("required"))
	}
	if v := o.get("description"); v != nil {
		f.Description, _ = w.text(v, s.of("description"), maxDescriptionLen)
	}
	if !typeOK {
		// Which of the other keys belong depends on the type; with no
		// type, any judgement would be a guess.
		return f
	}
	w.bounds(o, &f)
	w.maxLength(o, &f)
	w.enumValues(o, &f)
	return f
}

// maxSafeInt is the largest whole number a float64 bound holds exactly;
// int bounds beyond it would not mean what they say.
const maxSafeInt = 1 << 53

// bounds reads min and max, which only numbers have.
func (w *walker) bounds(o *object, f *Field) {
	s := o.scope
	numeric := f.Type == Int || f.Type == Float
	read := func(key string) *float64 {
		v := o.get(key)
		if v == nil {
			return nil
		}
		if !numeric {
			w.errorf(o.key(key), "%s only applies to int and float fields, but %s is %s; remove it", key, s.name(), article(f.Type))
			return nil
		}
		x, ok := w.number(v, s.of(key))
		if !ok {
			return nil
		}
		if f.Type == Int && (x != math.Trunc(x) || math.Abs(x) > maxSafeInt) {
			w.errorf(v, "%s must be a whole number, since the field is an int, got %s", s.of(key), got(v))
			return nil
		}
		return &x
	}
	f.Min, f.Max = read("min"), read("max")
	if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
		w.errorf(o.get("min"), "%s has min %s, more than its max %s; no value could pass, swap them",
			s.name(), got(o.get("min")), got(o.get("max")))
		f.Min, f.Max = nil, nil
	}
}

// maxLength reads max_length, which only strings have, and defaults it.
func (w *walker) maxLength(o *object, f *Field) {
	v := o.get("max_length")
	if f.Type != String {
		if v != nil {
			w.errorf(o.key("max_length"), "max_length only applies to string fields, but %s is %s; remove it", o.scope.name(), article(f.Type))
		}
		return
	}
	f.MaxLength = DefaultMaxLength
	if v != nil {
		if n, ok := w.wholeNumber(v, o.scope.of("max_length"), 1, maxStringLength); ok {
			f.MaxLength = n
		}
	}
}

// enumValues reads values, which enums must have and nothing else may.
func (w *walker) enumValues(o *object, f *Field) {
	s := o.scope
	v := o.get("values")
	if f.Type != Enum {
		if v != nil {
			w.errorf(o.key("values"), "values only applies to enum fields, but %s is %s; remove it or make the type enum", s.name(), article(f.Type))
		}
		return
	}
	v = o.require("values", `list the allowed values, like "values: [low, high]"`)
	if v == nil {
		return
	}
	items, ok := w.list(v, s.of("values"), "[low, high]")
	if !ok {
		return
	}
	if len(items) == 0 {
		w.errorf(v, "%s is empty; list at least one allowed value", s.of("values"))
		return
	}
	first := map[string]*yaml.Node{}
	for _, item := range items {
		val, ok := w.text(item, "each value of "+s.name(), 0)
		if !ok {
			continue
		}
		if !enumValueRE.MatchString(val) || len(val) > maxNameLen {
			w.errorf(item, "%s", enumValueProblem(val, s))
			continue
		}
		if prev, dup := first[val]; dup {
			w.errorf(item, "%s lists %s twice (first on line %d); remove one", s.of("values"), show(val), prev.Line)
			continue
		}
		first[val] = item
		f.Values = append(f.Values, val)
	}
}

// article words a field type for a sentence: "an int", "a string".
func article(t FieldType) string {
	switch t {
	case Int, Enum:
		return "an " + string(t)
	}
	return "a " + string(t)
}

// enumValueProblem words what is wrong with an enum value, suggesting a
// fixed one where it is obvious.
func enumValueProblem(val string, field scope) string {
	msg := fmt.Sprintf(`value %s of %s must start with a lowercase letter and use only lowercase letters, digits and "_", at most %d of them`,
		show(val), field.name(), maxNameLen)
	if fixed := snakeCase(val); fixed != val && enumValueRE.MatchString(fixed) && len(fixed) <= maxNameLen {
		return msg + fmt.Sprintf("; try %q", fixed)
	}
	return msg
}
