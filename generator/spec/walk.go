package spec

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// walker walks a spec's YAML tree and collects every problem on the way, so
// that one run shows them all. Each check reports and carries on with a
// sensible value; callers look at errs once, at the end.
type walker struct {
	file string
	errs Errors
	// zones caches time zone lookups, which read the zone database.
	zones map[string]bool
	// eventUses collects every metric's event types, in file order, for
	// the check that each is used once in the whole spec.
	eventUses []eventUse
}

// errorf reports a problem at n.
func (w *walker) errorf(n *yaml.Node, format string, args ...any) {
	w.errs = append(w.errs, &Error{File: w.file, Pos: pos(n), Msg: fmt.Sprintf(format, args...)})
}

// pos is n's position. A missing node counts as the start of the file, so a
// slip in this package costs a vague position, never a panic.
func pos(n *yaml.Node) Pos {
	if n == nil || n.Line < 1 {
		return Pos{Line: 1, Col: 1}
	}
	return Pos{Line: n.Line, Col: max(n.Column, 1)}
}

// scope says where a mapping is in the spec, in the words messages use:
// `metric "weight"`, `backoff of metric "weight"`, `defaults.backoff`.
type scope struct {
	// owner is the named thing the mapping belongs to, e.g. `metric "weight"`;
	// empty for the spec's own keys.
	owner string
	// path is the keys from the owner down to the mapping, e.g. "backoff".
	path string
}

// child is the scope of the mapping under key.
func (s scope) child(key string) scope {
	if s.path != "" {
		key = s.path + "." + key
	}
	return scope{owner: s.owner, path: key}
}

// name is how messages refer to the mapping itself.
func (s scope) name() string {
	switch {
	case s.path == "" && s.owner == "":
		return "the spec"
	case s.path == "":
		return s.owner
	case s.owner == "":
		return s.path
	}
	return s.path + " of " + s.owner
}

// of is how messages refer to the value under key: `priority of metric "weight"`.
func (s scope) of(key string) string { return s.child(key).name() }

// in is how messages say where a key is: `in metric "weight"`.
func (s scope) in() string {
	if s.path == "" && s.owner == "" {
		return "at the top level"
	}
	return "in " + s.name()
}

// entry is one key of a mapping and its value.
type entry struct{ key, value *yaml.Node }

// entries returns n's keys and values in order, reporting (and leaving out)
// keys that are not plain names.
func (w *walker) entries(n *yaml.Node) []entry {
	var es []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			w.errorf(k, "keys must be plain names, got %s", got(k))
		case k.Value == "":
			w.errorf(k, "a key is empty; write a name before the colon")
		default:
			es = append(es, entry{k, v})
		}
	}
	return es
}

// object is a mapping whose keys the format fixes: every key known, none
// repeated. Its keys and values are looked up by name.
type object struct {
	w     *walker
	scope scope
	// at is where a missing key is reported: the key that names the mapping.
	at *yaml.Node
	// ok is false when the node was not a mapping; that was reported, and
	// reporting its keys as missing too would only repeat it.
	ok     bool
	keys   map[string]*yaml.Node
	values map[string]*yaml.Node
	// suggested holds the keys a "did you mean" already pointed to; saying
	// again that they are missing would only repeat it.
	suggested map[string]bool
}

// object checks that n is a mapping of known keys, each given once; want
// says in words what n should be, for when it is not a mapping at all.
func (w *walker) object(at, n *yaml.Node, s scope, known []string, want string) *object {
	o := &object{w: w, scope: s, at: at, keys: map[string]*yaml.Node{}, values: map[string]*yaml.Node{}, suggested: map[string]bool{}}
	if n.Kind != yaml.MappingNode {
		w.errorf(n, "%s must be %s, got %s", s.name(), want, got(n))
		return o
	}
	o.ok = true
	seen := map[string]*yaml.Node{}
	entries := w.entries(n)
	for i, e := range entries {
		k := e.key.Value
		if first, dup := seen[k]; dup {
			w.errorf(e.key, "key %s appears twice %s (first on line %d); keep only one", show(k), s.in(), first.Line)
			continue
		}
		seen[k] = e.key
		if !slices.Contains(known, k) {
			switch {
			case i > 0 && splitText(n, entries[i-1], e):
				w.errorf(e.key, "unknown key %s %s; if it is the end of the text before it, put that text in quotes (inside {…} a comma ends a value)", show(k), s.in())
			default:
				if best, ok := w.unknownKey(e.key, s, known); ok {
					o.suggested[best] = true
				}
			}
			continue
		}
		o.keys[k], o.values[k] = e.key, e.value
	}
	return o
}

// splitText reports whether e looks like the rest of prev's text, cut off
// by a comma in a flow mapping: {description: Heavy, not light}.
func splitText(n *yaml.Node, prev, e entry) bool {
	return n.Style&yaml.FlowStyle != 0 &&
		prev.value.Kind == yaml.ScalarNode && prev.value.ShortTag() == "!!str" && prev.value.Style == 0 &&
		e.value.Kind == yaml.ScalarNode && e.value.ShortTag() == "!!null" && e.value.Value == ""
}

// unknownKey reports k, returning the known key it suggested, if any.
func (w *walker) unknownKey(k *yaml.Node, s scope, known []string) (string, bool) {
	if best, ok := closest(k.Value, known); ok {
		w.errorf(k, "unknown key %s %s; did you mean %q?", show(k.Value), s.in(), best)
		return best, true
	}
	w.errorf(k, "unknown key %s %s; the keys allowed here are %s", show(k.Value), s.in(), strings.Join(known, ", "))
	return "", false
}

// get returns the value under key, or nil when the key is absent.
func (o *object) get(key string) *yaml.Node { return o.values[key] }

// key returns the key node itself, or nil when the key is absent.
func (o *object) key(key string) *yaml.Node { return o.keys[key] }

// require is get for keys that must be there. hint says what to add.
func (o *object) require(key, hint string) *yaml.Node {
	v := o.values[key]
	if v == nil && o.ok && !o.suggested[key] {
		o.w.errorf(o.at, "%s is missing %q; %s", o.scope.name(), key, hint)
	}
	return v
}

// named returns the entries of a mapping whose keys are names the author
// chose (metrics, fields), in order, reporting and dropping repeated names.
// noun and where word the message: "field", ` in metric "weight"`.
func (w *walker) named(n *yaml.Node, noun, where string) []entry {
	var es []entry
	seen := map[string]*yaml.Node{}
	for _, e := range w.entries(n) {
		name := e.key.Value
		if first, dup := seen[name]; dup {
			w.errorf(e.key, "%s %s is declared twice%s (first on line %d); rename or remove one", noun, show(name), where, first.Line)
			continue
		}
		seen[name] = e.key
		es = append(es, e)
	}
	return es
}

// got describes a value for "must be X, got Y" messages, in YAML's words
// rather than Go's.
func got(n *yaml.Node) string {
	switch {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind != yaml.ScalarNode:
		return "an alias"
	case n.ShortTag() == "!!null":
		return "an empty value"
	case n.ShortTag() == "!!str":
		return show(n.Value)
	}
	// Plain numbers and booleans read best as written.
	if len(n.Value) > maxShown {
		return show(n.Value)
	}
	return n.Value
}

// maxShown bounds how much of a value a message repeats.
const maxShown = 40

// show quotes text from the spec for a message, shortened if long. All text
// from the spec reaches messages through show or %q, so a message never
// mistakes the author's words for its own.
func show(s string) string {
	if r := []rune(s); len(r) > maxShown {
		s = string(r[:maxShown]) + "…"
	}
	return fmt.Sprintf("%q", s)
}
