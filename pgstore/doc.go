// Package pgstore is the PostgreSQL backend of Consequent: an [es.EventStore]
// ([Store]) and an [es.Persistor] for view tables ([Views]), on pgx/v5.
//
// # Getting started
//
// Migrate the database once at start-up (it is idempotent and safe when several
// processes start at once), then build the store and hand it to the command
// service:
//
//	pool, err := pgxpool.New(ctx, os.Getenv("CONSEQUENT_DATABASE_URL"))
//	if err != nil { … }
//	if err := pgstore.Migrate(ctx, pool, pgstore.Config{}); err != nil { … }
//	store, err := pgstore.New(pool, pgstore.Config{})
//	svc, err := es.NewCommandService(ctx, reg, store, es.Options{})
//
// [Config] names two schemas: the event store's ("consequent") and the view
// tables' ("consequent_views"). Both are created by [Migrate]; [Migrations]
// lists the applied and the pending migrations without changing anything.
//
// # What is stored where
//
// The event-store schema holds:
//
//   - commands: every executed command (type, JSON payload, time, user,
//     correlation and causation ids, metadata) — the audit trail;
//   - events: primary key (stream_id, version), a global position (an identity
//     column) and xact_id, the writing transaction's id; payloads are jsonb, event
//     types are text;
//   - streams: each stream's type and current version;
//   - unique_keys: (stream, scope) → key, unique per (scope, key);
//   - snapshots: (stream, schema, version) → bytes;
//   - projections: each async projection's checkpoint, version, lease and
//     failure, and those of durable workflows ("workflow:name") and
//     subscriptions ("subscription:name"); rebuilds: the rebuilds in progress;
//   - scheduled_commands: commands to execute once due (key, due time, the
//     command), written by commits in their transaction; the commands table's
//     primary key is what makes a command id run once ([es.ErrDuplicateCommand]);
//   - schema_migrations: the applied migrations.
//
// Migrations are numbered SQL files embedded in the package (migrations/*.sql).
//
// The hot paths, the commit's statements and the log's read_log(), run without
// sequential scans. PostgreSQL keeps a plan per connection; one made while a new
// store was empty would otherwise scan whole tables on every call as they grow,
// until the next ANALYZE (measured: commits at 8 clients fell from 8,500/s to
// 2,000/s within 16,000 commits).
//
// # Commits
//
// [Store.Commit] writes a unit of work with a few plain statements sent in one
// pipeline (commit_sql.go): the first takes a transaction-scoped advisory lock
// per stream, in ascending id order and before any write; the second checks the
// expected versions (a stale one fails with an error wrapping
// [es.ErrConcurrencyConflict]); the third inserts the command, the stream
// versions and the events (unnest of arrays), with unique keys and snapshots
// beside it when the commit has any. (Before migration 008 this was one call of
// a PL/pgSQL function, commit(), which stays for processes of older versions.)
// A commit without inTx is a single round trip and one implicit transaction.
// With inTx, the view writes of inline projectors run in the same transaction
// and commit with the events, or not at all: BEGIN and the commit's statements
// travel in one round trip, and the projectors' inserts,
// upserts and [es.Table.Set] updates are queued and sent together with COMMIT in
// a second (an Update, Delete or Find sends what is queued with it, so it counts
// and reads what was written before it). A queued statement that fails fails the
// commit with the error it would have returned at once. A unique key held by another stream fails with an error that errors.As
// finds as an [*es.UniqueKeyError] naming the holder. Every mapped error also
// wraps the *pgconn.PgError that caused it.
//
// # The global log
//
// [Store.ReadLog] orders events by (xact_id, position) and returns only events of
// transactions older than every transaction still in flight
// (xact_id < pg_snapshot_xmin(pg_current_snapshot())). Positions are assigned
// before commit, so a reader that followed position alone could skip an event
// that commits late; the watermark makes resuming from the last cursor safe, and
// writers never wait for readers or for each other. The price: a long-running
// transaction anywhere in the PostgreSQL cluster holds the log back until it ends.
// No NOTIFY is sent: followers poll.
//
// # Async projections
//
// [Store] implements [es.ProjectionStore], so an [es.ProjectionWorker] can run
// async projectors on it, in one process or many. Each projection (or partition
// of one) has a row in projections: its checkpoint (xact_id, position), the
// projector version its tables were built with, and a lease (owner,
// lease_until). [Store.Lease] takes or renews the lease with one upsert on the
// database's clock. [Store.Advance] runs the projector's writes and then the
// checkpoint update in one transaction; the update is fenced
// (WHERE owner = $me AND lease_until > clock_timestamp()), so a worker that lost
// its lease — it stalled, another took over — writes nothing and gets an error
// wrapping [es.ErrLeaseLost]. Each event therefore takes effect once, even when a
// worker is killed mid-batch: its transaction rolls back and the next owner
// starts from the last checkpoint once the lease has expired.
//
// Workers read with [Store.ReadPartition]: the global log under the same
// watermark as ReadLog, for partitioned projectors restricted to the streams
// whose id's last byte modulo the partition count is theirs. [Store.Behind]
// counts what a projection has yet to apply (the lag). Nothing is NOTIFYed:
// workers wake on their own process's commits and poll with backoff otherwise.
//
// # Rebuilds
//
// [Store] implements [es.ReadModelStore], the session through which the
// runtime rebuilds a projector's tables when a higher version is deployed (see
// es, "Changing a read model"); the live tables keep serving reads meanwhile.
// [Store.OpenRebuild] creates a shadow table per table (<table>__rebuild,
// without indexes, its primary key included: COPY into a bare table is fast)
// and records the rebuild in the rebuilds table; [Store.StreamLog] streams the
// events of the projector's types, one statement per chunk; each chunk's
// changed rows are written with COPY in the same transaction as the rebuild's
// progress, so an interrupted rebuild of the same version (another process,
// after a crash) resumes after its last chunk. At the end of the log the
// session builds the primary keys and secondary indexes; the swap is one
// short transaction: it takes the read model's advisory lock exclusively (every
// commit that writes an inline projector's tables holds it shared, taken in the
// commit's first statement), applies the last
// events, drops the live tables, renames the shadows (and their primary keys and
// indexes) into their places, and records the version (for an async projector:
// every partition's checkpoint, whose leases it ends). Readers wait for that
// transaction only, for two seconds at most (then the swap is tried again);
// cached statements of the pool's idle connections are deallocated after it.
// Table names of a rebuilt projector must be at most 54 characters.
//
// # Bulk import
//
// [Store.Import] loads a long history with COPY in one transaction, checked like
// a commit (versions follow on from the stored ones, without gaps).
//
// # Browsing history
//
// [Store] implements [es.BrowseStore], for the event browser and tools: streams
// by their last event (the log walked backwards along its index, or a type's
// streams by an index on streams.type, whichever PostgreSQL estimates cheaper),
// the log newest first (by event type on an index of (type, xact_id, position);
// a time range filters as the log is walked), commands by user, flow, causing
// event and time on indexes of commands, and the events of a command through
// its transaction (a command and its events commit together). Migration 006
// adds these indexes; on a large store create them beforehand with CREATE INDEX
// CONCURRENTLY under the same names, so that the migration keeps them instead
// of blocking commits while it builds them. Each query is built from the
// filters a call sets, so that every variant has a plan on its index.
//
// # View tables
//
// [Views] implements [es.Persistor] with the semantics of memstore.Views:
// CreateTables turns each [es.TableDef] into CREATE TABLE IF NOT EXISTS (text is
// text COLLATE "C", so rows order as Go compares strings; Int is bigint, Float
// double precision, Bool boolean, Time timestamptz, UUID uuid, Bytes bytea, JSON
// jsonb), under an advisory lock, so that processes creating the same tables at
// once do not fail. Rows come back as canonical values ([es.Canonical]); JSON
// columns come back as jsonb renders them (the same JSON value, not necessarily
// the same bytes). Names must be lower-case identifiers and are always quoted;
// values are always parameters. [Store.Views] works on the pool; [NewViews] binds
// view tables to any [Querier], such as a pgx.Tx.
//
// # Errors
//
// Errors read "pgstore: what failed: cause". Callers branch with errors.Is and
// errors.As on the es sentinels and types; the PostgreSQL error stays wrapped.
package pgstore
