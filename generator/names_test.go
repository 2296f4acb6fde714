package generator_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/outboxgen/outboxgen/generator/model"
	"github.com/outboxgen/outboxgen/generator/spec"
)

// Every name the generated files declare — package-level identifiers,
// imports, struct fields and methods, JSON keys, file names, tables and
// indexes — is claimed in the model's registry, in the scope where it
// could clash. The model checks clashes in the registry only, so a name an
// emitter declares without claiming it is a clash nobody checks: this test
// finds it before a spec does.
func TestEveryDeclarationIsClaimed(t *testing.T) {
	for _, dir := range goldenCases(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			s, err := spec.Load(filepath.Join(dir, "metrics.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			m, err := model.Build(s, s.Package.ImportPath)
			if err != nil {
				t.Fatal(err)
			}
			for name, src := range generate(t, dir) {
				rel := strings.TrimPrefix(name, m.Package.Dir+"/")
				fileDir, base := path.Split(rel)
				fileDir = strings.TrimSuffix(fileDir, "/")
				claimed(t, m, model.FileScope(fileDir), base, name)
				switch {
				case strings.HasSuffix(base, ".go"):
					goDeclarations(t, m, name, model.PackageKey(fileDir), fileDir == "", src)
				case base == "schema.sql":
					sqlDeclarations(t, m, name, fileDir, src)
				case base == "openapi.yaml":
					openAPISchemas(t, m, name, src)
				}
			}
		})
	}
}

func claimed(t *testing.T, m *model.Model, scope, name, where string) {
	t.Helper()
	if !m.Names.Has(scope, name) {
		t.Errorf("%s declares %s, which is not claimed in scope %q of the model", where, name, scope)
	}
}

// goDeclarations checks the declarations of one Go file. pkg keys the
// package the file is in (see model.PackageKey), unless main (the
// generated package itself).
func goDeclarations(t *testing.T, m *model.Model, file, pkg string, main bool, src []byte) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	scope, typeScope := model.DBScope(pkg), func(typ string) string { return model.TypeScope(pkg, typ) }
	if main {
		scope, typeScope = model.PackageScope, func(typ string) string { return model.TypeScope("", typ) }
	}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		name := path.Base(p)
		if regexp.MustCompile(`^v\d+$`).MatchString(name) {
			name = path.Base(path.Dir(p))
		}
		if imp.Name != nil {
			name = imp.Name.Name
		}
		if name != "_" {
			claimed(t, m, scope, name, file+" (import)")
		}
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				claimed(t, m, scope, d.Name.Name, file)
				continue
			}
			recv := d.Recv.List[0].Type
			if star, ok := recv.(*ast.StarExpr); ok {
				recv = star.X
			}
			claimed(t, m, typeScope(recv.(*ast.Ident).Name), d.Name.Name, file)
		case *ast.GenDecl:
			for _, sp := range d.Specs {
				switch sp := sp.(type) {
				case *ast.ValueSpec:
					for _, id := range sp.Names {
						claimed(t, m, scope, id.Name, file)
					}
				case *ast.TypeSpec:
					claimed(t, m, scope, sp.Name.Name, file)
					members(t, m, file, sp, typeScope(sp.Name.Name))
				}
			}
		}
	}
}

// members checks the fields of a struct, their JSON keys, and the methods
// of an interface.
func members(t *testing.T, m *model.Model, file string, sp *ast.TypeSpec, scope string) {
	t.Helper()
	var list *ast.FieldList
	switch typ := sp.Type.(type) {
	case *ast.StructType:
		list = typ.Fields
	case *ast.InterfaceType:
		list = typ.Methods
	default:
		return
	}
	for _, field := range list.List {
		for _, id := range field.Names {
			claimed(t, m, scope, id.Name, file)
		}
		if field.Tag == nil {
			continue
		}
		tag, _ := strconv.Unquote(field.Tag.Value)
		if key, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ","); key != "" {
			claimed(t, m, model.JSONScope(sp.Name.Name), key, file)
		}
	}
}

var sqlObject = regexp.MustCompile(`(?i)(?:CREATE TABLE IF NOT EXISTS|CREATE UNIQUE INDEX IF NOT EXISTS|CREATE INDEX IF NOT EXISTS|CONSTRAINT) ([a-z0-9_]+)`)

// sqlDeclarations checks the tables and indexes of a schema.
func sqlDeclarations(t *testing.T, m *model.Model, file, pkg string, src []byte) {
	t.Helper()
	d := spec.Postgres
	if path.Base(pkg) == model.DBPackage(spec.SQLite) {
		d = spec.SQLite
	}
	for _, match := range sqlObject.FindAllStringSubmatch(string(src), -1) {
		claimed(t, m, model.SQLScope(d), match[1], file)
	}
}

// openAPISchemas checks the schemas of an OpenAPI document.
func openAPISchemas(t *testing.T, m *model.Model, file string, src []byte) {
	t.Helper()
	var doc struct {
		Paths map[string]struct {
			Post struct {
				OperationID string `yaml:"operationId"`
			} `yaml:"post"`
		} `yaml:"paths"`
		Components struct {
			Schemas map[string]any `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	for name := range doc.Components.Schemas {
		claimed(t, m, model.OpenAPIScope, name, file)
	}
	for _, p := range doc.Paths {
		claimed(t, m, model.OperationScope, p.Post.OperationID, file)
	}
}
