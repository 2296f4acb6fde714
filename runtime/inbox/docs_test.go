package inbox_test

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/outboxgen/outboxgen/runtime/inbox"
)

// Every problem type is a section of docs/RECEIVER.md, which its type
// points at, and every section there is a problem the handler answers.
func TestDocsDescribeEveryProblem(t *testing.T) {
	doc, err := os.ReadFile("../../docs/RECEIVER.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^### ([a-z-]+)$`).FindAllStringSubmatch(string(doc), -1) {
		documented = append(documented, m[1])
	}
	names := inbox.ProblemNames()
	slices.Sort(documented)
	slices.Sort(names)
	if !slices.Equal(documented, names) {
		t.Errorf("docs/RECEIVER.md describes %v;\nthe handler answers %v", documented, names)
	}
}
