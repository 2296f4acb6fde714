// Package chaos is the reliability harness of outboxgen: a test that saves
// and deletes entries through the generated use cases while it SIGKILLs
// the processor (a separate OS process), makes the backend refuse
// connections, fail with 5xx, 429, 409 and 400, hang past the client's
// timeout and crash on a poison entry, and, on PostgreSQL, restarts the
// database server. The backend is the generated receiver: on PostgreSQL,
// two instances behind a round-robin proxy. At the end it compares the
// device's database with the backend's row by row (values, versions,
// tombstones, backend ids) and counts that nothing was lost.
//
// The short form runs with every "go test ./..."; the long form, whose
// figures are in docs/RELIABILITY.md, runs with
//
//	OUTBOXGEN_CHAOS=long go test -v -run TestChaos -timeout 30m ./examples/fitness/chaos/
package chaos
