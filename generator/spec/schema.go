package spec

import _ "embed"

// Schema is metrics.schema.json: the spec format as a JSON Schema (draft
// 2020-12), for editors that complete and check metrics.yaml as it is typed.
// The loader is the authority; the schema follows it, and a test keeps their
// keys and enumerations the same.
//
//go:embed metrics.schema.json
var Schema []byte
