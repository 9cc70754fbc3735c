// Package pgtest provides a PostgreSQL for tests: each test process gets its own
// database, cloned from a migrated template, and every spec starts from an empty
// event store.
//
// # Where the server comes from
//
// On first use pgtest looks, in this order, for:
//
//  1. the DSN in CONSEQUENT_TEST_DATABASE_URL ([EnvDatabaseURL]); its role must be
//     allowed to create databases. The application's CONSEQUENT_DATABASE_URL is
//     never read, so specs cannot create or drop databases on a server an
//     application points at. A server named there that does not answer fails the
//     spec;
//  2. a container started with testcontainers-go from CONSEQUENT_POSTGRES_IMAGE
//     ([EnvImage], default [DefaultImage]), tuned for tests (no fsync) and stopped by
//     [Close]. On machines whose engine cannot pull images, build one locally
//     (this repository's .ci/postgres-image.sh builds one from the machine's
//     PostgreSQL) and set TESTCONTAINERS_RYUK_DISABLED=true;
//  3. nothing: the spec is skipped with a message that says how to get a server —
//     or fails, when CONSEQUENT_REQUIRE_DATABASE=1 ([EnvRequire], set by
//     make integration-test).
//
// Each test process (each Ginkgo parallel process, or a plain go test binary)
// starts its own container when it needs one (about 1.5 s; the data directory is a
// tmpfs): no suite wiring is needed, a process that runs no PostgreSQL spec starts
// none, and no process depends on another's lifetime. The processes share the
// server in the DSN case.
//
// Transaction ids are per server, not per database: on a shared server, a
// transaction in flight in another process's database holds back the global log
// ([es.EventStore.ReadLog] shows only what committed before every transaction in
// flight began). Specs that read the log right after a commit use Eventually.
//
// # Databases
//
// The template database is built once per server under an advisory lock, named
// after a hash of pgstore's migrations, so changed migrations get a new template;
// templates of other versions are dropped an hour after they were built.
// Each process clones it ("CREATE DATABASE … TEMPLATE", named after the package
// directory and process number) and [Close] drops the clone. Between specs,
// [Backend] resets the clone in one round trip: it empties the pgstore tables
// (keeping what the migrations wrote), restarts their identities and drops the view
// tables — about 2 ms, against 25–400 ms for a clone.
//
// # Use from a Ginkgo suite
//
// Specs that use PostgreSQL carry the label "integration" ([Label]); pgtest fails
// specs that do not. The suite's Test function releases the database:
//
//	func TestPgstore(t *testing.T) {
//		RegisterFailHandler(Fail)
//		defer pgtest.Close()
//		RunSpecs(t, "pgstore")
//	}
//
// [Backend] has the signature of estest.Backend, so the same specs can run on the
// in-memory store and on PostgreSQL:
//
//	for _, b := range []struct {
//		name    string
//		backend estest.Backend
//		labels  Labels
//	}{
//		{"in memory", estest.Memory, nil},
//		{"on PostgreSQL", pgtest.Backend, Label(pgtest.Label)},
//	} {
//		Describe(b.name, b.labels, func() { /* specs using b.backend */ })
//	}
//
// [Pool] gives specs that need SQL the process's pool; [Open] gives the database
// to code outside Ginkgo (benchmarks), returning an error wrapping [ErrNoDatabase]
// instead of skipping.
package pgtest
