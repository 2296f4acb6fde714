package model

import "github.com/outboxgen/outboxgen/generator/spec"

// The fixed names of the wire and receiver packages, claimed like those of
// the metrics package (see fixed.go).

// wireImports and wireDecls are the names the wire package's files import
// and declare whatever the spec says.
var (
	wireImports = []string{"errors", "math", "strconv", "strings", "time", "utf8", "uuid"}
	wireDecls   = []string{
		"ErrRequired", "ErrOutOfRange", "ErrTooLong", "ErrNotAllowed", "ValidationError", "MaxUserIDBytes",
		"CheckUserID", "CheckTime", "EventTypes", "Routes", "BatchRoute", "DeletedPayload",
		"minTime", "maxTime", "checkEnvelope",
	}
	wireMembers = map[string][]string{
		"ValidationError": {"Metric", "Field", "Err", "Detail", "Error", "Unwrap"},
		"DeletedPayload":  {"PayloadVersion", "Metric", "ID", "UserID", "Version", "BackendID", "DeletedAt", "Validate"},
	}
)

// receiverImports and receiverDecls are the names the receiver package's
// files import and declare whatever the spec says.
var (
	receiverImports = []string{
		"context", "embed", "errors", "fmt", "slices", "time", "uuid", "pgx", "inbox", "pginbox", "wire", "pgdb",
		"outbox",
	}
	receiverDecls = []string{
		"Applier", "New", "Storage", "NewStorage", "ErrNotFound", "OpenAPI",
		"contract", "invalid", "deletedFields", "decodeDeleted", "openAPI", "schema", "columns", "deref",
	}
	receiverMembers = map[string][]string{
		"Storage": {"store", "read", "Migrate"},
		"Applier": {},
	}
	// Fields of every metric's change and received entry.
	changeMembers   = []string{"Change", "Entry"}
	receivedMembers = []string{"ID", "UserID", "RecordedAt", "Version", "BackendID", "CreatedAt", "UpdatedAt"}
	// receivedColumns are the columns every received table has besides its
	// fields; each is also a column of the sending side's tables, so the
	// loader refuses fields named like them.
	receivedColumns = []string{"id", "user_id", "recorded_at", "version", "backend_id", "created_at", "updated_at"}
)

// Files the wire and receiver packages always have.
var (
	wireFiles     = []string{"doc.go", "wire.go"}
	receiverFiles = []string{"doc.go", "receiver.go", "postgres.go", "openapi.yaml", "internal"}
)

// routeScope keys the HTTP paths the receiver serves.
const routeScope = "routes"

// fixEnds claims the fixed names of the wire and receiver packages.
func (n *Names) fixEnds() {
	wire := n.scope(DBScope(wirePackage), "package "+wirePackage)
	n.fix(wire, "a predeclared identifier of Go", predeclared...)
	n.fix(wire, "an imported package", wireImports...)
	n.fix(wire, "a declaration of every wire package", wireDecls...)
	for typ, members := range wireMembers {
		n.fix(n.scope(TypeScope(wirePackage, typ), "type "+wirePackage+"."+typ), "a member of "+typ, members...)
	}
	n.fix(n.scope(FileScope(wirePackage), "folder "+wirePackage), "a file of every wire package", wireFiles...)

	recv := n.scope(DBScope(receiverPackage), "package "+receiverPackage)
	n.fix(recv, "a predeclared identifier of Go", predeclared...)
	n.fix(recv, "an imported package", receiverImports...)
	n.fix(recv, "a declaration of every receiver package", receiverDecls...)
	for typ, members := range receiverMembers {
		n.fix(n.scope(TypeScope(receiverPackage, typ), "type "+receiverPackage+"."+typ), "a member of "+typ, members...)
	}
	n.fix(n.scope(FileScope(receiverPackage), "folder "+receiverPackage), "a file of every receiver package", receiverFiles...)

	n.fix(n.scope(FileScope(ReceiverDBDir), "folder "+ReceiverDBDir), "a file of every sqlc package", dbFiles...)
	db := n.scope(DBScope(receiverDB), "package "+ReceiverDBDir)
	n.fix(db, "a predeclared identifier of Go", predeclared...)
	n.fix(db, "an imported package", dbImports...)
	n.fix(db, "a declaration sqlc always writes", dbDecls...)
	n.fix(n.scope(TypeScope(receiverDB, "Queries"), "type "+ReceiverDBDir+".Queries"), "a member sqlc always writes", queriesMembers...)
	n.fix(n.scope(TypeScope(receiverDB, "DBTX"), "type "+ReceiverDBDir+".DBTX"), "a method sqlc always writes", dbtxMembers[spec.Postgres]...)

	n.scope(routeScope, "the receiver's routes")
	n.fix(n.scope(OpenAPIScope, "the schemas of the OpenAPI document"), "a schema of every OpenAPI document", openAPISchemas...)
	n.fix(n.scope(OperationScope, "the operations of the OpenAPI document"), "the batch route's operation", "batch")
}

// openAPISchemas are the schemas every receiver's OpenAPI document has.
var openAPISchemas = []string{"Receipt", "Problem", "FieldError", "Batch", "BatchEvent", "BatchResults", "BatchResult"}
