// Command bench measures outboxgen against River and watermill-sql on the
// same machine, the same PostgreSQL server and in the same run, and writes
// the results into docs/BENCHMARKS.md. It is a module of its own so that
// the main module never depends on River or watermill.
//
// Usage, from the repository root:
//
//	cd bench && go run . [-runs 3] [-quick] [-write] [-only save,backlog,http,latency,generate]
//	cd bench && go run . -profile /tmp/prof    # CPU profiles of our saves and drains too
//	cd bench && go run . -diagnose /tmp/diag   # save decomposition and what-ifs, plans, drain profiles, hook cost
//
// Every measurement gets a database of its own on the server named by
// OUTBOXGEN_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres),
// dropped afterwards; backlogs are filled once into template databases and
// copied for each measurement.
package main
