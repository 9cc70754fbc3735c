// Package memstore is Consequent's in-memory backend: an [es.EventStore] ([Store])
// and an [es.Persistor] for view tables ([Views]), kept in maps and lost when the
// process exits. It is for specs, examples and prototypes: estest and
// projectortest run on it by default, and an application can start on it before
// it has a database.
//
// # Getting started
//
// Build a store and hand it to the command service; its view tables are
// [Store.Views]:
//
//	store := memstore.New()
//	svc, err := es.NewCommandService(ctx, reg, store, es.Options{})
//	if err != nil { … }
//	res, err := svc.Execute(ctx, OpenAccount{ID: id, Owner: "ann"}) // res.Events: what it stored
//	rows, err := accounts.Find(ctx, store.Views(), es.Where{"owner": "ann"})
//
// A Store is also an [es.ProjectionStore], so async projectors run on it as on
// PostgreSQL:
//
//	worker, err := es.NewProjectionWorker(reg, store, es.WorkerOptions{})
//	if err != nil { … }
//	go worker.Run(ctx)
//
// Moving to PostgreSQL later means building a pgstore.Store there instead; the
// domain, the projectors and their specs stay as they are.
//
// # The semantics it shares with pgstore
//
// Specs that pass here pass on PostgreSQL, because the store keeps the same
// contract; both backends pass estest.TestEventStore:
//
//   - optimistic concurrency per stream: a stale expected version fails with an
//     error wrapping [es.ErrConcurrencyConflict] and writes nothing;
//   - unique keys, claimed and released atomically with the events; a key another
//     stream holds fails with an [*es.UniqueKeyError];
//   - one global order: [Store.ReadLog] reads the log by [es.Cursor], and every
//     commit is one transaction of the log;
//   - events are kept encoded, so every load runs the registry's codec and
//     upcasters as production does; times are kept in canonical precision
//     ([es.CanonicalTime]: UTC, microseconds);
//   - snapshots by schema, command records for the audit trail, deleting a stream
//     with its snapshots and keys;
//   - view tables with canonical values ([es.Canonical]), rows found ordered by
//     primary key, [es.ErrDuplicateRecord] for a taken key; the writes of inline
//     projectors commit with the events, or nothing does;
//   - checkpoints, leases and failures of async projections: a worker that lost
//     its lease writes nothing and gets [es.ErrLeaseLost];
//   - rebuilds of a projector's tables ([es.ReadModelStore]): shadow tables beside
//     the live ones, swapped in under the store's lock, as pgstore does;
//   - browsing ([es.BrowseStore]): streams by their last event, the log newest
//     first, commands by user, flow, cause and time, a command's events.
//
// What it does not do: keep anything across restarts or share data between
// processes.
//
// # Transactions on view tables
//
// [NewViews] gives view tables on their own, for tools and specs of persistors.
// [Views.Begin] starts a transaction ([Tx]) whose writes others see all at once
// on [Tx.Commit]; one never committed leaves no trace. As in PostgreSQL, of two
// transactions that insert one key the second to commit fails with
// [es.ErrDuplicateRecord], and an update changes only the columns it sets.
//
// # Concurrency
//
// [Store] and [Views] are safe for concurrent use; commits are serialised. A [Tx]
// is for one goroutine at a time.
package memstore
