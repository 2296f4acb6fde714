package gogen

import (
	"strings"
	"testing"

	"github.com/dave/jennifer/jen"

	"github.com/outboxgen/outboxgen/generator/model"
)

// A second file of one name would replace the first without a word (a
// metric called doc once replaced doc.go): the emitters refuse it.
func TestSecondFileOfOneNameIsRefused(t *testing.T) {
	g := &gen{m: &model.Model{Package: model.Package{Name: "metrics", ImportPath: "example.com/app/metrics"}}, files: map[string]*jen.File{}}
	g.file("doc.go")
	if g.err != nil {
		t.Fatalf("first file: %v", g.err)
	}
	g.file("doc.go")
	if g.err == nil || !strings.Contains(g.err.Error(), "doc.go") {
		t.Fatalf("second file of one name: %v, want an error naming it", g.err)
	}
}
