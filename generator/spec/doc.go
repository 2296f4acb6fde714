// Package spec reads metrics.yaml, the file in which teams declare the health
// metrics (weight, steps, mood…) that outboxgen generates code for.
//
// [Load] and [Parse] return either a fully validated [Spec], with every
// default applied, or [Errors]: every problem in the file at once, each at a
// position and worded for someone who has never seen Go. Nothing downstream
// of this package needs to re-check the spec or know the defaults.
//
// The format is documented in docs/SPEC.md. [Schema] is the same format as a
// JSON Schema, for editors; a test holds the two to the same keys.
package spec
