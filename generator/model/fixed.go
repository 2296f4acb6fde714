package model

import "github.com/outboxgen/outboxgen/generator/spec"

// The names below are those the generated code declares whatever the spec
// says. Emitters write them as literals; the registry claims them before
// any name derived from the spec, so a metric or field that would take one
// is refused (or, for internal names, steered around), and the registry
// test fails when an emitter declares a name that is not listed here.

// predeclared are Go's universe-scope identifiers: the generated code uses
// them, so it must not declare them.
var predeclared = []string{
	"any", "bool", "byte", "comparable", "complex64", "complex128", "error", "float32", "float64",
	"int", "int8", "int16", "int32", "int64", "rune", "string", "uint", "uint8", "uint16", "uint32",
	"uint64", "uintptr", "true", "false", "iota", "nil", "append", "cap", "clear", "close", "complex",
	"copy", "delete", "imag", "len", "make", "max", "min", "new", "panic", "print", "println", "real",
	"recover", "init", "main",
}

// packageImports are the names the generated package's files import
// packages under; a declaration of the same name would clash in that file.
var packageImports = []string{
	"context", "embed", "errors", "fmt", "json", "math", "sql", "strings", "time", "tzdata", "utf8",
	"uuid", "outbox", "pgx", "pgstore", "sqlitestore", "pgdb", "sqlitedb", "wire",
}

// packageDecls are the package-level declarations of metrics.go, doc.go,
// sqlite.go and postgres.go, for either dialect.
var packageDecls = []string{
	// Shared types and values.
	"SyncStatus", "SyncPending", "SyncSynced", "ValidationError", "ListFilter", "Option", "Metrics",
	"DeletedPayload", "MaxUserIDBytes", "ErrNotFound", "ErrNoUser", "ErrRequired", "ErrOutOfRange",
	"ErrTooLong", "ErrNotAllowed", "WithUserResolver", "WithClock", "EventTypes", "Routes", "Backoffs",
	// Per dialect.
	"NewSQLite", "RegisterSQLite", "NewPostgres", "RegisterPostgres",
	// Unexported helpers.
	"config", "newMetrics", "minuteBucket",
	"hourBucket", "dayBucket", "exactBucket", "zone", "deref", "syncedColumns", "remoteID",
	"changeEvent", "timeFromMicros", "microsFromTime", "sqliteSchema", "sqliteColumns",
	"postgresSchema", "postgresColumns", "nilIfZero", "microsOrZero", "ptrIfSet", "timeIfSet",
}

// typeMembers are the fields and methods of the shared types.
var typeMembers = map[string][]string{
	"Metrics":    {"cfg", "migrate"},
	"config":     {"resolveUser", "now", "user", "stamp"},
	"ListFilter": {"UserID", "From", "To", "SyncStatus", "Limit", "limit"},
}

// deletedPayloadJSON are the keys of every deleted event's payload.
var deletedPayloadJSON = []string{"payload_version", "metric", "id", "user_id", "version", "backend_id", "deleted_at"}

// Members of each metric's types that do not depend on its fields.
var (
	entityMembers     = []string{"ID", "UserID", "RecordedAt", "Version", "BackendID", "SyncStatus", "CreatedAt", "UpdatedAt", "event"}
	inputMembers      = []string{"UserID", "RecordedAt"}
	payloadMembers    = []string{"ID", "UserID", "RecordedAt", "Version", "BackendID"}
	payloadMethods    = []string{"Validate", "ValidateFields"}
	payloadJSON       = []string{"id", "user_id", "recorded_at", "version", "backend_id"}
	repositoryMembers = []string{"db", "cfg", "Save", "Get", "List", "Delete", "CountBySyncStatus"}
	storeMembers      = []string{"save", "get", "list", "delete", "countBySyncStatus"}
	adapterMembers    = []string{"store", "read", "save", "get", "list", "delete", "countBySyncStatus", "markSynced"}
	enumMembers       = []string{"Valid"}
)

// Files the generated package always has, and its sqlc packages' files.
var (
	packageFiles = []string{"doc.go", "metrics.go", "sqlite.go", "postgres.go", "internal"}
	dbFiles      = []string{"schema.sql", "queries.sql", "db.go", "models.go", "queries.sql.go"}
)

// The sqlc packages: what sqlc declares in each whatever the queries.
var (
	dbImports      = []string{"context", "sql", "time", "uuid", "pgconn", "pgx", "pgtype"}
	dbDecls        = []string{"DBTX", "New", "Queries"}
	queriesMembers = []string{"db", "WithTx"}
	dbtxMembers    = map[spec.Dialect][]string{
		spec.SQLite:   {"ExecContext", "PrepareContext", "QueryContext", "QueryRowContext"},
		spec.Postgres: {"Exec", "Query", "QueryRow"},
	}
)

// The columns every metric table has, in order, around the field columns;
// the spec refuses fields named like them.
var (
	columnsBefore = []string{"id", "user_id", "recorded_at", "bucket"}
	columnsAfter  = []string{"version", "backend_id", "sync_status", "created_at", "updated_at", "deleted_at"}
)

// sqlcParams are the query parameters and result columns that are not
// columns of a metric table; sqlc makes Go names of them too.
var sqlcParams = []string{"now", "recorded_from", "recorded_to", "max_rows", "ids", "versions", "backend_ids", "entries"}

// runtimeRelations are the tables, indexes and triggers the outbox stores
// and the receiver create in the same database (runtime/*/migrations);
// metric tables and their indexes must not take their names.
// TestRuntimeRelationsAreReserved checks that none is missing.
var runtimeRelations = []string{
	"outbox_events", "outbox_keys", "outboxgen_migrations", "outbox_events_claimable", "outbox_events_claim_order",
	"outbox_events_leased", "outbox_events_unfinished_key", "outbox_events_completed", "outbox_events_due",
	"outbox_events_failed_or_dead", "outbox_events_failed_or_dead_created", "outbox_events_failed_at",
	"outbox_events_dead_failed_at", "outbox_events_key", "outbox_events_revived", "outbox_events_unfinished",
	"outbox_processors", "outbox_pauses", "outbox_completed", "outbox_completed_add", "outbox_completed_remove",
	// The receiving end's (runtime/inbox).
	"inbox_keys", "inbox_keys_pkey", "inbox_keys_received", "inbox_entities", "inbox_entities_pkey",
}

// maxSQLName is the longest identifier PostgreSQL keeps whole (NAMEDATALEN
// - 1); longer names are silently truncated, and two could meet.
const maxSQLName = 63

// fixAll claims every fixed name in its scope.
func (n *Names) fixAll(m *Model) {
	pkg := n.scope(PackageScope, "package "+m.Package.Name)
	n.fix(pkg, "a predeclared identifier of Go", predeclared...)
	n.fix(pkg, "an imported package", packageImports...)
	n.fix(pkg, "a declaration of every generated package", packageDecls...)
	for typ, members := range typeMembers {
		n.fix(n.scope(TypeScope("", typ), "type "+typ), "a member of "+typ, members...)
	}
	n.fix(n.scopes[TypeScope("", "Metrics")], "the method Migrate", "Migrate")
	n.fix(n.scope(JSONScope("DeletedPayload"), "the JSON of DeletedPayload"), "a key of every deleted payload", deletedPayloadJSON...)
	n.fix(n.scope(FileScope(""), "the package's folder"), "a file of every generated package", packageFiles...)
	n.fixEnds()
	for _, d := range []spec.Dialect{spec.SQLite, spec.Postgres} {
		db := dbPackage(d)
		n.fix(n.scope(FileScope("internal/"+db), "folder internal/"+db), "a file of every sqlc package", dbFiles...)
		scope := n.scope(DBScope(db), "package "+db)
		n.fix(scope, "a predeclared identifier of Go", predeclared...)
		n.fix(scope, "an imported package", dbImports...)
		n.fix(scope, "a declaration sqlc always writes", dbDecls...)
		n.fix(n.scope(TypeScope(db, "Queries"), "type "+db+".Queries"), "a member sqlc always writes", queriesMembers...)
		n.fix(n.scope(TypeScope(db, "DBTX"), "type "+db+".DBTX"), "a method sqlc always writes", dbtxMembers[d]...)
		relations := n.scope(SQLScope(d), "the "+string(d)+" database")
		relations.maxLen = maxSQLName
		n.fix(relations, "a table or index of the outbox", runtimeRelations...)
	}
}

// dbPackage is the name of a dialect's sqlc package, under internal/.
func dbPackage(d spec.Dialect) string {
	if d == spec.SQLite {
		return "sqlitedb"
	}
	return "pgdb"
}

// Scope keys, for Names.Has: the generated package is "go"; a sqlc package
// is "go:sqlitedb"; the members of a type are "go:Type" or
// "go:sqlitedb.Type"; the keys of a payload are "json:Type"; the files of
// a folder (relative to the package) are "files:" or "files:internal/pgdb";
// a database's tables and indexes are "sql:sqlite" or "sql:postgres"; the
// columns of a table are "columns:metric_weight".
const PackageScope = "go"

// DBScope keys the package block of a sqlc package ("sqlitedb", "pgdb").
func DBScope(pkg string) string { return PackageScope + ":" + pkg }

// TypeScope keys the fields and methods of type typ of package pkg ("" for
// the generated package, else "sqlitedb" or "pgdb").
func TypeScope(pkg, typ string) string {
	if pkg == "" {
		return PackageScope + ":" + typ
	}
	return PackageScope + ":" + pkg + "." + typ
}

// JSONScope keys the JSON keys of type typ of the generated package.
func JSONScope(typ string) string { return "json:" + typ }

// FileScope keys the files of dir, relative to the package's folder.
func FileScope(dir string) string { return "files:" + dir }

// SQLScope keys the tables and indexes of a dialect's database.
func SQLScope(d spec.Dialect) string { return "sql:" + string(d) }

// ColumnScope keys the columns of a table.
func ColumnScope(table string) string { return "columns:" + table }
