package model

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// createdName finds what a migration creates: tables, indexes and
// triggers share their names with metric tables and indexes in SQLite (and
// the first two in PostgreSQL).
var (
	createdName = regexp.MustCompile(`(?i)\bcreate\s+(?:unique\s+)?(?:table|index|trigger|view)\s+(?:if\s+not\s+exists\s+)?(\w+)`)
	sqlComment  = regexp.MustCompile(`--.*`)
)

// Every table, index and trigger a store's or the receiver's migrations
// create is reserved, so that no spec can name a metric's table or index
// after it and fail to migrate beside the outbox.
func TestRuntimeRelationsAreReserved(t *testing.T) {
	files, err := filepath.Glob("../../runtime/*/migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := filepath.Glob("../../runtime/inbox/*/migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, inbox...)
	if len(files) < 30 {
		t.Fatalf("found %d migrations, want every store's", len(files))
	}
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range createdName.FindAllStringSubmatch(sqlComment.ReplaceAllString(string(text), ""), -1) {
			if name := strings.ToLower(m[1]); !slices.Contains(runtimeRelations, name) {
				t.Errorf("%s creates %s, which runtimeRelations does not reserve", f, name)
			}
		}
	}
}
