// Package chaos is the reliability harness of outboxgen: a test that writes
// events through the generated use cases while it SIGKILLs the processor
// (a separate OS process), makes the backend refuse connections, fail with
// 5xx and 429, and hang past the client's timeout, and, on PostgreSQL,
// restarts the database server; then it counts that nothing was lost.
//
// The short form runs with every "go test ./..."; the long form, whose
// figures are in docs/RELIABILITY.md, runs with
//
//	OUTBOXGEN_CHAOS=long go test -v -run TestChaos -timeout 30m ./examples/fitness/chaos/
package chaos
