package sqlgen

import (
	"testing"

	"github.com/outboxgen/outboxgen/generator/model"
	"github.com/outboxgen/outboxgen/generator/spec"
)

func TestGenerateRootSpec(t *testing.T) {
	s, err := spec.Load("../../metrics.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Build(s, "github.com/outboxgen/outboxgen/examples/fitness/metrics")
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(m)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		t.Logf("%s: %d bytes", name, len(b))
	}
}
