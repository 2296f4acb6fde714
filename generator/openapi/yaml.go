package openapi

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A small builder of YAML nodes: a document is written in the order it is
// built, so the output is deterministic and reads in a sensible order.

// object is a mapping; pairs alternate keys (strings) and values.
func object(pairs ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(pairs); i += 2 {
		n.Content = append(n.Content, str(pairs[i].(string)), value(pairs[i+1]))
	}
	return n
}

// add appends a key and value to an object.
func add(n *yaml.Node, key string, v any) {
	n.Content = append(n.Content, str(key), value(v))
}

// list is a sequence.
func list[T any](items ...T) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for _, v := range items {
		n.Content = append(n.Content, value(v))
	}
	return n
}

// flow is a sequence written on one line: [a, b].
func flow[T any](items ...T) *yaml.Node {
	n := list(items...)
	n.Style = yaml.FlowStyle
	return n
}

// yaml11Words read as booleans or null to a YAML 1.1 parser: quoted, so
// that every parser reads them as text.
var yaml11Words = map[string]bool{
	"y": true, "n": true, "yes": true, "no": true, "on": true, "off": true,
	"true": true, "false": true, "null": true, "~": true,
}

// str is a string scalar, quoted when a parser could read it as anything
// else.
func str(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if yaml11Words[strings.ToLower(s)] {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func value(v any) *yaml.Node {
	switch v := v.(type) {
	case *yaml.Node:
		return v
	case string:
		return str(v)
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v)}
	case int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v, 10)}
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return value(int64(v))
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(v, 'g', -1, 64)}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	}
	panic(fmt.Sprintf("openapi: no YAML for %T", v))
}

// ref is a JSON reference to a component.
func ref(kind, name string) *yaml.Node {
	return object("$ref", "#/components/"+kind+"/"+name)
}
