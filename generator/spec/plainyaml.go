package spec

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// plainYAML reports the YAML features the format leaves out: anchors and
// aliases (which also rules out alias bombs), merge keys and tags. Each is a
// way to write a spec whose meaning is not visible where you read it.
func (w *walker) plainYAML(root *yaml.Node) {
	type anchor struct {
		node    *yaml.Node
		aliases int
	}
	var anchors []*anchor
	byName := map[string]*anchor{}
	var visit func(n *yaml.Node)
	visit = func(n *yaml.Node) {
		if n.Anchor != "" {
			a := &anchor{node: n}
			anchors = append(anchors, a)
			byName[n.Anchor] = a
		}
		if n.Style&yaml.TaggedStyle != 0 {
			w.errorf(n, `YAML tags (words starting with "!") are not supported; remove the tag and write a plain value`)
		}
		if n.Kind == yaml.AliasNode {
			// Never follow n.Alias: that is how an alias bomb explodes.
			if a := byName[n.Value]; a != nil {
				a.aliases++
			}
			return
		}
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 && c.Kind == yaml.ScalarNode && c.Tag == "!!merge" {
				w.errorf(c, `merge keys ("<<") are not supported; write the keys out in full`)
			}
			visit(c)
		}
	}
	visit(root)
	for _, a := range anchors {
		name := a.node.Anchor
		if a.aliases == 0 {
			w.errorf(a.node, "anchors are not supported; remove the anchor %q", "&"+name)
			continue
		}
		w.errorf(a.node, "anchors and aliases are not supported; remove the anchor %q and write its value out in full at the %s %q",
			"&"+name, plural(a.aliases, "place that uses", "places that use"), "*"+name)
	}
}

// plural returns "1 place" or "3 places".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
