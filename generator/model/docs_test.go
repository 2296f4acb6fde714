package model

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// TestDocsListGeneratedNames keeps the names docs/SPEC.md says a metric
// cannot take equal to the exported names every generated package declares.
func TestDocsListGeneratedNames(t *testing.T) {
	doc, err := os.ReadFile("../../docs/SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	const row = "| a metric whose Go name is one of "
	_, rest, ok := strings.Cut(string(doc), row)
	if !ok {
		t.Fatalf("docs/SPEC.md has no row starting %q", row)
	}
	line, _, _ := strings.Cut(rest, "\n")
	cell, _, _ := strings.Cut(line, "|")
	var documented []string
	for _, m := range regexp.MustCompile("`([A-Za-z]+)`").FindAllStringSubmatch(cell, -1) {
		documented = append(documented, m[1])
	}
	var exported []string
	for _, name := range packageDecls {
		if unicode.IsUpper(rune(name[0])) {
			exported = append(exported, name)
		}
	}
	slices.Sort(documented)
	slices.Sort(exported)
	if !slices.Equal(documented, exported) {
		t.Errorf("docs/SPEC.md lists %v;\nthe generated package declares %v", documented, exported)
	}
}

// TestDocsListInitialisms keeps the initialisms docs/SPEC.md lists equal to
// the ones GoName writes in capitals.
func TestDocsListInitialisms(t *testing.T) {
	doc, err := os.ReadFile("../../docs/SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "the list is\ngolint's: ")
	if !ok {
		t.Fatal(`docs/SPEC.md has no "the list is golint's: " list`)
	}
	list, _, _ := strings.Cut(rest, ")")
	var documented []string
	for _, w := range strings.Split(strings.ReplaceAll(list, "\n", " "), ",") {
		documented = append(documented, strings.TrimSpace(w))
	}
	slices.Sort(documented)
	if !slices.Equal(documented, Initialisms()) {
		t.Errorf("docs/SPEC.md lists %v;\nGoName knows %v", documented, Initialisms())
	}
}
