package spec_test

import (
	"errors"
	"fmt"

	"github.com/outboxgen/outboxgen/generator/spec"
)

func ExampleParse() {
	s, err := spec.Parse("metrics.yaml", []byte(`
version: 1
package: {name: metrics, path: internal/metrics}
dialects: [postgres, sqlite]
metrics:
  weight:
    unit: kg
    fields:
      kg: {type: float, required: true, min: 20, max: 500}
    dedupe: day
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	m := s.Metrics[0]
	fmt.Println(m.Name, m.Fields[0].Type, m.Dedupe.Window, m.Dedupe.TimeZone, m.Events.Created, m.Route)
	// Output: weight float day UTC weight.created /v1/weight
}

func ExampleErrors() {
	_, err := spec.Parse("metrics.yaml", []byte(`
version: 1
package: {name: metrics, path: internal/metrics}
dialects: [sqlite]
metrics:
  weight:
    priority: high
    fileds:
      kg: {type: float}
`))
	var errs spec.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Printf("line %d: %s\n", e.Pos.Line, e.Msg)
		}
	}
	// Output:
	// line 7: priority of metric "weight" must be a whole number from 1 to 10, got "high"
	// line 8: unknown key "fileds" in metric "weight"; did you mean "fields"?
}
