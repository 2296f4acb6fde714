package generator_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/outboxgen/outboxgen/internal/openapitest"
)

// Every golden receiver's OpenAPI document is valid OpenAPI 3.1, by a
// maintained validator's reading of the specification's schema.
func TestOpenAPIDocumentsAreValid(t *testing.T) {
	for _, dir := range goldenCases(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			n := 0
			for name, b := range generate(t, dir) {
				if strings.HasSuffix(name, "/receiver/openapi.yaml") {
					openapitest.Document(t, b)
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d OpenAPI documents generated, want 1", n)
			}
		})
	}
}
