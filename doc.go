// Package outboxgen generates Go packages that record health metrics and
// sync them to a backend through a transactional outbox.
//
// The generator reads metrics.yaml (see docs/SPEC.md); the runtime the
// generated code writes through is github.com/outboxgen/outboxgen/runtime.
// This package holds no code: it runs the generator on the repository's
// own spec with go generate.
package outboxgen

//go:generate go run ./cmd/outboxgen generate -spec metrics.yaml
