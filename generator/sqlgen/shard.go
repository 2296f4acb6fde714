package sqlgen

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"

	"github.com/outboxgen/outboxgen/generator/model"
)

// sqliteShardSize is how many metrics one run of sqlc's SQLite engine
// handles. The engine is slow (a 200-metric spec takes it over 12 s on one
// core) and a little worse than linear in the schema's size; sqlc runs the
// entries of one config concurrently, so a large spec is split into
// shards, each with only its own tables, and their outputs merged into the
// files one run would have written.
var sqliteShardSize = 25

// shard returns m's metrics split into shards of sqliteShardSize, in order,
// each as a model of its own.
func shard(m *model.Model) []*model.Model {
	var shards []*model.Model
	for metrics := range slices.Chunk(m.Metrics, sqliteShardSize) {
		sub := *m
		sub.Metrics = metrics
		shards = append(shards, &sub)
	}
	if len(shards) == 0 {
		shards = append(shards, m)
	}
	return shards
}

// mergeGo joins the Go files sqlc wrote for the shards of one package into
// the file a single run would have written: the first shard's header and
// package clause, every shard's imports, and the declarations in the order
// sqlc gives them, by name (models by type name; each query's constant,
// types and method together, by the query's name).
func mergeGo(srcs [][]byte) ([]byte, error) {
	if len(srcs) == 1 {
		return srcs[0], nil
	}
	var head []byte
	imports := map[string]string{} // path → name ("" for the default)
	var groups []declGroup
	for i, src := range srcs {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "", src, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("merge sqlc output: %w", err)
		}
		if i == 0 {
			head = src[:fset.Position(f.Name.End()).Offset]
		}
		for _, spec := range f.Imports {
			path, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return nil, fmt.Errorf("merge sqlc output: %w", err)
			}
			imports[path] = ""
			if spec.Name != nil {
				imports[path] = spec.Name.Name
			}
		}
		groups = append(groups, declGroups(fset, f, src)...)
	}
	slices.SortStableFunc(groups, func(a, b declGroup) int { return strings.Compare(a.key, b.key) })

	var b bytes.Buffer
	b.Write(head)
	b.WriteString("\n")
	writeImports(&b, imports)
	for _, g := range groups {
		b.WriteString("\n")
		b.Write(g.text)
	}
	out, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("merge sqlc output: %w", err)
	}
	return out, nil
}

// declGroup is declarations that stay together, and the name they sort by.
type declGroup struct {
	key   string
	query bool // started by a query's constant
	text  []byte
}

// declGroups cuts f's declarations after the imports into groups. In
// queries.sql.go sqlc writes each query as its constant followed by its
// parameter and row types and its method: a constant starts a group that
// the declarations after it join. Anywhere else (models.go) each
// declaration is a group of its own.
func declGroups(fset *token.FileSet, f *ast.File, src []byte) []declGroup {
	var groups []declGroup
	for i, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.IMPORT {
			continue
		}
		start := d.Pos()
		if doc := docOf(d); doc != nil {
			start = doc.Pos()
		}
		end := len(src)
		if i+1 < len(f.Decls) {
			next := f.Decls[i+1].Pos()
			if doc := docOf(f.Decls[i+1]); doc != nil {
				next = doc.Pos()
			}
			end = fset.Position(next).Offset
		}
		// A copy: the text grows, and must not write over src.
		text := bytes.Clone(bytes.TrimSpace(src[fset.Position(start).Offset:end]))
		isConst := false
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
			isConst = true
		}
		if !isConst && len(groups) > 0 && groups[len(groups)-1].query {
			last := &groups[len(groups)-1]
			last.text = append(append(last.text, "\n\n"...), text...)
			continue
		}
		groups = append(groups, declGroup{key: declName(d), query: isConst, text: text})
	}
	for i := range groups {
		groups[i].text = append(groups[i].text, '\n')
	}
	return groups
}

// declName is the name of d's first identifier.
func declName(d ast.Decl) string {
	switch d := d.(type) {
	case *ast.FuncDecl:
		return d.Name.Name
	case *ast.GenDecl:
		for _, spec := range d.Specs {
			switch spec := spec.(type) {
			case *ast.ValueSpec:
				return spec.Names[0].Name
			case *ast.TypeSpec:
				return spec.Name.Name
			}
		}
	}
	return ""
}

func docOf(d ast.Decl) *ast.CommentGroup {
	switch d := d.(type) {
	case *ast.FuncDecl:
		return d.Doc
	case *ast.GenDecl:
		return d.Doc
	}
	return nil
}

// writeImports writes an import block as sqlc does: the standard library,
// then the rest, each sorted.
func writeImports(b *bytes.Buffer, imports map[string]string) {
	if len(imports) == 0 {
		return
	}
	var std, other []string
	for path := range imports {
		if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
			other = append(other, path)
		} else {
			std = append(std, path)
		}
	}
	b.WriteString("\nimport (\n")
	for i, group := range [][]string{std, other} {
		if i > 0 && len(std) > 0 && len(other) > 0 {
			b.WriteString("\n")
		}
		slices.Sort(group)
		for _, path := range group {
			if name := imports[path]; name != "" {
				fmt.Fprintf(b, "\t%s %q\n", name, path)
			} else {
				fmt.Fprintf(b, "\t%q\n", path)
			}
		}
	}
	b.WriteString(")\n")
}
