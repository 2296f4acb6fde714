package generator

import (
	"maps"
	"path"
	"slices"

	"github.com/outboxgen/outboxgen/generator/sqlgen"
)

// WindowChange is a metric whose dedupe window differs between two renders
// of a package: entries saved before keep buckets of the old window, which
// saves under the new one never meet (see docs/SPEC.md, "Changing a
// window"), so it deserves a word when generate replaces the code.
type WindowChange struct {
	Metric   string
	From, To string // e.g. "hour in UTC", "day in Europe/Paris"
}

// WindowChanges compares the dedupe windows the schemas of old and new
// record, for the metrics both have, in metric order.
func WindowChanges(old, new Files) []WindowChange {
	before, after := windows(old), windows(new)
	var changes []WindowChange
	for _, metric := range slices.Sorted(maps.Keys(after)) {
		if from, ok := before[metric]; ok && from != after[metric] {
			changes = append(changes, WindowChange{Metric: metric, From: from, To: after[metric]})
		}
	}
	return changes
}

// windows collects the windows the schema files of files record.
func windows(files Files) map[string]string {
	all := map[string]string{}
	for name, b := range files {
		if path.Base(name) == "schema.sql" {
			maps.Copy(all, sqlgen.Windows(b))
		}
	}
	return all
}
