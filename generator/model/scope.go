package model

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/outboxgen/outboxgen/generator/spec"
)

// Names is the registry of everything the generated code declares: Go
// identifiers (exported and not, in the generated package and in the sqlc
// packages under it), struct fields and methods, JSON keys, query
// parameters, file names and SQL objects. Each lives in a scope, the
// namespace in which two equal names would break the build or the
// migration, and is claimed there once, by whoever makes it:
//
//   - the generated code itself (fixed names such as Metrics or Validate),
//     claimed first;
//   - the spec (the names derived from metric, field and enum value names),
//     whose clashes are reported at the position of the declaration that
//     comes second;
//   - internal names derived from the spec (unexported helpers, adapters),
//     which never fail: they take the first free variant of their name.
//
// Emitters and templates write only names the model gives them, and a test
// checks every declaration of the generated files against this registry, so
// an emitter that adds a name without claiming it is caught before any spec
// meets the clash.
type Names struct {
	file   string // the spec file, for errors
	scopes map[string]*scope
	errs   spec.Errors
	// refused holds the positions of declarations already reported: one
	// clash per declaration says what to fix, more would only repeat it.
	refused map[spec.Pos]bool
}

// scope is one namespace.
type scope struct {
	title string // how messages name it: "package metrics", "struct WeightInput"
	// maxLen bounds names in bytes (PostgreSQL truncates identifiers past
	// 63); zero for no bound.
	maxLen int
	owners map[string]owner
}

// owner says who claimed a name.
type owner struct {
	what string   // `metric "weight"`, "the generated method Validate"
	pos  spec.Pos // zero for fixed names
}

func newNames(file string) *Names {
	return &Names{file: file, scopes: map[string]*scope{}, refused: map[spec.Pos]bool{}}
}

// scope returns the scope keyed key, creating it with title.
func (n *Names) scope(key, title string) *scope {
	s, ok := n.scopes[key]
	if !ok {
		s = &scope{title: title, owners: map[string]owner{}}
		n.scopes[key] = s
	}
	return s
}

// fix claims names the generated code declares whatever the spec says.
// what describes them in messages ("a method of every input").
func (n *Names) fix(s *scope, what string, names ...string) {
	for _, name := range names {
		if prev, taken := s.owners[name]; taken {
			if prev.what == what && prev.pos.Line == 0 {
				continue // a scope set up twice (the same fixed members)
			}
			// Two fixed names in one scope are a bug of the generator, not
			// of any spec: fail loudly in every test.
			panic(fmt.Sprintf("model: %s claims %s in %s, already %s", what, name, s.title, prev.what))
		}
		s.owners[name] = owner{what: what}
	}
}

// claim registers a name derived from the spec, declared at pos by what
// (`field "kg" of metric "weight"`), and reports whether it got it. A name
// already taken is a spec error.
func (n *Names) claim(s *scope, name, what string, pos spec.Pos) bool {
	if s.maxLen > 0 && len(name) > s.maxLen {
		n.errorf(pos, "%s would make the name %s in %s, longer than the %d bytes it allows; choose a shorter name", what, name, s.title, s.maxLen)
		return false
	}
	prev, taken := s.owners[name]
	switch {
	case !taken:
		s.owners[name] = owner{what: what, pos: pos}
		return true
	case prev.pos.Line == 0:
		n.errorf(pos, "%s would make the name %s in %s, which is taken by %s; choose another name", what, name, s.title, prev.what)
	default:
		n.errorf(pos, "%s would make the name %s in %s, like %s (line %d); rename one of them", what, name, s.title, prev.what, prev.pos.Line)
	}
	return false
}

// internal registers a name the spec does not show, for what. Such names
// are free to change, so a clash is resolved by taking the first of base,
// base2, base3… that is free, instead of refusing the spec.
func (n *Names) internal(s *scope, base, what string) string {
	name := base
	for i := 2; ; i++ {
		if _, taken := s.owners[name]; !taken {
			break
		}
		name = base + strconv.Itoa(i)
	}
	s.owners[name] = owner{what: what}
	return name
}

func (n *Names) errorf(pos spec.Pos, format string, args ...any) {
	if n.refused[pos] {
		return
	}
	n.refused[pos] = true
	n.errs = append(n.errs, &spec.Error{File: n.file, Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// Scopes lists the keys of the registry's scopes, sorted.
func (n *Names) Scopes() []string { return slices.Sorted(maps.Keys(n.scopes)) }

// Has reports whether name is claimed in the scope keyed key.
func (n *Names) Has(key, name string) bool {
	s, ok := n.scopes[key]
	if !ok {
		return false
	}
	_, ok = s.owners[name]
	return ok
}
