package spec

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDocsListReservedWords keeps the word lists in docs/SPEC.md equal to
// the ones the loader enforces.
func TestDocsListReservedWords(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "SPEC.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, list := range []struct {
		heading string
		words   map[string]bool
	}{
		{"**Go keywords:**", goKeywords},
		{"**SQL reserved words**", sqlReserved},
	} {
		documented := codeBlockAfter(string(doc), list.heading)
		if documented == nil {
			t.Errorf("docs/SPEC.md has no code block after %s", list.heading)
			continue
		}
		for w := range list.words {
			if !slices.Contains(documented, w) {
				t.Errorf("docs/SPEC.md: %s does not list %q, which the loader rejects", list.heading, w)
			}
		}
		for _, w := range documented {
			if !list.words[w] {
				t.Errorf("docs/SPEC.md: %s lists %q, which the loader accepts", list.heading, w)
			}
		}
	}
}

// codeBlockAfter returns the comma-separated words of the first fenced code
// block after heading.
func codeBlockAfter(doc, heading string) []string {
	_, rest, ok := strings.Cut(doc, heading)
	if !ok {
		return nil
	}
	_, rest, ok = strings.Cut(rest, "```\n")
	if !ok {
		return nil
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		return nil
	}
	var words []string
	for w := range strings.SplitSeq(block, ",") {
		if w = strings.TrimSpace(w); w != "" {
			words = append(words, w)
		}
	}
	return words
}
