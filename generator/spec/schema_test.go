package spec

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestSchemaMatchesLoader keeps metrics.schema.json and the loader's key
// tables (keys.go) in step: a key added to one and not the other fails
// here, naming the key.
func TestSchemaMatchesLoader(t *testing.T) {
	schema := parseSchema(t)
	defs, _ := schema["$defs"].(map[string]any)
	objects := []struct {
		name   string
		schema any
		keys   []string
	}{
		{"top level", schema, topKeys},
		{"package", defs["package"], packageKeys},
		{"defaults", defs["defaults"], defaultsKeys},
		{"backoff", defs["backoff"], backoffKeys},
		{"dedupe", defs["dedupe"], dedupeKeys},
		{"metric", defs["metric"], metricKeys},
		{"field", defs["field"], fieldKeys},
		{"events", defs["events"], eventsKeys},
	}
	for _, o := range objects {
		obj := objectSchema(o.schema)
		if obj == nil {
			t.Errorf("schema: no object schema for %s", o.name)
			continue
		}
		if obj["additionalProperties"] != false {
			t.Errorf("schema: %s must set additionalProperties to false, as the loader rejects unknown keys", o.name)
		}
		props, _ := obj["properties"].(map[string]any)
		for _, k := range o.keys {
			if _, ok := props[k]; !ok {
				t.Errorf("schema: %s has no property %q, which the loader accepts; add it to metrics.schema.json", o.name, k)
			}
		}
		for k := range props {
			if !slices.Contains(o.keys, k) {
				t.Errorf("schema: %s has property %q, which the loader rejects; add it to keys.go (and the loader) or remove it from the schema", o.name, k)
			}
		}
	}

	enums := []struct {
		name   string
		schema any
		values []string
	}{
		{"field type", lookup(defs, "field", "properties", "type"), strs(allFieldTypes)},
		{"dedupe window", defs["window"], strs(allWindows)},
		{"dialect", defs["dialect"], strs(allDialects)},
	}
	for _, e := range enums {
		m, _ := e.schema.(map[string]any)
		got := fmt.Sprint(m["enum"])
		if want := fmt.Sprint(e.values); got != want {
			t.Errorf("schema: %s enum is %s, the loader's is %s", e.name, got, want)
		}
	}

	for _, path := range [][]string{{"properties", "metrics"}, {"$defs", "metric", "properties", "fields"}} {
		pp, _ := lookup(schema, path...).(map[string]any)["patternProperties"].(map[string]any)
		if _, ok := pp[namePattern]; !ok || len(pp) != 1 {
			t.Errorf("schema: %s must have exactly one patternProperties entry, the loader's name pattern %s", strings.Join(path, "."), namePattern)
		}
	}
}

// TestSchemaDescribed checks that every property in the schema has a
// description (editors show it while typing) and that every $ref resolves.
func TestSchemaDescribed(t *testing.T) {
	schema := parseSchema(t)
	defs, _ := schema["$defs"].(map[string]any)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			// Conditional subschemas (allOf's if/then/else) only narrow
			// properties described where they are declared.
			if props, ok := v["properties"].(map[string]any); ok && !strings.Contains(path, ".allOf") {
				for name, p := range props {
					if pm, _ := p.(map[string]any); pm["description"] == nil {
						t.Errorf("schema: property %s.properties.%s has no description", path, name)
					}
				}
			}
			if ref, ok := v["$ref"].(string); ok {
				if _, found := defs[strings.TrimPrefix(ref, "#/$defs/")]; !found {
					t.Errorf("schema: %s refers to %s, which does not exist", path, ref)
				}
			}
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(path+"."+k, v[k])
			}
		case []any:
			for i, item := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), item)
			}
		}
	}
	walk("#", schema)
}

func parseSchema(t *testing.T) map[string]any {
	t.Helper()
	var schema map[string]any
	if err := json.Unmarshal(Schema, &schema); err != nil {
		t.Fatalf("metrics.schema.json is not valid JSON: %v", err)
	}
	if schema["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("schema: $schema is %v, want draft 2020-12", schema["$schema"])
	}
	return schema
}

// objectSchema returns the schema that describes v as an object: v itself,
// or the alternative of an anyOf or oneOf that has properties (dedupe may
// also be written as a bare window).
func objectSchema(v any) map[string]any {
	m, _ := v.(map[string]any)
	if m == nil {
		return nil
	}
	if _, ok := m["properties"]; ok {
		return m
	}
	for _, alt := range []string{"anyOf", "oneOf"} {
		list, _ := m[alt].([]any)
		for _, a := range list {
			if o := objectSchema(a); o != nil {
				return o
			}
		}
	}
	return nil
}

// lookup follows keys through nested JSON objects; nil if any is missing.
func lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}
