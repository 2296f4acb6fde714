// Package templates holds the SQL the generator renders per dialect for
// every metric, and the sqlc configuration that turns it into typed Go.
// They live at the top of the repository, where users reading the project
// look for them; this package only embeds them for the generator.
package templates

import "embed"

// FS holds the templates: <dialect>/schema.sql.tmpl and
// <dialect>/queries.sql.tmpl for dialects sqlite and postgres, the same
// for the receiver's default storage (receiver/, PostgreSQL), and
// sqlc.yaml.tmpl.
//
//go:embed sqlite/*.tmpl postgres/*.tmpl receiver/*.tmpl sqlc.yaml.tmpl
var FS embed.FS
